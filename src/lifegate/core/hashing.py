"""Streaming, parallel SHA-256 of artifacts.

``hashlib`` releases the GIL while it hashes a buffer, so a thread per core hashes files in
parallel at close to the machine's SHA-256 limit, reading each file in fixed-size chunks.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lifegate.core.errors import EvidenceError

__all__ = ["FileDigest", "hash_files", "sha256_bytes", "sha256_file", "tree_digest", "walk_files"]

CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """SHA-256 of one file, streamed; unreadable input is an EvidenceError."""
    h = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    try:
        with open(path, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                h.update(view[:n])
    except FileNotFoundError:
        raise EvidenceError(f"file not found: {path}", where=str(path),
                            fix="check the path in the policy or on the command line") from None
    except IsADirectoryError:
        raise EvidenceError(f"expected a file, found a directory: {path}",
                            where=str(path)) from None
    except OSError as exc:
        raise EvidenceError(f"cannot read {path}: {exc.strerror}", where=str(path),
                            fix="check the file's permissions") from None
    return h.hexdigest()


@dataclass(frozen=True)
class FileDigest:
    path: Path
    sha256: str
    size: int


def walk_files(root: Path) -> list[Path]:
    """Regular files under ``root`` (or ``root`` itself), sorted; symlinks are not followed."""
    if root.is_symlink():
        return [root]
    if root.is_file():
        return [root]
    if not root.exists():
        raise EvidenceError(f"path not found: {root}", where=str(root),
                            fix="check the path in the policy or on the command line")
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        found.extend(Path(dirpath) / name for name in filenames)
        found.extend(Path(dirpath) / d for d in dirnames if (Path(dirpath) / d).is_symlink())
    return sorted(found)


def hash_files(
    paths: Iterable[Path], *, workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[FileDigest]:
    """Hash files on all cores; results keep the input order. ``progress`` gets bytes done."""
    files = list(paths)

    def one(p: Path) -> FileDigest:
        if p.is_symlink():
            raise EvidenceError(f"refusing to follow symlink {p}", where=str(p),
                                fix="replace the link with the file it points to")
        digest = sha256_file(p)
        size = p.stat().st_size
        if progress:
            progress(size)
        return FileDigest(p, digest, size)

    if len(files) <= 1:
        return [one(p) for p in files]
    # A few more threads than cores: a core never idles while the last large file is hashed.
    with ThreadPoolExecutor(max_workers=workers or usable_cores() + 2) as pool:
        return list(pool.map(one, files))


def usable_cores() -> int:
    """Cores this process may run on (respects affinity masks, unlike os.cpu_count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def tree_digest(entries: Iterable[tuple[str, str]]) -> str:
    """One digest for a set of (relative path, sha256) pairs, independent of order."""
    lines = "".join(f"{rel}\0{digest}\n" for rel, digest in sorted(entries))
    return sha256_bytes(lines.encode())
