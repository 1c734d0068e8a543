"""Containers: zip (PyTorch, .npz, .keras), tar (plain or compressed) and compressed streams.

Members are streamed straight from the zipfile / tarfile object into the scanner, never
extracted to disk. Every entry is inspected, whatever its name's case, including duplicates
(two loaders may pick different copies). Unsafe names (absolute, ``..``), links, encrypted
or oversized members are findings; nesting deeper than ``max_archive_depth`` stops there.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Final, cast

from lifegate.core.model import Severity
from lifegate.gates._scan_common import CHUNK, FileReport, LimitError, ScanError, Stream

__all__ = ["Limits", "MemberScan", "StopScan", "open_compressed", "scan_tar", "scan_zip"]

MemberScan = Callable[[Stream, str, str, int, str | None], None]
BUFFER_CAP: Final = 64 << 20
_TORCH_META: Final = frozenset({"version", "byteorder", ".format_version", ".storage_alignment",
                                ".data/version", ".data/serialization_id"})
_STORAGE: Final = re.compile(r"data/\d+")
_COMPRESSED_SUFFIXES: Final = (".gz", ".bz2", ".xz", ".lzma", ".z", ".zlib")


class StopScan(ScanError):
    """``max_files`` was exceeded: the whole scan stops."""


@dataclass
class Limits:
    max_depth: int
    max_member_bytes: int
    max_files: int
    seen: int = 0

    def count(self) -> None:
        self.seen += 1
        if self.seen > self.max_files:
            raise StopScan(f"more than {self.max_files} files and archive members "
                           "(max_files); the scan stopped there")

    def enter(self, depth: int) -> None:
        if depth + 1 > self.max_depth:
            raise LimitError(f"archive nested {depth + 1} levels deep, deeper than "
                             f"max_archive_depth={self.max_depth}; its members were not "
                             "inspected", rule="SCAN-DEPTH")


def unsafe_name(name: str) -> str | None:
    """Why an archive member name could escape the extraction folder, or None."""
    n = name.replace("\\", "/")
    if n.startswith("/") or re.match(r"[A-Za-z]:", n):
        return "an absolute path"
    if ".." in n.split("/"):
        return "a '..' component"
    if "\0" in n:
        return "a NUL byte"
    return None


def _check_name(report: FileReport, where: str, name: str) -> None:
    why = unsafe_name(name)
    if why:
        report.add("SCAN-MEMBER-PATH", Severity.HIGH, where, f"{where}: archive member name "
                   f"has {why}; extracting the archive would write outside its folder")


def _torch_roles(names: list[str]) -> dict[str, str]:
    """Storage and metadata members of a PyTorch zip (they hold raw bytes, not pickles), and
    its ``data.pkl`` when the archive has PyTorch's version record beside it (the one pickle
    whose storage persistent ids are accepted, see :mod:`lifegate.gates._scan_torch`)."""
    lowered = [n.lower() for n in names]
    prefixes = {n[: -len("data.pkl")] for n in lowered
                if n == "data.pkl" or n.endswith("/data.pkl")}
    versioned = {p for p in prefixes if {p + "version", p + ".data/version"} & set(lowered)}
    roles: dict[str, str] = {}
    for name, low in zip(names, lowered, strict=True):
        for prefix in prefixes:
            rest = low[len(prefix):] if low.startswith(prefix) else None
            if rest is not None and _STORAGE.fullmatch(rest):
                roles[name] = "storage"
            elif rest in _TORCH_META:
                roles[name] = "meta"
            elif name[len(prefix):] == "data.pkl" and prefix in versioned:
                roles[name] = "torch-pickle"
    return roles


def _zip_skip(report: FileReport, info: zipfile.ZipInfo, where: str, limits: Limits) -> bool:
    """Report what makes a zip member unreadable or unsafe; True when it is not read."""
    if info.is_dir():
        return True
    if stat.S_ISLNK(info.external_attr >> 16):
        report.add("SCAN-LINK-MEMBER", Severity.HIGH, where, f"{where}: archive member is a "
                   "symbolic link; extracting it could redirect later writes")
        return True
    if info.flag_bits & 0x1:
        report.add("SCAN-ENCRYPTED", Severity.HIGH, where, f"{where}: encrypted archive member "
                   "cannot be inspected")
        return True
    return _too_big(report, where, info.file_size, limits)


def scan_zip(report: FileReport, s: Stream, where: str, depth: int, limits: Limits,
             scan: MemberScan) -> None:
    limits.enter(depth)
    report.archives += 1
    raw = s.rewound() or s.buffered(BUFFER_CAP)
    with zipfile.ZipFile(raw) as zf:
        infos = zf.infolist()
        roles = _torch_roles([i.filename for i in infos])
        seen: set[str] = set()
        for info in infos:
            limits.count()
            report.members += 1
            mwhere = f"{where}!{info.filename}"
            _check_name(report, mwhere, info.filename)
            if info.filename in seen:
                report.add("SCAN-DUPLICATE-MEMBER", Severity.HIGH, mwhere, f"{mwhere}: the "
                           "archive holds this name twice; loaders disagree on which they read")
            seen.add(info.filename)
            if _zip_skip(report, info, mwhere, limits):
                continue
            try:
                member = zf.open(info)
            except (NotImplementedError, RuntimeError, zipfile.BadZipFile) as exc:
                report.add("SCAN-CORRUPT", Severity.HIGH, mwhere, f"{mwhere}: member cannot "
                           f"be read: {exc}")
                continue
            with member:
                scan(Stream(member, limit=limits.max_member_bytes, size=info.file_size),
                     info.filename, mwhere, depth + 1, roles.get(info.filename))


def _tar_skip(report: FileReport, m: tarfile.TarInfo, where: str, limits: Limits) -> bool:
    if m.issym() or m.islnk():
        report.add("SCAN-LINK-MEMBER", Severity.HIGH, where, f"{where}: archive member is a "
                   f"link to {m.linkname!r}; extracting it could redirect later writes")
        return True
    if m.isdir():
        return True
    if not m.isfile():
        report.add("SCAN-SPECIAL-FILE", Severity.HIGH, where, f"{where}: archive member is a "
                   "device, FIFO or other special file")
        return True
    return _too_big(report, where, m.size, limits)


def _too_big(report: FileReport, where: str, size: int, limits: Limits) -> bool:
    """One size rule for zip and tar members (a finding, never a crash)."""
    if size > limits.max_member_bytes:
        report.add("SCAN-SIZE", Severity.HIGH, where, f"{where}: member of {size} bytes is "
                   f"larger than max_member_bytes={limits.max_member_bytes}")
        return True
    return False


def scan_tar(report: FileReport, s: Stream, where: str, depth: int, limits: Limits,
             scan: MemberScan) -> None:
    limits.enter(depth)
    report.archives += 1
    raw = s.rewound()
    tf = (tarfile.open(fileobj=raw, mode="r:*") if raw is not None
          else tarfile.open(fileobj=cast(IO[bytes], s), mode="r|*"))
    with tf:
        for m in tf:
            limits.count()
            report.members += 1
            mwhere = f"{where}!{m.name}"
            _check_name(report, mwhere, m.name)
            if _tar_skip(report, m, mwhere, limits):
                continue
            member = tf.extractfile(m)
            if member is None:
                continue
            with member:
                scan(Stream(member, limit=limits.max_member_bytes, size=m.size), m.name,
                     mwhere, depth + 1, None)


class _ZlibRaw(io.RawIOBase):
    """A zlib stream (joblib's default compression), decompressed as it is read."""

    def __init__(self, src: Stream) -> None:
        self._src = src
        self._d = zlib.decompressobj()

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._d.eof:
            data = self._d.unconsumed_tail or self._src.read(CHUNK)
            if not data:
                raise EOFError("the zlib stream ends before its end marker")
            out = self._d.decompress(data, len(buf))
            if out:
                buf[: len(out)] = out
                return len(out)
        return 0


def open_compressed(kind: str, s: Stream) -> IO[bytes]:
    """A decompressing reader over ``s`` (the caller bounds what it yields)."""
    src = cast(IO[bytes], s)
    if kind == "gzip":
        return cast(IO[bytes], gzip.GzipFile(fileobj=src, mode="rb"))
    if kind == "bz2":
        return cast(IO[bytes], bz2.BZ2File(src))
    if kind in ("xz", "lzma"):
        return cast(IO[bytes], lzma.LZMAFile(src))
    return cast(IO[bytes], io.BufferedReader(_ZlibRaw(s), CHUNK))


def inner_name(name: str) -> str:
    lower = name.lower()
    for sfx in _COMPRESSED_SUFFIXES:
        if lower.endswith(sfx):
            return name[: -len(sfx)]
    return name
