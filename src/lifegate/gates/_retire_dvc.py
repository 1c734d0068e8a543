"""DVC cache and local remotes, read as plain folders (no dvc import): content-addressed
objects under ``files/md5/ab/cdef...`` (DVC 3) or ``ab/cdef...`` (DVC 2), and ``.dir``
objects that list a directory output's files by MD5."""

from __future__ import annotations

import json
import os
from pathlib import Path

from lifegate.core.hashing import hash_files

__all__ = ["cache_objects"]


def _objects(root: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in ("runs", "tmp"))  # run cache: metadata
        out += [Path(dirpath) / f for f in filenames]
    return sorted(out)


def _md5_of(obj: Path) -> str:
    """The object's MD5 as DVC names it: the last two path parts joined."""
    return (obj.parent.name + obj.name).removesuffix(".dir")


def cache_objects(root: Path, wanted: dict[str, int]) -> list[tuple[Path, str]]:
    """``(object, sha256)`` of every object whose content has one of the ``wanted`` digests
    (sha256 -> size), plus the ``.dir`` listings that name such an object."""
    if not root.is_dir():
        return []
    objects = _objects(root)
    sizes = set(wanted.values())
    candidates = [p for p in objects if not p.is_symlink() and p.stat().st_size in sizes]
    found = [(d.path, d.sha256) for d in hash_files(candidates) if d.sha256 in wanted]
    md5s = {_md5_of(p) for p, _ in found}
    listings = [p for p in objects if p.name.endswith(".dir") and _lists_any(p, md5s)]
    found += [(d.path, d.sha256) for d in hash_files(listings)]
    return sorted(found)


def _lists_any(listing: Path, md5s: set[str]) -> bool:
    try:
        entries = json.loads(listing.read_text())
        return any(isinstance(e, dict) and e.get("md5") in md5s for e in entries)
    except (OSError, ValueError):
        return False
