"""LG-SCAN results as SARIF 2.1.0, for code-scanning dashboards.

One run of the ``lifegate LG-SCAN`` driver; one result per blocking finding, located at the
scanned file (``artifactLocation.uri``), with the archive member path, if any, in the
result's ``properties.member``. Scanned files are listed as artifacts with their SHA-256.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any, Final
from urllib.parse import quote

from lifegate.core.model import Finding, GateResult, Severity

__all__ = ["SCHEMA_URI", "to_sarif"]

SCHEMA_URI: Final = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS: Final = {Severity.CRITICAL: "error", Severity.HIGH: "error",
                  Severity.MEDIUM: "warning", Severity.LOW: "note", Severity.INFO: "note"}
RULES: Final = {
    "SCAN-GLOBAL": "Pickle imports a global that is not on the allowlist",
    "SCAN-GLOBAL-UNRESOLVED": "Pickle hides the global it imports",
    "SCAN-EXT": "Pickle imports a global through the copyreg extension registry",
    "SCAN-CORRUPT": "File or member is corrupt or truncated",
    "SCAN-TRAILING": "Data after a pickle's STOP opcode",
    "SCAN-UNKNOWN-FORMAT": "Unknown model file format",
    "SCAN-SYMLINK": "Symbolic link in a scanned folder",
    "SCAN-SPECIAL-FILE": "Device, FIFO or socket where a file was expected",
    "SCAN-MEMBER-PATH": "Archive member path escapes the extraction folder",
    "SCAN-LINK-MEMBER": "Archive member is a link",
    "SCAN-DUPLICATE-MEMBER": "Archive holds the same member name twice",
    "SCAN-ENCRYPTED": "Encrypted archive member",
    "SCAN-SIZE": "Member larger than max_member_bytes",
    "SCAN-DEPTH": "Archives nested deeper than max_archive_depth",
    "SCAN-FILES": "More files than max_files",
    "SCAN-NPY-OBJECT": "numpy array of Python objects (a pickle)",
    "SCAN-JOBLIB-AMBIGUOUS": "joblib array bytes that pickle.load would run as opcodes",
    "SCAN-KERAS-LAMBDA": "Keras Lambda layer with Python bytecode",
    "SCAN-YAML-PYTHON-TAG": "YAML python/* tag",
    "SCAN-UNSUPPORTED": "Compression the scanner cannot read",
    "SCAN-SECOND-OPINION": "fickling rates the pickle as malicious",
    "SCAN-CHANGED": "File changed while it was scanned",
    "SCAN-NO-INPUT": "Nothing to scan",
    "SCAN-EMPTY": "Folder without files",
    "SCAN-EMPTY-FILE": "Empty file",
    "SCAN-PERSID": "Pickle hands a persistent id to the loader's persistent_load",
    "SCAN-MUTATE-GLOBAL": "Pickle changes an imported global",
    "SCAN-NOT-PARSED": "Text file too large to be parsed",
}


def _split(location: str, files: list[str]) -> tuple[str, str | None]:
    """(scanned file, member path) of a finding location ``file!member!member``."""
    for f in sorted(files, key=len, reverse=True):
        if location == f:
            return f, None
        if location.startswith(f + "!"):
            return f, location[len(f) + 1:]
    file, _, member = location.partition("!")
    return file, member or None


def _result(f: Finding, index: int, files: list[str]) -> dict[str, Any]:
    props: dict[str, Any] = {"severity": f.severity.value}
    if f.provision:
        props["provision"] = f.provision
    out: dict[str, Any] = {"ruleId": f.rule, "ruleIndex": index, "level": _LEVELS[f.severity],
                           "message": {"text": f.message}, "properties": props}
    if f.location:
        file, member = _split(f.location, files)
        out["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": quote(file)}}}]
        if member:
            props["member"] = member
    return out


def _version() -> str | None:
    try:
        return metadata.version("lifegate")
    except metadata.PackageNotFoundError:
        return None


def to_sarif(result: GateResult) -> dict[str, Any]:
    """SARIF 2.1.0 for the blocking findings of an LG-SCAN result."""
    files = [s.name for s in result.subjects]  # LG-SCAN's subjects are the files it read
    blocking = [f for f in result.findings if f.blocking]
    rule_ids = sorted({f.rule for f in blocking})
    driver: dict[str, Any] = {
        "name": f"lifegate {result.gate_id}",
        "rules": [{"id": r, "shortDescription": {"text": RULES.get(r, r)}} for r in rule_ids],
    }
    if version := _version():
        driver["version"] = version
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "artifacts": [{"location": {"uri": quote(s.name)},
                       "hashes": {"sha-256": s.sha256}} for s in result.subjects],
        "results": [_result(f, rule_ids.index(f.rule), files) for f in blocking],
        "properties": {"gateId": result.gate_id, "verdict": result.verdict.value},
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
