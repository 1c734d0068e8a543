"""MD5 (to compare with dvc.lock) and SHA-256 (the evidence) of tracked files, in one read.

A digest from the previous signed LG-RELEASE record is reused only when the file's size,
mtime_ns, ctime_ns and inode all still match, and the file had been stable for
:data:`RACY_NS` before that record hashed it (the "racily clean" case git also guards
against: a write within the same timestamp tick leaves mtime unchanged). Everything else is
hashed again. ctime cannot be set back by a user the way mtime can (``os.utime``).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lifegate.core import progress
from lifegate.core.errors import EvidenceError
from lifegate.core.hashing import usable_cores

__all__ = ["RACY_NS", "Digests", "FileFacts", "dir_md5"]

CHUNK = 1 << 20
BIG = 64 << 20  # from this size, MD5 and SHA-256 of one file run on two cores
RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class FileFacts:
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    md5: str
    sha256: str

    def same_file(self, st: os.stat_result) -> bool:
        return (self.size, self.mtime_ns, self.ctime_ns, self.inode) == (
            st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def dir_md5(entries: Iterable[tuple[str, str]]) -> str:
    """DVC 3's directory hash: MD5 of its sorted JSON listing of (relpath, md5), plus .dir."""
    listing = sorted(({"md5": md5, "relpath": rel} for rel, md5 in entries),
                     key=lambda e: e["relpath"])
    body = json.dumps(listing, sort_keys=True).encode("utf-8")
    return hashlib.md5(body, usedforsecurity=False).hexdigest() + ".dir"


def _read_both(path: Path, size: int, helper: ThreadPoolExecutor | None) -> tuple[str, str]:
    md5 = hashlib.md5(usedforsecurity=False)
    sha = hashlib.sha256()
    bufs = (bytearray(CHUNK), bytearray(CHUNK))
    i = 0
    pending: Future[None] | None = None
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(bufs[i]):
            view = memoryview(bufs[i])[:n]
            if helper is not None and size >= BIG:
                pending = helper.submit(md5.update, view)
                sha.update(view)
                pending.result()  # the other buffer is free again before the next read
            else:
                md5.update(view)
                sha.update(view)
            i ^= 1
    return md5.hexdigest(), sha.hexdigest()


def _hash_one(path: Path, st: os.stat_result, helper: ThreadPoolExecutor | None) -> FileFacts:
    try:
        md5, sha = _read_both(path, st.st_size, helper)
        after = os.lstat(path)
    except OSError as exc:
        raise EvidenceError(f"cannot read {path}: {exc.strerror}", where=str(path),
                            fix="check the file's permissions") from None
    facts = FileFacts(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, md5, sha)
    if not facts.same_file(after):
        raise EvidenceError(f"{path} changed while it was hashed", where=str(path),
                            fix="run the release check again when the pipeline is idle")
    return facts


class Digests:
    """Digests of files under ``root`` by relative path, reusing ``previous`` when safe."""

    def __init__(self, root: Path, previous: dict[str, dict[str, Any]] | None = None,
                 previous_checked_at_ns: int = 0) -> None:
        self.root = root
        self.previous = previous or {}
        self.stable_before = previous_checked_at_ns - RACY_NS
        self.facts: dict[str, FileFacts] = {}
        self.reused = 0
        self.hashed = 0
        self.checked_at_ns = 0

    def _reusable(self, rel: str, st: os.stat_result) -> FileFacts | None:
        prev = self.previous.get(rel)
        if prev is None:
            return None
        try:
            facts = FileFacts(**prev)
        except TypeError:
            return None
        if facts.ctime_ns >= self.stable_before or not facts.same_file(st):
            return None
        return facts

    def digest(self, rels: list[str], on_symlink: Callable[[str], None]) -> None:
        """Stat every file once; hash the ones that cannot be reused, on all cores."""
        self.checked_at_ns = time.time_ns()
        todo: list[tuple[str, os.stat_result]] = []
        for rel in rels:
            if rel in self.facts:
                continue
            st = os.lstat(self.root / rel)
            if stat.S_ISLNK(st.st_mode):
                on_symlink(rel)
                continue
            reused = self._reusable(rel, st)
            if reused is not None:
                self.facts[rel] = reused
                self.reused += 1
            else:
                todo.append((rel, st))
        self._hash(todo)

    def _hash(self, todo: list[tuple[str, os.stat_result]]) -> None:
        total = sum(st.st_size for _, st in todo)
        workers = usable_cores() + 2
        with progress.task("hashing DVC-tracked files", total) as advance, \
                ThreadPoolExecutor(max_workers=workers) as pool, \
                ThreadPoolExecutor(max_workers=max(1, workers // 2)) as helper:
            def one(item: tuple[str, os.stat_result]) -> tuple[str, FileFacts]:
                rel, st = item
                facts = _hash_one(self.root / rel, st, helper)
                advance(st.st_size)
                return rel, facts

            for rel, facts in pool.map(one, todo):
                self.facts[rel] = facts
        self.hashed += len(todo)

    def as_details(self) -> dict[str, dict[str, Any]]:
        return {rel: asdict(f) for rel, f in sorted(self.facts.items())}
