"""Streaming, parallel SHA-256 of artifacts.

``hashlib`` releases the GIL while it hashes a buffer, so one thread per core hashes in
parallel. The threads take turns on the files a slice at a time (see :func:`hash_files`),
each slice mapped rather than copied, which keeps every core busy to the end even when a few
large files make up most of the bytes: close to the machine's SHA-256 limit.
"""

from __future__ import annotations

import errno
import hashlib
import heapq
import io
import mmap
import os
import stat
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lifegate.core.errors import EvidenceError

__all__ = ["FileDigest", "hash_files", "regular_files", "sha256_bytes", "sha256_file",
           "subject_digest", "subject_name", "tree_digest", "walk_files"]

CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def unreadable(path: Path, exc: OSError) -> EvidenceError:
    """The clear error for a file that cannot be read: missing, a directory, or refused."""
    if isinstance(exc, FileNotFoundError):
        return EvidenceError(f"file not found: {path}", where=str(path),
                             fix="check the path in the policy or on the command line")
    if isinstance(exc, IsADirectoryError):
        return EvidenceError(f"expected a file, found a directory: {path}", where=str(path))
    return EvidenceError(f"cannot read {path}: {exc.strerror}", where=str(path),
                         fix="check the file's permissions")


def sha256_file(path: Path) -> str:
    """SHA-256 of one file, streamed; unreadable input is an EvidenceError."""
    h = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    try:
        with open(path, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                h.update(view[:n])
    except OSError as exc:
        raise unreadable(path, exc) from None
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
    """Hash files on all cores; results keep the input order. ``progress`` gets bytes done.

    One thread per core takes turns on the files a slice (``SLICE`` bytes) at a time, always
    the free file with the most bytes left; a file's slices run in order, one thread at a time,
    on its one SHA-256 state. So three large files on two cores finish together, as fast as the
    cores hash, even while other work in the process takes a share of one core; and every
    digest is the file's plain SHA-256.
    """
    files = list(paths)
    for p in files:
        if p.is_symlink():
            raise EvidenceError(f"refusing to follow symlink {p}", where=str(p),
                                fix="replace the link with the file it points to")
    states = [_FileState(p, _size(p)) for p in files]
    threads = min(workers or usable_cores(), len(states))
    queue = _SliceQueue(states)
    if threads <= 1:
        queue.work(progress)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for done in [pool.submit(queue.work, progress) for _ in range(threads)]:
                done.result()
    return [FileDigest(st.path, st.hexdigest(), st.size) for st in states]


# Bytes of one file hashed per turn: small enough that the files' last bytes end together,
# large enough that taking turns costs nothing measurable.
SLICE = 16 << 20


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise unreadable(path, exc) from None


class _FileState:
    """One file's SHA-256 state and how far it got; one thread at a time advances it."""

    def __init__(self, path: Path, size: int) -> None:
        self.path, self.size = path, size
        self.hash = hashlib.sha256()
        self.done = 0
        self.changed = False

    def hexdigest(self) -> str:
        if self.changed or self.done != self.size:
            raise EvidenceError(f"{self.path} changed while it was hashed", where=str(self.path),
                                fix="hash it again when nothing writes to it")
        return self.hash.hexdigest()

    def advance(self) -> int:
        """Hash the next slice; return its length (0: the file is not the size it was listed
        with, so the digest will be refused). The size is checked before every slice and
        after the last one."""
        try:
            with open(self.path, "rb", buffering=0) as f:
                if os.fstat(f.fileno()).st_size != self.size:
                    self.changed = True
                    return 0
                end = min(self.done + SLICE, self.size)
                if end > self.done:
                    _hash_range(self.hash, f, self.done, end)
                if end == self.size and os.fstat(f.fileno()).st_size != self.size:
                    self.changed = True  # grew (or shrank) while its last slice was hashed
        except OSError as exc:
            raise unreadable(self.path, exc) from None
        step = end - self.done
        self.done = end
        return step


def _hash_range(h: hashlib._Hash, f: io.FileIO, start: int, end: int) -> None:
    """Feed bytes ``start:end`` of ``f`` to ``h``: through a read-only mapping, so the bytes
    are hashed where the page cache holds them, in one update that holds no GIL; through
    reads where the file cannot be mapped. The caller checked the file's size just before: a
    file cut shorter in the instant between stops the process (SIGBUS), never a wrong digest."""
    try:
        m = mmap.mmap(f.fileno(), end - start, access=mmap.ACCESS_READ, offset=start)
    except (OSError, ValueError):
        f.seek(start)
        while start < end and (chunk := f.read(min(CHUNK, end - start))):
            h.update(chunk)
            start += len(chunk)
        if start < end:
            raise OSError(errno.EIO, "the file ended early") from None
        return
    with m, memoryview(m) as view:
        h.update(view)


class _SliceQueue:
    """The files not being hashed right now, the one with the most bytes left first."""

    def __init__(self, states: list[_FileState]) -> None:
        self._lock = threading.Lock()
        self._free = [(-st.size, i, st) for i, st in enumerate(states)]
        heapq.heapify(self._free)
        self._failed = False

    def work(self, progress: Callable[[int], None] | None) -> None:
        while True:
            with self._lock:
                if self._failed or not self._free:
                    return
                _, i, st = heapq.heappop(self._free)
            try:
                step = st.advance()
            except BaseException:
                self._failed = True
                raise
            if progress and step:
                progress(step)
            if st.done < st.size and step and not st.changed:
                with self._lock:
                    heapq.heappush(self._free, (st.done - st.size, i, st))


def usable_cores() -> int:
    """Cores this process may run on (respects affinity masks, unlike os.cpu_count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def tree_digest(entries: Iterable[tuple[str, str]]) -> str:
    """One digest for a set of (relative path, sha256) pairs, independent of order: the
    SHA-256 of the lines ``<path>\\0<sha256>\\n``, sorted. A folder's subject digest is this
    over its files (:func:`subject_digest`)."""
    lines = "".join(f"{rel}\0{digest}\n" for rel, digest in sorted(entries))
    return sha256_bytes(lines.encode())


# -- what a verdict is about: one name and one digest per file or folder ----------------------


def subject_name(path: Path, base: Path) -> str:
    """The name every gate gives ``path`` in its subjects: the path relative to ``base`` (the
    policy's folder) in POSIX form, normalised (no ``.``, ``..`` or trailing ``/``); a path
    outside ``base`` keeps its normalised absolute form. Links are not resolved unless only
    the resolved paths relate (``base`` itself reached through a link)."""
    p = Path(os.path.normpath(os.path.abspath(path)))
    b = Path(os.path.normpath(os.path.abspath(base)))
    for candidate, root in ((p, b), (p.resolve(), b.resolve())):
        try:
            return candidate.relative_to(root).as_posix()
        except ValueError:
            continue
    return p.as_posix()


def regular_files(root: Path) -> list[Path]:
    """The files under ``root`` (or ``root`` itself), sorted; a symlink or a special file
    (FIFO, socket, device) among them is an EvidenceError: it is never followed or read."""
    files = walk_files(root)
    for p in files:
        mode = os.lstat(p).st_mode
        if stat.S_ISLNK(mode):
            raise EvidenceError(f"refusing to follow symlink {p}", where=str(p),
                                fix="replace the link with the file it points to")
        if not stat.S_ISREG(mode):
            raise EvidenceError(f"{p} is not a regular file (a FIFO, socket or device)",
                                where=str(p), fix="remove it, or name another path")
    return files


def subject_digest(path: Path, known: Mapping[str, str] | None = None) -> str:
    """The digest every gate records for ``path``.

    A file: the SHA-256 of its bytes. A folder: the *tree digest*, the SHA-256 of one line
    ``<relative path>\\0<sha256 of the file>\\n`` per regular file under it, paths in POSIX
    form relative to the folder, lines sorted (see :func:`tree_digest`): it does not depend on
    where the folder lives, only on the names and bytes of its files. An empty folder is
    the SHA-256 of nothing. Symlinks and special files are refused (EvidenceError).

    ``known`` holds SHA-256 digests a caller has just computed, by path relative to ``path``
    (``"."`` for a file): they are used instead of reading those files again.
    """
    known = known or {}
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        regular_files(path)  # refuses a link or a special file
        return known.get(".") or sha256_file(path)
    files = regular_files(path)
    rels = [f.relative_to(path).as_posix() for f in files]
    fresh = {d.path: d.sha256 for d in hash_files([f for f, r in zip(files, rels, strict=True)
                                                   if r not in known])}
    return tree_digest((r, known.get(r) or fresh[f]) for f, r in zip(files, rels, strict=True))
