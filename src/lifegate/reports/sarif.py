"""SARIF 2.1.0 report, for code-scanning dashboards.

One run by the ``lifegate`` driver. Rules are the provisions that have a result. Results are:

- one per ``failed``, ``missing`` or ``stale`` provision: level ``error`` for a required
  failed or missing provision, ``warning`` otherwise;
- one per distinct blocking finding (a finding without a provision is listed under every
  provision of its gate in the conformity report; it is reported once here), with the
  finding's location as an artifact location when it looks like a file path. A waived
  finding carries an external suppression with the waiver.

Output is deterministic: rules and results follow the report's provision order.
"""

from __future__ import annotations

import json
import re
from importlib import metadata
from typing import Any

from lifegate.core.model import Finding, Severity
from lifegate.reports.conformity import ConformityReport, ProvisionStatus, Status
from lifegate.reports.formats import STANDARD_LABEL, iso_time, ledger_label

__all__ = ["SCHEMA_URI", "SarifRenderer", "render_sarif"]

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
REPORTED = (Status.FAILED, Status.MISSING, Status.STALE)

# A relative or absolute file path, optionally followed by :line or :line:column.
_PATH = re.compile(r"(?P<path>[\w.~+@-]*[/.][\w./~+@-]*)(?::(?P<line>\d+)(?::(?P<col>\d+))?)?")
_LEVELS = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
           Severity.LOW: "note", Severity.INFO: "note"}


def _tool_version() -> str | None:
    try:
        return metadata.version("lifegate")
    except metadata.PackageNotFoundError:
        return None


def _level(p: ProvisionStatus) -> str:
    return "error" if p.required and p.status in (Status.FAILED, Status.MISSING) else "warning"


def _rule(p: ProvisionStatus) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": f"EN304223_{p.id.replace('.', '_').replace('-', '_')}",
        "shortDescription": {"text": p.summary},
        "defaultConfiguration": {"level": "error" if p.required else "warning"},
        "properties": {"principle": p.principle, "phase": p.phase.value,
                       "modal": p.modal.value, "required": p.required,
                       "tags": [STANDARD_LABEL, f"principle-{p.principle}"]},
    }


def _provision_result(p: ProvisionStatus, rule_index: int) -> dict[str, Any]:
    required = "required" if p.required else "optional"
    return {
        "ruleId": p.id,
        "ruleIndex": rule_index,
        "kind": "fail",
        "level": _level(p),
        "message": {"text": f"{STANDARD_LABEL} provision {p.id} ({p.modal.value}, {required}) "
                            f"is {p.status.value}: {p.reason}"},
        "properties": {"status": p.status.value, "required": p.required,
                       "evidence": [e.seq for e in p.evidence]},
    }


def location(text: str) -> dict[str, Any] | None:
    """A SARIF location for ``text`` when it looks like a file path, else None."""
    match = _PATH.fullmatch(text.strip())
    if match is None or "//" in match["path"]:
        return None
    physical: dict[str, Any] = {"artifactLocation": {"uri": match["path"]}}
    if match["line"]:
        region = {"startLine": max(int(match["line"]), 1)}
        if match["col"]:
            region["startColumn"] = max(int(match["col"]), 1)
        physical["region"] = region
    return {"physicalLocation": physical}


def _gates(p: ProvisionStatus) -> list[str]:
    """Gates that may have raised ``p``'s findings: those with a non-passing verdict."""
    return sorted({e.gate_id for e in p.evidence
                   if e.gate_id and e.verdict in ("fail", "error", "waived")})


def _finding_result(p: ProvisionStatus, f: Finding, rule_index: int) -> dict[str, Any]:
    gates = _gates(p)
    props: dict[str, Any] = {"rule": f.rule, "severity": f.severity.value,
                             "provisions": [p.id]}
    if len(gates) == 1:
        props["gateId"] = gates[0]
    elif gates:
        props["gateIds"] = gates
    result: dict[str, Any] = {"ruleId": p.id, "ruleIndex": rule_index,
                              "level": _level_for(f), "message": {"text": f.message},
                              "properties": props}
    if f.location:
        loc = location(f.location)
        if loc is None:
            props["location"] = f.location
        else:
            result["locations"] = [loc]
    if f.waived_by:
        result["suppressions"] = [{"kind": "external", "status": "accepted",
                                   "justification": f"waived by {f.waived_by}"}]
    return result


def _level_for(f: Finding) -> str:
    return _LEVELS[f.severity]


def _results(report: ConformityReport) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rules: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, str | None, str | None], dict[str, Any]] = {}
    for p in report.provisions:
        if p.status not in REPORTED and not p.findings:
            continue
        index = len(rules)
        rules.append(_rule(p))
        if p.status in REPORTED:
            results.append(_provision_result(p, index))
        for f in p.findings:
            key = (f.rule, f.message, f.location, f.provision)
            if key in seen:
                seen[key]["properties"]["provisions"].append(p.id)
                continue
            seen[key] = _finding_result(p, f, index)
            results.append(seen[key])
    return rules, results


def sarif_dict(report: ConformityReport) -> dict[str, Any]:
    rules, results = _results(report)
    driver: dict[str, Any] = {"name": "lifegate", "rules": rules}
    if version := _tool_version():
        driver["version"] = version
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "automationDetails": {"id": f"lifegate/conformity/{report.system}/"},
        "invocations": [{"executionSuccessful": True,
                         "endTimeUtc": iso_time(report.generated_at)}],
        "results": results,
        "properties": {
            "standard": report.standard, "system": report.system,
            "systemVersion": report.system_version, "passed": report.passed,
            "blocking": report.blocking, "ledger": ledger_label(report.ledger),
            "ledgerHead": report.ledger_head, "ledgerHeadHash": report.ledger_head_hash,
            "release": report.release, "counts": report.counts,
        },
    }
    return {"$schema": SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def render_sarif(report: ConformityReport) -> str:
    return json.dumps(sarif_dict(report), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class SarifRenderer:
    extension = "sarif"
    media_type = "application/sarif+json"

    def render(self, report: ConformityReport) -> str:
        return render_sarif(report)
