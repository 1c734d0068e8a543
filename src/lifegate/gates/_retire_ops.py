"""What a retirement does to files: check them against the plan, overwrite and delete them,
copy them elsewhere, and look for anything left behind. Symlinks are never followed.

Overwriting is a best effort, and the certificate says so: on copy-on-write filesystems (btrfs,
ZFS, APFS), on SSDs (wear levelling, over-provisioning), in snapshots, backups and object
stores the old blocks may survive the overwrite. Only destroying the key of data that was
encrypted at rest (crypto-shredding) reaches those.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from lifegate.core.errors import EvidenceError
from lifegate.core.hashing import hash_files, sha256_file
from lifegate.core.model import Finding, Severity

__all__ = ["Absence", "check_asset", "dispose", "find_remaining", "inside", "transfer"]

CHUNK = 1 << 20
LIMITS = ("Files are overwritten once with random bytes, flushed to disk, then deleted. On "
          "copy-on-write filesystems, SSDs, snapshots, backups and cloud object stores the old "
          "blocks may survive; this certificate proves that no file with a disposed digest "
          "remains in the searched locations, not that the physical media hold no trace.")


def inside(path: Path, roots: list[Path]) -> bool:
    """Is ``path`` (its parent resolved, the last part not followed) under one of ``roots``?"""
    real = Path(os.path.realpath(path.parent)) / path.name
    return any(real == r or r in real.parents for r in roots)


def _f(rule: str, message: str, where: str) -> Finding:
    return Finding(rule=rule, message=message, location=where, severity=Severity.CRITICAL,
                   provision="5.5.1-1")


def check_asset(asset_id: str, path: Path, planned: dict[str, str], roots: list[Path],
                current: dict[str, str] | None) -> list[Finding]:
    """Before anything is touched: the asset lies inside the roots, holds no symlink, and its
    files are exactly those planned (``current`` is None when the path no longer exists)."""
    where = str(path)
    if not inside(path, roots):
        return [_f("RETIRE-OUTSIDE-ROOTS", f"asset {asset_id}: {path} is outside the declared "
                   "roots; nothing outside them is ever touched", where)]
    if current is None:
        return [_f("RETIRE-ASSET-MISSING", f"asset {asset_id}: {path} does not exist", where)]
    out = [_f("RETIRE-SYMLINK", f"asset {asset_id}: {rel} is a symlink; lifegate never follows "
              "links (remove the link by hand, or plan its target as an asset)", where)
           for rel, d in current.items() if d == "symlink"]
    for rel in sorted(current.keys() - planned.keys()):
        out.append(_f("RETIRE-NOT-IN-PLAN", f"asset {asset_id}: {rel} is not in the approved "
                      "plan (regenerate the plan and have it approved again)", where))
    for rel in sorted(planned.keys() - current.keys()):
        out.append(_f("RETIRE-PLANNED-MISSING", f"asset {asset_id}: planned file {rel} is gone",
                      where))
    for rel in sorted(planned.keys() & current.keys()):
        if current[rel] != "symlink" and planned[rel] != current[rel]:
            out.append(_f("RETIRE-CHANGED", f"asset {asset_id}: {rel} changed since the plan "
                          f"was made (digest {current[rel][:12]}, planned "
                          f"{planned[rel][:12]})", where))
    return out


def _overwrite(path: Path) -> None:
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
        raise EvidenceError(f"refusing to overwrite {path}: not a regular file", where=str(path))
    if not st.st_mode & stat.S_IWUSR:
        os.chmod(path, st.st_mode | stat.S_IWUSR, follow_symlinks=False)  # DVC cache: read-only
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
    try:
        left = st.st_size
        while left > 0:
            n = min(left, CHUNK)
            os.write(fd, os.urandom(n))
            left -= n
        os.fsync(fd)
    finally:
        os.close(fd)


def dispose(path: Path) -> int:
    """Overwrite and delete a file, or every file of a folder and then the folder; returns the
    number of files. Safe to repeat after an interruption: what is gone stays gone."""
    if not os.path.lexists(path):
        return 0
    if path.is_symlink() or path.is_file():
        _overwrite(path)
        os.unlink(path)
        return 1
    count = 0
    for dirpath, dirnames, filenames in os.walk(path, topdown=False, followlinks=False):
        for name in filenames:
            _overwrite(Path(dirpath) / name)
            os.unlink(Path(dirpath) / name)
            count += 1
        for name in dirnames:
            os.rmdir(Path(dirpath) / name)
    os.rmdir(path)
    return count


def transfer(source: Path, destination: Path, planned: dict[str, str]) -> dict[str, str]:
    """Copy to ``destination`` (no links followed) and check every digest there; the source is
    disposed only after this returns. Returns the digests found at the destination."""
    single = list(planned) == ["."]
    for rel in planned:
        src = source if single else source / rel
        dst = destination if single else destination / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not (dst.exists() and sha256_file(dst) == planned[rel]):
            shutil.copyfile(src, dst, follow_symlinks=False)
    found = {rel: sha256_file(destination if single else destination / rel) for rel in planned}
    bad = [rel for rel in planned if found[rel] != planned[rel]]
    if bad:
        raise EvidenceError(f"transfer to {destination} could not be verified: "
                            f"{', '.join(bad)} differ", where=str(destination),
                            fix="check the destination's storage; the source was kept")
    return found


@dataclass
class Absence:
    searched: list[str]
    files_seen: int = 0
    files_hashed: int = 0
    remaining: list[dict[str, str]] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return not self.remaining


def find_remaining(places: list[Path], disposed: dict[str, int],
                   retained: set[Path]) -> Absence:
    """Every regular file under ``places`` whose size matches a disposed file is hashed; any
    with a disposed digest is reported. Retained assets are skipped by path."""
    result = Absence(searched=[str(p) for p in places])
    sizes = set(disposed.values())
    candidates: list[Path] = []
    for root in places:
        for path in _walk(root):
            result.files_seen += 1
            if any(path == r or r in path.parents for r in retained):
                continue
            if path.stat(follow_symlinks=False).st_size in sizes:
                candidates.append(path)
    result.files_hashed = len(candidates)
    for d in hash_files(candidates):
        if d.sha256 in disposed:
            result.remaining.append({"path": str(d.path), "sha256": d.sha256})
    return result


def _walk(root: Path) -> list[Path]:
    if root.is_symlink() or not root.exists():
        return []
    if root.is_file():
        return [root]
    out = []
    for dirpath, _, filenames in os.walk(root, followlinks=False):
        out += [p for p in (Path(dirpath) / f for f in filenames)
                if stat.S_ISREG(os.lstat(p).st_mode)]
    return out
