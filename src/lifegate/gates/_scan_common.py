"""Shared pieces of LG-SCAN: a bounded stream reader, the scan's internal errors and issues.

Everything here reads bytes and nothing more: no member is written to disk and no payload is
ever deserialised.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import IO, Final

from lifegate.core.model import Severity

__all__ = ["CHUNK", "CorruptError", "FileReport", "Issue", "LimitError", "ScanError", "Stream"]

CHUNK: Final = 1 << 20


class ScanError(Exception):
    """Internal to the scanner: turned into a finding, never raised out of the gate."""


class CorruptError(ScanError):
    """The input is malformed: truncated, a bad header, an unknown opcode."""


class LimitError(ScanError):
    """A configured limit (size, depth) was exceeded; ``rule`` names the finding."""

    def __init__(self, message: str, *, rule: str = "SCAN-SIZE") -> None:
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True)
class Issue:
    """One problem in one file or archive member; the gate turns it into a Finding."""

    rule: str
    severity: Severity
    where: str
    message: str
    blocking: bool = True


@dataclass
class FileReport:
    """What the scan learnt about one top-level file."""

    display: str
    format: str = "unknown"
    size: int = 0
    issues: list[Issue] = field(default_factory=list)
    globals: set[str] = field(default_factory=set)
    pickles: int = 0
    archives: int = 0
    members: int = 0
    streams: list[tuple[str, bytes | None, str | None]] = field(default_factory=list)
    member_formats: dict[str, str] = field(default_factory=dict)

    def add(self, rule: str, severity: Severity, where: str, message: str, *,
            blocking: bool = True) -> None:
        self.issues.append(Issue(rule, severity, where, message, blocking))


def _is_seekable(raw: IO[bytes]) -> bool:
    try:
        return bool(raw.seekable())
    except (AttributeError, OSError, ValueError, TypeError):
        return False


class Stream:
    """A read-only view of a binary stream: exact reads, capped lines, skips and a small
    replayable head for format sniffing.

    ``limit`` caps the bytes taken from the underlying stream (a decompression or archive
    bomb raises :class:`LimitError`); ``size``, when known, lets forward skips seek instead
    of reading.
    """

    def __init__(self, raw: IO[bytes], *, limit: int, size: int | None = None,
                 seekable: bool = True) -> None:
        self.raw = raw
        self.limit = limit
        self.size = size
        self._head = b""
        self._pos = 0
        self._taken = 0
        self.can_seek = seekable and _is_seekable(raw)
        self._origin = raw.tell() if self.can_seek else 0

    def seekable(self) -> bool:
        """As a file object handed to a decompressor or tarfile: forward reads only."""
        return False

    def readable(self) -> bool:
        return True

    def _take(self, n: int) -> bytes:
        if n <= 0:
            return b""
        data = self.raw.read(n)
        self._taken += len(data)
        if self._taken > self.limit:
            raise LimitError(f"more than {self.limit} bytes (max_member_bytes)")
        return data

    def tell(self) -> int:
        return self._pos

    def peek(self, n: int) -> bytes:
        if len(self._head) < n:
            self._head += self._take(n - len(self._head))
        return self._head[:n]

    def at_eof(self) -> bool:
        return self.peek(1) == b""

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer only at the end of the stream)."""
        if n <= len(self._head):
            data, self._head = self._head[:n], self._head[n:]
        else:
            data, self._head = self._head + self._take(n - len(self._head)), b""
        self._pos += len(data)
        return data

    def read_exact(self, n: int, what: str) -> bytes:
        start = self._pos
        data = self.read(n)
        if len(data) != n:
            raise CorruptError(f"truncated: {what} at offset {start} needs {n} bytes, "
                               f"the stream ends after {len(data)}")
        return data

    def readline(self, cap: int) -> bytes:
        """Bytes up to and including the next newline, at most ``cap`` bytes."""
        i = self._head.find(b"\n", 0, cap)
        if i >= 0 or len(self._head) >= cap:
            end = i + 1 if i >= 0 else cap
            return self.read(end)
        line, self._head = self._head, b""
        rest = self.raw.readline(cap - len(line))
        self._taken += len(rest)
        if self._taken > self.limit:
            raise LimitError(f"more than {self.limit} bytes (max_member_bytes)")
        line += rest
        self._pos += len(line)
        return line

    def skip(self, n: int, what: str) -> None:
        """Move ``n`` bytes forward without keeping them; a short stream is corrupt."""
        start = self._pos
        from_head = min(n, len(self._head))
        self._head = self._head[from_head:]
        left = n - from_head
        if left and self.can_seek and self.size is not None:
            here = self.raw.tell() - self._origin
            if here + left > self.size:
                raise CorruptError(f"truncated: {what} at offset {start} needs {n} bytes, "
                                   f"the stream ends after {from_head + self.size - here}")
            self.raw.seek(left, io.SEEK_CUR)
            left = 0
        while left:
            got = len(self._take(min(left, CHUNK)))
            if not got:
                raise CorruptError(f"truncated: {what} at offset {start} needs {n} bytes, "
                                   f"the stream ends after {n - left}")
            left -= got
        self._pos = start + n

    def skip_line(self, what: str) -> int:
        """Skip to just after the next newline; returns the bytes skipped."""
        total = 0
        while True:
            line = self.readline(CHUNK)
            total += len(line)
            if line.endswith(b"\n"):
                return total
            if not line:
                raise CorruptError(f"truncated: {what} has no terminating newline")

    def reopen(self) -> Stream | None:
        """A fresh view of the stream from its start; None if it cannot seek."""
        if not self.can_seek:
            return None
        self.raw.seek(self._origin)
        return Stream(self.raw, limit=self.limit, size=self.size)

    def rewound(self) -> IO[bytes] | None:
        """The underlying stream at its start, for zipfile/tarfile; None if not seekable."""
        if not self.can_seek or self._pos:
            return None
        self.raw.seek(self._origin)
        self._head = b""
        self._taken = 0
        return self.raw

    def buffered(self, cap: int) -> IO[bytes]:
        """The whole remaining stream in memory (for a zip inside a non-seekable stream)."""
        data, self._head = bytearray(self._head), b""
        while chunk := self._take(CHUNK):
            data += chunk
            if len(data) > cap:
                raise LimitError(f"a zip inside a non-seekable stream is larger than {cap} "
                                 "bytes, the most the scanner buffers in memory")
        self._pos += len(data)
        return io.BytesIO(bytes(data))
