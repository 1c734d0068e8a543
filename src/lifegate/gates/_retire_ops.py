"""What a retirement does to files: check them against the plan, overwrite and delete them,
copy them elsewhere, and look for anything left behind. Symlinks are never followed.

Overwriting is a best effort, and the certificate says so: on copy-on-write filesystems (btrfs,
ZFS, APFS), on SSDs (wear levelling, over-provisioning), in snapshots, backups and object
stores the old blocks may survive the overwrite. Only destroying the key of data that was
encrypted at rest (crypto-shredding) reaches those.
"""

from __future__ import annotations

import errno
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
    """Is ``path`` (its parent resolved, the last part not followed) under one of ``roots``
    (resolved the same way)?"""
    real = Path(os.path.realpath(path.parent)) / path.name
    real_roots = [Path(os.path.realpath(r.parent)) / r.name for r in roots]
    return any(real == r or r in real.parents for r in real_roots)


def holder(path: Path, roots: list[Path]) -> Path | None:
    """The declared root that holds ``path`` as written (no link resolved), if any."""
    return next((r for r in roots if path == r or r in path.parents), None)


def linked_component(path: Path, start: Path) -> Path | None:
    """The first part of ``path`` below ``start`` (``path`` itself included) that is a
    symlink; ``start`` and what lies above it are not looked at."""
    current = start
    for part in path.relative_to(start).parts:
        current = current / part
        if current.is_symlink():
            return current
    return None


def check_places(base: Path, places: list[tuple[str, Path]]) -> list[Finding]:
    """A declared root (or search place) must not be a symlink, nor lie below a symlinked
    folder inside the project (``base``): a retirement never reaches files through a link."""
    out = []
    for label, place in places:
        start = base if base in place.parents else place.parent
        link = linked_component(place, start)
        if link is not None:
            out.append(_f("RETIRE-ROOT-SYMLINK", f"{label} {place}: {link} is a symlink (to "
                          f"{os.readlink(link)}); lifegate never reaches files through a link. "
                          "Declare the real folder as the root, after checking that it is "
                          "what you mean to retire", str(place)))
    return out


def _f(rule: str, message: str, where: str) -> Finding:
    return Finding(rule=rule, message=message, location=where, severity=Severity.CRITICAL,
                   provision="5.5.1-2")  # the checks before a disposal (LG-RETIRE)


def check_asset(asset_id: str, path: Path, planned: dict[str, str], roots: list[Path],
                current: dict[str, str] | None) -> list[Finding]:
    """Before anything is touched: the asset lies inside the declared ``roots`` with no link
    on the way, holds no symlink, and its files are exactly those planned (``current`` is
    None when the path no longer exists)."""
    where = str(path)
    root = holder(path, roots)
    if root is None or not inside(path, roots):
        return [_f("RETIRE-OUTSIDE-ROOTS", f"asset {asset_id}: {path} is outside the declared "
                   "roots; nothing outside them is ever touched", where)]
    link = linked_component(path.parent, root) if path != root else None
    if link is not None:
        return [_f("RETIRE-SYMLINK", f"asset {asset_id}: {link} on the way to {path} is a "
                   "symlink; lifegate never follows links (plan the real path)", where)]
    if current is None:
        return [_f("RETIRE-ASSET-MISSING", f"asset {asset_id}: {path} does not exist", where)]
    return _compare(asset_id, where, planned, current)


def _compare(asset_id: str, where: str, planned: dict[str, str], current: dict[str, str]
             ) -> list[Finding]:
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


_NOFOLLOW = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_DIR = os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW


def _refuse(path: str, why: str) -> EvidenceError:
    return EvidenceError(f"refusing to dispose of {path}: {why}", where=path,
                         fix="lifegate never follows links; check what changed since the "
                         "preflight, then run the retirement again")


def _overwrite(name: str, dir_fd: int, shown: str) -> None:
    """Overwrite a regular file once with random bytes and fsync it; the file is opened
    relative to its folder and never through a link."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW, dir_fd=dir_fd)
    except OSError as exc:
        raise _refuse(shown, "it is a symlink" if exc.errno == errno.ELOOP
                      else exc.strerror or str(exc)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(shown, "not a regular file")
        if not st.st_mode & stat.S_IWUSR:
            os.fchmod(fd, st.st_mode | stat.S_IWUSR)  # DVC cache objects are read-only
        wfd = os.open(name, os.O_WRONLY | _NOFOLLOW, dir_fd=dir_fd)
    finally:
        os.close(fd)
    try:
        if not os.path.samestat(st, os.fstat(wfd)):
            raise _refuse(shown, "it was replaced while being opened")
        left = st.st_size
        while left > 0:
            n = min(left, CHUNK)
            os.write(wfd, os.urandom(n))
            left -= n
        os.fsync(wfd)
    finally:
        os.close(wfd)


def _open_below(root: Path, parts: tuple[str, ...], *, follow_root: bool = False) -> int:
    """A descriptor of the folder ``root/parts...``, each part opened without following a
    link (``root`` itself neither, unless ``follow_root``: the folder above a root)."""
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY if follow_root else _DIR)
    except OSError as exc:
        raise _refuse(str(root), f"the root cannot be opened as a folder without following "
                      f"a link ({exc.strerror})") from None
    for i, part in enumerate(parts):
        try:
            nxt = os.open(part, _DIR, dir_fd=fd)
        except OSError as exc:
            shown = str(root.joinpath(*parts[:i + 1]))
            raise _refuse(shown, f"not a real folder ({exc.strerror})") from None
        finally:
            os.close(fd)
        fd = nxt
    return fd


def _dispose_tree(dir_fd: int, name: str, shown: str) -> int:
    count = 0
    top = os.open(name, _DIR, dir_fd=dir_fd)
    try:
        for dirpath, dirnames, filenames, fd in os.fwalk(".", topdown=False, dir_fd=top,
                                                         follow_symlinks=False):
            for f in filenames:
                _overwrite(f, fd, f"{shown}/{dirpath}/{f}")
                os.unlink(f, dir_fd=fd)
                count += 1
            for d in dirnames:
                if stat.S_ISLNK(os.lstat(d, dir_fd=fd).st_mode):
                    raise _refuse(f"{shown}/{dirpath}/{d}", "it is a symlink")
                os.rmdir(d, dir_fd=fd)
    finally:
        os.close(top)
    return count


def dispose(path: Path, root: Path) -> int:
    """Overwrite and delete a file, or every file of a folder and then the folder; returns the
    number of files. ``path`` lies inside the declared ``root``; every part from the root down
    is opened without following a link, so a link put in place after the preflight makes the
    run fail instead of deleting what it points to. Safe to repeat: what is gone stays gone."""
    parts = path.relative_to(root).parts
    if parts:
        parent = _open_below(root, parts[:-1])
    else:  # the asset is the root itself
        parts = (root.name,)
        parent = _open_below(root.parent, (), follow_root=True)
    try:
        try:
            mode = os.lstat(parts[-1], dir_fd=parent).st_mode
        except FileNotFoundError:
            return 0
        if stat.S_ISDIR(mode):
            count = _dispose_tree(parent, parts[-1], str(path))
            os.rmdir(parts[-1], dir_fd=parent)
            return count
        if not stat.S_ISREG(mode):
            raise _refuse(str(path), "not a regular file or folder (a link or special file)")
        _overwrite(parts[-1], parent, str(path))
        os.unlink(parts[-1], dir_fd=parent)
        return 1
    finally:
        os.close(parent)


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
