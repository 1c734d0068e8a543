"""The LG-SCAN engine: name each stream's format, check it, recurse into containers.

Every path ends in a verdict: a format that carries no code and checks out, a pickle whose
globals are all allowed, or an issue. Malformed input is an issue, never an exception out of
the scan, and nothing is ever deserialised.
"""

from __future__ import annotations

import lzma
import os
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from lifegate.core.model import Severity
from lifegate.gates._scan_allow import Allowlist, danger
from lifegate.gates._scan_archive import (
    Limits,
    StopScan,
    inner_name,
    open_compressed,
    scan_tar,
    scan_zip,
)
from lifegate.gates._scan_common import CorruptError, FileReport, LimitError, Stream
from lifegate.gates._scan_formats import (
    HEAD,
    SIMPLE_FORMATS,
    check_simple,
    read_npy_header,
    sniff,
)
from lifegate.gates._scan_pickle import PickleResult, PickleWalker
from lifegate.gates._scan_torch import (
    LEGACY_OBJECT_PICKLE,
    TORCH_LEGACY_MAGIC,
    describe,
    is_storage_pid,
)

__all__ = ["ScanConfig", "Scanner"]

TORCH_LEGACY_PICKLES: Final = 5  # magic, protocol, sys info, the model, storage keys
MAX_MEMBER_FORMATS: Final = 200
MAX_STACKED: Final = 64
_READ_ERRORS: Final = (OSError, EOFError, ValueError, struct.error, zlib.error,
                       lzma.LZMAError, zipfile.BadZipFile, tarfile.TarError,
                       NotImplementedError, RuntimeError)
_Handler = Callable[[FileReport, Stream, str, str, int, str], str | None]


@dataclass(frozen=True)
class ScanConfig:
    allow: Allowlist
    allow_unknown: bool
    allow_empty: bool
    tee_limit: int
    max_depth: int
    max_member_bytes: int
    max_files: int


class Scanner:
    def __init__(self, config: ScanConfig) -> None:
        self.c = config
        self.limits = Limits(config.max_depth, config.max_member_bytes, config.max_files)
        self.stopped = False
        self._handlers: dict[str, _Handler] = {
            "pickle": self._pickles, "zip": self._zip, "tar": self._tar, "npy": self._npy,
            "gzip": self._compressed, "bz2": self._compressed, "xz": self._compressed,
            "lzma": self._compressed, "zlib": self._compressed, "lz4": self._unsupported,
            "joblib-zfile": self._unsupported, "tensor-data": self._probe,
            "torch-metadata": self._meta, "unknown": self._probe, "empty": self._empty,
            **{kind: self._simple for kind in SIMPLE_FORMATS},
        }

    def scan_file(self, path: Path, display: str) -> FileReport:
        report = FileReport(display)
        try:
            self.limits.count()
            with open(path, "rb") as f:
                size = report.size = os.fstat(f.fileno()).st_size
                report.format = self._scan(report, Stream(f, limit=size, size=size), display,
                                           display, 0)
        except StopScan as exc:
            self.stopped = True
            report.add("SCAN-FILES", Severity.HIGH, display, f"{display}: {exc}")
        return report

    def _scan(self, report: FileReport, s: Stream, name: str, where: str, depth: int,
              role: str | None = None) -> str:
        fmt = {"storage": "tensor-data", "meta": "torch-metadata"}.get(role or "", "unknown")
        try:
            if role in (None, "torch-pickle"):
                head = s.peek(HEAD)
                fmt = sniff(name, head) if head else "empty"
            if fmt == "pickle" and role == "torch-pickle":
                self._report_pickles(report, where, self._walk_stack(s), torch_zip=True)
            else:
                fmt = self._handlers[fmt](report, s, name, where, depth, fmt) or fmt
        except LimitError as exc:
            report.add(exc.rule, Severity.HIGH, where, f"{where}: {exc}")
        except CorruptError as exc:
            report.add("SCAN-CORRUPT", Severity.HIGH, where, f"{where}: corrupt {fmt} "
                       f"data: {exc}")
        except _READ_ERRORS as exc:
            report.add("SCAN-CORRUPT", Severity.HIGH, where, f"{where}: corrupt {fmt} "
                       f"data: {type(exc).__name__}: {exc}")
        if where != report.display and len(report.member_formats) < MAX_MEMBER_FORMATS:
            report.member_formats[where[len(report.display) + 1:]] = fmt
        return fmt

    def _member(self, report: FileReport) -> Callable[[Stream, str, str, int, str | None],
                                                      None]:
        def scan(s: Stream, name: str, where: str, depth: int, role: str | None) -> None:
            self._scan(report, s, name, where, depth, role)
        return scan

    # -- containers ------------------------------------------------------------------------

    def _zip(self, report: FileReport, s: Stream, name: str, where: str, depth: int,
             fmt: str) -> str | None:
        scan_zip(report, s, where, depth, self.limits, self._member(report))
        return None

    def _tar(self, report: FileReport, s: Stream, name: str, where: str, depth: int,
             fmt: str) -> str | None:
        scan_tar(report, s, where, depth, self.limits, self._member(report))
        return None

    def _compressed(self, report: FileReport, s: Stream, name: str, where: str, depth: int,
                    fmt: str) -> str | None:
        self.limits.enter(depth)
        report.archives += 1
        if fmt == "bz2":  # "BZh" is also a valid pickle start (BINBYTES): read it both ways
            s = self._bz2_as_pickle(report, s, where)
        inner = Stream(open_compressed(fmt, s), limit=self.c.max_member_bytes, seekable=False)
        inner_fmt = self._scan(report, inner, inner_name(name), f"{where}!<{fmt}>", depth + 1)
        return f"{fmt}:{inner_fmt}"

    def _bz2_as_pickle(self, report: FileReport, s: Stream, where: str) -> Stream:
        probe = s.reopen()
        if probe is None:
            return s
        results = self._walk_stack(probe)
        if results[0].refs and results[0].calls:
            self._report_pickles(report, f"{where} (read as a pickle)", results)
        return s.reopen() or s

    def _unsupported(self, report: FileReport, s: Stream, name: str, where: str, depth: int,
                     fmt: str) -> str | None:
        report.add("SCAN-UNSUPPORTED", Severity.HIGH, where, f"{where}: {fmt} compression "
                   "cannot be inspected by the scanner; re-save the file uncompressed or with "
                   "zlib, gzip, bz2 or xz")
        return None

    # -- pickles ---------------------------------------------------------------------------

    def _walk_stack(self, s: Stream) -> list[PickleResult]:
        """The pickles stored one after another (a legacy PyTorch file holds five)."""
        results: list[PickleResult] = []
        while True:
            results.append(PickleWalker(s, tee_limit=self.c.tee_limit).walk())
            if results[-1].error or s.at_eof():
                return results
            if results[0].value == TORCH_LEGACY_MAGIC and \
                    len(results) == TORCH_LEGACY_PICKLES:
                return results  # raw storage bytes follow
            if len(results) == MAX_STACKED:
                results.append(PickleResult(start=s.tell(), error=f"more than {MAX_STACKED} "
                                            "pickles back to back; the rest was not read"))
                return results

    def _pickles(self, report: FileReport, s: Stream, name: str, where: str, depth: int,
                 fmt: str) -> str | None:
        self._report_pickles(report, where, self._walk_stack(s))
        return None

    def _report_pickles(self, report: FileReport, where: str, results: list[PickleResult],
                        *, torch_zip: bool = False) -> None:
        legacy = results[0].value == TORCH_LEGACY_MAGIC and type(results[0].value) is int
        for i, r in enumerate(results):
            label = where if i == 0 else f"{where}@{r.start}"
            if i and r.error:
                report.add("SCAN-TRAILING", Severity.HIGH, label, f"{label}: the data after "
                           f"the pickle's STOP is not a pickle ({r.error}); a loader that "
                           "reads on (a polyglot file) would see it")
                r.error = None
            torch = "zip" if torch_zip and i == 0 else \
                "legacy" if legacy and i == LEGACY_OBJECT_PICKLE else None
            self._report_stream(report, label, r, torch)

    def _report_persids(self, report: FileReport, label: str, r: PickleResult,
                        torch: str | None) -> None:
        for p in r.persids:
            if torch and p.opcode == "BINPERSID" and \
                    is_storage_pid(p.pid, legacy=torch == "legacy"):
                continue
            report.add("SCAN-PERSID", Severity.HIGH, label, f"{label}: {p.opcode} at offset "
                       f"{p.offset} hands {describe(p.pid)} to the loader's persistent_load, "
                       "which may turn it into any call; only PyTorch storage references in a "
                       "PyTorch checkpoint are accepted (docs/scanning.md)")

    def _report_stream(self, report: FileReport, label: str, r: PickleResult,
                       torch: str | None = None) -> None:
        report.pickles += 1
        self._report_persids(report, label, r, torch)
        for ref in r.refs.values():
            full = f"{ref.module}.{ref.name}"
            report.globals.add(full)
            if self.c.allow.allows(ref.module, ref.name):
                continue
            written = f" (written as {ref.written})" if ref.written else ""
            profile = self.c.allow.unselected_profile(ref.module, ref.name)
            hint = f"; the '{profile}' profile allows it (settings.profiles)" if profile \
                else ""
            report.add("SCAN-GLOBAL", danger(ref.module, ref.name), label,
                       f"{label}: pickle imports {full}{written} ({ref.opcode} at offset "
                       f"{ref.offset}), which is not on the allowlist; loading the file "
                       f"would call it{hint}")
        for p in r.problems:
            report.add(p.rule, Severity.CRITICAL if p.critical else Severity.HIGH, label,
                       f"{label}: {p.message}")
        if r.error and r.limit_rule:
            report.add(r.limit_rule, Severity.HIGH, label, f"{label}: {r.error}")
        elif r.error:
            report.add("SCAN-CORRUPT", Severity.HIGH, label, f"{label}: corrupt pickle: "
                       f"{r.error}")
        report.streams.append((label, r.normalized, r.note))
        for nested in r.nested:
            self._report_stream(report, f"{label}@{nested.start}", nested)

    def _probe(self, report: FileReport, s: Stream, name: str, where: str, depth: int,
               fmt: str) -> str | None:
        """Unknown data (or raw tensor bytes) that may still be a pickle under another name:
        a complete pickle, or one that imports and calls before it breaks, is one."""
        results = self._walk_stack(s)
        first = results[0]
        if first.error is None or (first.refs and first.calls):
            self._report_pickles(report, where, results)
            return "pickle"
        if fmt == "unknown":
            self._unknown(report, where)
        return None

    def _empty(self, report: FileReport, s: Stream, name: str, where: str, depth: int,
               fmt: str) -> str | None:
        if self.c.allow_empty:
            report.add("SCAN-EMPTY-FILE", Severity.INFO, where, f"{where}: empty (0 bytes), "
                       "accepted by allow_empty_files", blocking=False)
            return None
        report.add("SCAN-EMPTY-FILE", Severity.MEDIUM, where, f"{where}: empty (0 bytes); no "
                   "model format is empty, so the save or copy that made it likely failed; "
                   "remove it, or set allow_empty_files")
        return None

    def _unknown(self, report: FileReport, where: str) -> None:
        if self.c.allow_unknown:
            report.add("SCAN-UNKNOWN-FORMAT", Severity.INFO, where, f"{where}: unknown format, "
                       "accepted by allow_unknown_formats", blocking=False)
            return
        report.add("SCAN-UNKNOWN-FORMAT", Severity.HIGH, where, f"{where}: unknown format (not "
                   "recognised by extension or magic bytes); set allow_unknown_formats or "
                   "convert to safetensors")

    # -- formats without code --------------------------------------------------------------

    def _npy(self, report: FileReport, s: Stream, name: str, where: str, depth: int,
             fmt: str) -> str | None:
        header = read_npy_header(s)
        if header.has_object:
            report.add("SCAN-NPY-OBJECT", Severity.HIGH, where, f"{where}: numpy array of "
                       f"dtype {header.descr!r} holds Python objects stored as a pickle; "
                       "numpy.load runs it only with allow_pickle=True, which trusts the file "
                       "completely; store numeric arrays or safetensors instead")
            self._report_pickles(report, where, self._walk_stack(s))
            return "npy:object"
        if header.nbytes is not None and s.size is not None and \
                s.size - s.tell() < header.nbytes:
            raise CorruptError(f"the array needs {header.nbytes} bytes of data, the file has "
                               f"{s.size - s.tell()}")
        return None

    def _simple(self, report: FileReport, s: Stream, name: str, where: str, depth: int,
                fmt: str) -> str | None:
        for rule, severity, message in check_simple(fmt, s):
            report.add(rule, severity, where, f"{where}: {message}",
                       blocking=severity is not Severity.INFO)
        return None

    def _meta(self, report: FileReport, s: Stream, name: str, where: str, depth: int,
              fmt: str) -> str | None:
        data = s.read(4097)
        if len(data) > 4096 or b"\0" in data or data[:1] == b"\x80":
            raise CorruptError("a PyTorch metadata member should be a short text")
        return None
