"""LG-SCAN: model files free of unsafe deserialisation, checked before signing and loading.

Allowlist first. Formats that carry no code (safetensors, ONNX, numeric .npy/.npz, GGUF,
JSON/YAML/text configs) pass their format checks. Pickle-based formats (raw pickles, joblib,
PyTorch zips, legacy PyTorch files, numpy object arrays) pass only when every global they
import is on the allowlist (:mod:`lifegate.gates._scan_allow`). Archives are inspected member
by member and nested archives recursively. Anything the scanner cannot recognise or read is a
blocking finding. Nothing is ever unpickled: opcodes and container structures are parsed,
and fickling's static analysis gives a second opinion on every pickle stream.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from importlib import metadata
from pathlib import Path
from typing import ClassVar, Final

from pydantic import Field, field_validator

from lifegate.core.errors import EvidenceError
from lifegate.core.gate import GateSettings
from lifegate.core.hashing import hash_files, sha256_bytes, subject_name
from lifegate.core.model import (
    Evidence,
    Finding,
    GateResult,
    Phase,
    RunContext,
    Severity,
    Subject,
)
from lifegate.core.policy import Policy
from lifegate.gates._scan_allow import ENTRY, Allowlist
from lifegate.gates._scan_common import FileReport
from lifegate.gates._scan_engine import ScanConfig, Scanner
from lifegate.gates._scan_fickling import THRESHOLD, second_opinions
from lifegate.gates._scan_profiles import DEFAULT_PROFILES, Profile
from lifegate.gates._scan_sarif import to_sarif

__all__ = ["ScanGate", "ScanSettings"]

log = logging.getLogger(__name__)

# 5.2.3-1: model files from the supply chain are checked for code before anyone loads them.
# Not 5.2.1-4.2 (confidentiality of data and weights) nor 5.4.1-1 (security updates issued
# and announced): a scan shows neither.
PROVISION: Final = "5.2.3-1"
MAX_FINDINGS: Final = 500
MAX_GLOBALS_LISTED: Final = 500


class ScanSettings(GateSettings):
    paths: list[str] = Field(default_factory=list, description="files or folders to scan, "
                             "relative to the policy; used when artifacts['model'] is unset")
    profiles: list[Profile] = Field(default_factory=lambda: list(DEFAULT_PROFILES),
                                    description="vetted allowlist profiles (numpy, scipy, "
                                    "sklearn, torch, pandas; docs/scanning.md); default: all")
    allowed_globals: list[str] = Field(default_factory=list, description="'module.name' or "
                                       "'module.*' entries added to the built-in allowlist")
    allow_unknown_formats: bool = False
    allow_empty_files: bool = Field(default=False, description="record zero-byte files as "
                                    "information instead of blocking")
    second_opinion: bool = Field(default=True, description="run fickling's static analysis")
    second_opinion_max_bytes: int = Field(default=64 << 20, ge=0, description="larger "
                                          "pickle streams are not given to fickling")
    max_archive_depth: int = Field(default=3, ge=0)
    max_member_bytes: int = Field(default=4 << 30, gt=0, description="largest archive member "
                                  "or decompressed stream (guards against zip bombs)")
    max_files: int = Field(default=100_000, gt=0, description="files plus archive members")
    sarif_out: str | None = Field(default=None, description="write the findings as SARIF "
                                  "here (relative to the policy) and record it as evidence")

    @field_validator("allowed_globals")
    @classmethod
    def _entries(cls, value: list[str]) -> list[str]:
        bad = [e for e in value if not ENTRY.fullmatch(e)]
        if bad:
            raise ValueError(f"entries must look like 'module.name' or 'module.*', not {bad}")
        return value


class ScanGate:
    id: ClassVar[str] = "LG-SCAN"
    title: ClassVar[str] = "Model files free of unsafe deserialisation"
    phase: ClassVar[Phase] = Phase.DEVELOPMENT
    provisions: ClassVar[tuple[str, ...]] = (PROVISION,)
    Settings: ClassVar[type[ScanSettings]] = ScanSettings

    def __init__(self, settings: ScanSettings, policy: Policy) -> None:
        self.settings = settings
        self.policy = policy
        self.allow = Allowlist(settings.allowed_globals, settings.profiles)

    def check(self, context: RunContext) -> GateResult:
        roots = self._roots(context)
        if not roots:
            return GateResult.from_findings(self.id, [Finding(
                rule="SCAN-NO-INPUT", provision=PROVISION,
                location=f"{self.policy.source}: gates.{self.id}.settings",
                message="nothing to scan: set the run's 'model' artifact or settings.paths")])
        files, findings = self._collect(roots)
        reports, subjects = self._scan(files)
        opinions = second_opinions(
            [s for r in reports for s in r.streams], self.allow.policy_exact,
        ) if self.settings.second_opinion else []
        findings += [Finding(rule=i.rule, message=i.message, severity=i.severity,
                             blocking=i.blocking, provision=PROVISION, location=i.where)
                     for r in reports for i in r.issues]
        findings += [Finding(rule="SCAN-SECOND-OPINION", message=op.blocking,
                             severity=Severity.HIGH, provision=PROVISION, location=op.where)
                     for op in opinions if op.blocking]
        result = GateResult.from_findings(
            self.id, _capped(findings), subjects=subjects,
            metrics=_metrics(reports),
            details={"files": {r.display: self._file_details(r) for r in reports},
                     "second_opinion": {o.where: o.verdict for o in opinions},
                     "second_opinion_threshold": THRESHOLD,
                     "allowlist": {"profiles": [str(p) for p in self.allow.profiles],
                                   "packages": list(self.allow.packages),
                                   "policy": list(self.settings.allowed_globals)}},
            tool_versions=_tool_versions(self.settings.second_opinion),
        )
        if self.settings.sarif_out:
            result.evidence.append(self._write_sarif(result, self.settings.sarif_out))
        return result

    # -- what to scan ----------------------------------------------------------------------

    def _roots(self, context: RunContext) -> list[Path]:
        model = context.artifacts.get("model")
        if model and "://" in model:
            raise EvidenceError(f"LG-SCAN reads local files, not {model}", where=model,
                                fix="download the model first and pass its local path")
        if model:
            path = Path(model)
            roots = [path if path.is_absolute() else Path(context.base_dir) / path]
        else:
            roots = [self.policy.resolve(p) for p in self.settings.paths]
        for root in roots:
            if not root.exists() and not root.is_symlink():
                raise EvidenceError(f"path to scan not found: {root}", where=str(root),
                                    fix="check the model path in the run or in "
                                    f"gates.{self.id}.settings.paths")
        return roots

    def _display(self, path: Path) -> str:
        try:
            return path.relative_to(self.policy.base_dir).as_posix()
        except ValueError:
            return path.as_posix()

    def _collect(self, roots: list[Path]) -> tuple[list[Path], list[Finding]]:
        """Regular files under the roots; symlinks and special files are findings."""
        files: list[Path] = []
        findings: list[Finding] = []
        for root in roots:
            found = [root] if root.is_symlink() or not root.is_dir() else _walk(root)
            if not found:
                findings.append(Finding(rule="SCAN-EMPTY", provision=PROVISION,
                                        location=self._display(root),
                                        message=f"{self._display(root)} holds no files"))
            for path in found:
                problem = _not_regular(path)
                if problem is None:
                    files.append(path)
                    continue
                rel = self._display(path)
                findings.append(Finding(rule=problem[0], provision=PROVISION, location=rel,
                                        message=f"{rel}: {problem[1]}"))
        return sorted(set(files)), findings

    # -- scanning --------------------------------------------------------------------------

    def _scan(self, files: list[Path]) -> tuple[list[FileReport], list[Subject]]:
        s = self.settings
        scanner = Scanner(ScanConfig(
            allow=self.allow, allow_unknown=s.allow_unknown_formats,
            allow_empty=s.allow_empty_files,
            tee_limit=s.second_opinion_max_bytes if s.second_opinion else 0,
            max_depth=s.max_archive_depth, max_member_bytes=s.max_member_bytes,
            max_files=s.max_files))
        before = {p: os.lstat(p) for p in files}
        digests = hash_files(files)
        reports, subjects = [], []
        for digest in digests:
            if scanner.stopped:
                break
            display = self._display(digest.path)
            report = scanner.scan_file(digest.path, display)
            if _changed(before[digest.path], digest.path):
                report.add("SCAN-CHANGED", Severity.HIGH, display, f"{display}: the file "
                           "changed while it was scanned; scan it again when it is stable")
            subjects.append(Subject(name=subject_name(digest.path, self.policy.base_dir),
                                    sha256=digest.sha256))
            reports.append(report)
            log.info("LG-SCAN: %s: %s, %d issues", display, report.format, len(report.issues))
        return reports, subjects

    @staticmethod
    def _file_details(r: FileReport) -> dict[str, object]:
        details: dict[str, object] = {
            "format": r.format, "globals": sorted(r.globals)[:MAX_GLOBALS_LISTED],
            "verdict": "fail" if any(i.blocking for i in r.issues) else "pass",
            "pickles": r.pickles}
        if r.members:
            details["members"] = r.members
            details["member_formats"] = r.member_formats
        return details

    def _write_sarif(self, result: GateResult, target: str) -> Evidence:
        path = self.policy.resolve(target)
        text = json.dumps(to_sarif(result), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise EvidenceError(f"cannot write the SARIF report {path}: {exc.strerror}",
                                where=str(path), fix="check sarif_out and the folder's "
                                "permissions") from None
        return Evidence(kind="scan-sarif", uri=str(path), media_type="application/sarif+json",
                        sha256=sha256_bytes(text.encode("utf-8")))


def _walk(root: Path) -> list[Path]:
    """Everything under ``root`` that is not a directory, without following links."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        here = Path(dirpath)
        found.extend(here / n for n in filenames)
        found.extend(here / d for d in dirnames if (here / d).is_symlink())
    return found


def _not_regular(path: Path) -> tuple[str, str] | None:
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        return ("SCAN-SYMLINK", f"symbolic link to {os.readlink(path)!r} is not followed; "
                "replace it with the file it points to")
    if not stat.S_ISREG(mode):
        return "SCAN-SPECIAL-FILE", "not a regular file (device, FIFO or socket)"
    return None


def _changed(before: os.stat_result, path: Path) -> bool:
    after = os.lstat(path)
    return (before.st_ino, before.st_size, before.st_mtime_ns) != \
        (after.st_ino, after.st_size, after.st_mtime_ns)


def _capped(findings: list[Finding]) -> list[Finding]:
    if len(findings) <= MAX_FINDINGS:
        return findings
    kept = sorted(findings, key=lambda f: (not f.blocking, -f.severity.rank))[:MAX_FINDINGS]
    more = len(findings) - MAX_FINDINGS
    return [*kept, Finding(rule="SCAN-MORE", severity=Severity.INFO, blocking=False,
                           message=f"{more} more findings not listed")]


def _metrics(reports: list[FileReport]) -> dict[str, float]:
    return {"files": float(len(reports)),
            "bytes": float(sum(r.size for r in reports)),
            "pickles": float(sum(r.pickles for r in reports)),
            "globals_seen": float(len(set().union(*(r.globals for r in reports)))),
            "archives": float(sum(r.archives for r in reports)),
            "members": float(sum(r.members for r in reports))}


def _tool_versions(second_opinion: bool) -> dict[str, str]:
    if not second_opinion:
        return {}
    try:
        return {"fickling": metadata.version("fickling")}
    except metadata.PackageNotFoundError:
        return {"fickling": "unavailable"}
