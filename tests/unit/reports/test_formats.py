"""Report formats: every format renders, matches its golden file, and is safe to open."""

from __future__ import annotations

import itertools
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import golden_files
from lifegate.catalog import Modal
from lifegate.core.errors import ConfigError, EvidenceError
from lifegate.core.model import Finding, Phase, Severity
from lifegate.reports import formats
from lifegate.reports.conformity import (
    ConformityReport,
    EvidenceRef,
    ProvisionStatus,
    Status,
    report_dict,
)
from lifegate.reports.formats import ReportFormat, parse_formats, renderer, write_reports
from lifegate.reports.sarif import location

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "reports"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HASH = "ab" * 32
EXPECTED_NAMES = {
    ReportFormat.HTML: "conformity.html",
    ReportFormat.JSON: "conformity.json",
    ReportFormat.MD: "conformity.md",
    ReportFormat.JUNIT: "conformity.junit.xml",
    ReportFormat.SARIF: "conformity.sarif",
}
TITLES = {1: "Raise awareness", 2: "Design for security", 3: "Evaluate the threats",
          5: "Identify, track and protect assets"}


def assert_golden(name: str, text: str) -> None:
    golden_files.assert_golden(GOLDEN / name, text)


def _ref(seq: int, gate: str | None, verdict: str | None, by: str | None = None,
         kind: str = "gate-run") -> EvidenceRef:
    return EvidenceRef(seq=seq, kind=kind, recorded_at=datetime(2025, 2, seq, 9, 30, tzinfo=UTC),
                       record_hash=f"{seq:02x}" * 32, gate_id=gate, verdict=verdict, by=by)


def _row(pid: str, status: Status, reason: str, *, required: bool = True,
         modal: Modal = Modal.SHALL, **extra: Any) -> ProvisionStatus:
    principle = int(pid.split(".")[1])
    phase = Phase.DESIGN if principle <= 4 else Phase.DEVELOPMENT
    return ProvisionStatus(id=pid, principle=principle, phase=phase, modal=modal,
                           summary=f"Summary of provision {pid}", required=required,
                           status=status, reason=reason, **extra)


def _rows() -> list[ProvisionStatus]:
    return [
        _row("5.1.1", Status.MET, "passed: LG-AWARE (record #1)",
             evidence=[_ref(1, "LG-AWARE", "pass")]),
        _row("5.1.2", Status.ATTESTED, "attested by alice (security-lead)", required=False,
             modal=Modal.SHOULD, evidence=[_ref(2, None, None, by="alice", kind="attestation")]),
        _row("5.2.1", Status.FAILED, "LG-THREAT fail (record #3)",
             evidence=[_ref(3, "LG-THREAT", "fail")],
             findings=[Finding(rule="THREAT-MISSING", message="no threat model for model.pkl",
                               location="threats/model.yaml:12", provision="5.2.1"),
                       Finding(rule="THREAT-STALE", message="threat model older than system",
                               severity=Severity.MEDIUM, location="s3://bucket/tm")]),
        _row("5.2.2", Status.MISSING, "no evidence, attestation or not-applicable record"),
        _row("5.2.3", Status.MISSING, "no evidence, attestation or not-applicable record",
             required=False, modal=Modal.SHOULD),
        _row("5.3.1", Status.WAIVED, "LG-RISK waived by W-1",
             evidence=[_ref(4, "LG-RISK", "waived")],
             findings=[Finding(rule="RISK-OPEN", message="risk R-7 has no owner",
                               waived_by="W-1", provision="5.3.1")]),
        _row("5.3.2", Status.NOT_APPLICABLE, "no third-party models are used"),
        _row("5.3.3", Status.STALE, "LG-RISK: record #5 is older than 90 days",
             evidence=[_ref(5, "LG-RISK", "pass")]),
        _row("5.5.1", Status.STALE, "attestation by bob expired on 2025-01-01",
             required=False, modal=Modal.SHOULD,
             evidence=[_ref(6, None, None, by="bob", kind="attestation")]),
    ]


def make_report(rows: list[ProvisionStatus] | None = None,
                fail_on: tuple[str, ...] = ("failed", "missing"), **extra: Any
                ) -> ConformityReport:
    rows = _rows() if rows is None else rows
    data: dict[str, Any] = {
        "standard": "ETSI EN 304 223 V2.1.1", "system": "fraud-scorer",
        "system_version": "1.4.0", "generated_at": T0, "ledger": ".lifegate/ledger.db",
        "ledger_head": 6, "ledger_head_hash": HASH, "release": "cd" * 32,
        "provisions": rows, "counts": {s.value: sum(r.status is s for r in rows) for s in Status},
        "blocking": [r.id for r in rows if r.required and r.status.value in fail_on],
        "fail_on": list(fail_on),
    }
    data.update(extra)
    return ConformityReport(**data)


@pytest.fixture(autouse=True)
def fixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Principle titles and tool version fixed, so output does not follow the catalog."""
    monkeypatch.setattr(formats, "_catalog_titles", lambda: TITLES)
    monkeypatch.setattr("lifegate.reports.sarif._tool_version", lambda: "0.0.0-test")


@pytest.fixture
def report() -> ConformityReport:
    return make_report()


# -- all formats ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(ReportFormat))
def test_every_format_renders_its_golden_file(fmt: ReportFormat, report: ConformityReport
                                               ) -> None:
    impl = renderer(fmt)
    text = impl.render(report)
    assert text.endswith("\n") and impl.media_type
    assert f"conformity.{impl.extension}" == EXPECTED_NAMES[fmt]
    assert impl.render(report) == text, "rendering must be deterministic"
    assert_golden(EXPECTED_NAMES[fmt], text)


# -- JSON ----------------------------------------------------------------------------------


def test_json_round_trips(report: ConformityReport) -> None:
    data = json.loads(renderer(ReportFormat.JSON).render(report))
    assert data == report_dict(report)
    assert data["passed"] is False
    del data["passed"]
    assert ConformityReport.model_validate(data) == report


# -- Markdown ------------------------------------------------------------------------------


def test_markdown_lists_blocking_first_and_escapes_cells() -> None:
    rows = _rows()
    rows[2] = rows[2].model_copy(update={"reason": "a | b <img src=x> [x](javascript:1)\nc"})
    text = renderer(ReportFormat.MD).render(make_report(rows))
    assert text.index("## Blocking") < text.index("## Summary") < text.index("## Principle 1")
    assert "## Principle 2: Design for security" in text
    assert "a \\| b \\<img src=x\\> \\[x\\](javascript:1) c" in text
    assert re.search(r"(?<!\\)[<>]", text) is None, "every angle bracket is escaped"
    for table in re.findall(r"(?:^\|.*\n)+", text, flags=re.MULTILINE):
        widths = {len(re.findall(r"(?<!\\)\|", line)) for line in table.splitlines()}
        assert len(widths) == 1, f"a cell broke its table:\n{table}"


# -- JUnit ---------------------------------------------------------------------------------


def _expected_outcome(report: ConformityReport, p: ProvisionStatus) -> str:
    if p.status is Status.FAILED or (p.status is Status.MISSING and p.required):
        return "failure"
    if p.status is Status.STALE and p.required and "stale" in report.fail_on:
        return "failure"
    if p.status in (Status.MISSING, Status.NOT_APPLICABLE):
        return "skipped"
    return "pass"


@pytest.mark.parametrize("fail_on", [("failed", "missing"), ("failed", "missing", "stale")])
def test_junit_counts_match_statuses(fail_on: tuple[str, ...]) -> None:
    report = make_report(fail_on=fail_on)
    root = ET.fromstring(renderer(ReportFormat.JUNIT).render(report))
    assert root.tag == "testsuites"
    expected = {p.id: _expected_outcome(report, p) for p in report.provisions}
    cases = {c.attrib["classname"]: c for c in root.iter("testcase")}
    assert set(cases) == {f"en304223.{pid}" for pid in expected}
    for pid, outcome in expected.items():
        case = cases[f"en304223.{pid}"]
        assert case.attrib["name"].startswith(pid + " Summary of provision")
        kids = {k.tag for k in case} - {"system-out"}
        assert kids == (set() if outcome == "pass" else {outcome}), pid
    values = list(expected.values())
    assert root.attrib["tests"] == str(len(values)) == "9"
    assert root.attrib["failures"] == str(values.count("failure"))
    assert root.attrib["skipped"] == str(values.count("skipped")) == "2"
    assert root.attrib["errors"] == "0"
    for suite in root.iter("testsuite"):
        assert suite.attrib["name"].startswith("EN 304 223 principle ")
        assert int(suite.attrib["tests"]) == len(suite.findall("testcase"))
        assert int(suite.attrib["failures"]) == len(suite.findall("testcase/failure"))
        assert int(suite.attrib["skipped"]) == len(suite.findall("testcase/skipped"))
    names = [s.attrib["name"] for s in root.iter("testsuite")]
    assert names[1] == "EN 304 223 principle 2: Design for security"


def test_junit_notes_waived_and_non_blocking_stale(report: ConformityReport) -> None:
    root = ET.fromstring(renderer(ReportFormat.JUNIT).render(report))
    cases = {c.attrib["classname"]: c for c in root.iter("testcase")}
    assert "waived by W-1" in (cases["en304223.5.3.1"].findtext("system-out") or "")
    assert "older than 90 days" in (cases["en304223.5.3.3"].findtext("system-out") or "")
    skipped = cases["en304223.5.3.2"].find("skipped")
    assert skipped is not None and "no third-party models" in skipped.attrib["message"]


def test_junit_survives_hostile_text() -> None:
    rows = _rows()
    rows[2] = rows[2].model_copy(update={"reason": 'x"<y>&\x00\x1b]z', "summary": "a\nb"})
    root = ET.fromstring(renderer(ReportFormat.JUNIT).render(make_report(rows)))
    failure = next(c for c in root.iter("testcase")
                   if c.attrib["classname"] == "en304223.5.2.1").find("failure")
    assert failure is not None and 'x"<y>&' in failure.attrib["message"]


# -- SARIF ---------------------------------------------------------------------------------


def test_sarif_has_required_keys_and_one_result_per_non_met(report: ConformityReport) -> None:
    doc = json.loads(renderer(ReportFormat.SARIF).render(report))
    assert doc["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert doc["version"] == "2.1.0"
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "lifegate"
    non_met = [p.id for p in report.provisions
               if p.status in (Status.FAILED, Status.MISSING, Status.STALE)]
    provision_results = [r for r in run["results"] if r.get("kind") == "fail"]
    assert [r["ruleId"] for r in provision_results] == non_met
    rule_ids = [r["id"] for r in driver["rules"]]
    assert set(non_met) <= set(rule_ids)
    for r in run["results"]:
        assert rule_ids[r["ruleIndex"]] == r["ruleId"]
        assert r["message"]["text"] and r["level"] in ("error", "warning", "note")
    levels = {r["ruleId"]: r["level"] for r in provision_results}
    assert levels == {"5.2.1": "error", "5.2.2": "error", "5.2.3": "warning",
                      "5.3.3": "warning", "5.5.1": "warning"}


def test_sarif_reports_each_blocking_finding(report: ConformityReport) -> None:
    run = json.loads(renderer(ReportFormat.SARIF).render(report))["runs"][0]
    findings = {r["message"]["text"]: r for r in run["results"] if "kind" not in r}
    assert len(findings) == 3
    missing = findings["no threat model for model.pkl"]
    assert missing["properties"] == {"gateId": "LG-THREAT", "provisions": ["5.2.1"],
                                     "rule": "THREAT-MISSING", "severity": "high"}
    physical = missing["locations"][0]["physicalLocation"]
    assert physical == {"artifactLocation": {"uri": "threats/model.yaml"},
                        "region": {"startLine": 12}}
    stale = findings["threat model older than system"]
    assert "locations" not in stale and stale["properties"]["location"] == "s3://bucket/tm"
    waived = findings["risk R-7 has no owner"]
    assert waived["suppressions"][0]["justification"] == "waived by W-1"


@pytest.mark.parametrize(("text", "uri"), [
    ("data/train.csv", "data/train.csv"), ("model.pkl", "model.pkl"),
    ("/abs/x.py:3:4", "/abs/x.py"), ("s3://bucket/key", None), ("row 17", None),
    ("threat model", None), ("//host/share", None),
])
def test_sarif_location_only_for_paths(text: str, uri: str | None) -> None:
    loc = location(text)
    assert (loc["physicalLocation"]["artifactLocation"]["uri"] if loc else None) == uri


# -- HTML ----------------------------------------------------------------------------------


class _Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_html_is_self_contained_and_accessible(report: ConformityReport) -> None:
    text = renderer(ReportFormat.HTML).render(report)
    lowered = text.lower()
    assert "<script" not in lowered and "http://" not in lowered and "https://" not in lowered
    assert 'src="http' not in lowered and 'href="http' not in lowered
    assert '<html lang="en">' in text and 'name="viewport"' in text
    parser = _Structure()
    parser.feed(text)
    tags = [t for t, _ in parser.tags]
    for landmark in ("header", "nav", "main", "caption"):
        assert landmark in tags
    assert "link" not in tags and "img" not in tags
    headings = [int(t[1]) for t in tags if t in ("h1", "h2", "h3", "h4", "h5", "h6")]
    assert headings[0] == 1 and headings.count(1) == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(headings))
    assert all(a.get("scope") in ("col", "row") for t, a in parser.tags if t == "th")
    assert tags.count("table") == tags.count("caption")
    assert "FAILED" in text and 'href="#p-5.2.1"' in text
    assert "NOT APPLICABLE" in text and "Record #3: gate LG-THREAT, verdict fail" in text


def test_html_escapes_malicious_text() -> None:
    rows = _rows()
    evil = "<script>alert(1)</script>"
    rows[2] = rows[2].model_copy(update={"reason": evil, "summary": '"><img src=x onerror=1>'})
    report = make_report(rows, system=evil, ledger="postgresql://lg:s3cret@db/ledger")
    text = renderer(ReportFormat.HTML).render(report)
    assert "<script" not in text.lower() and "<img" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "s3cret" not in text and "postgresql://lg:***@db/ledger" in text


def test_html_reports_pass() -> None:
    rows = [r for r in _rows() if r.status not in (Status.FAILED, Status.MISSING)]
    text = renderer(ReportFormat.HTML).render(make_report(rows, release=None))
    assert "<strong>PASSED</strong>" in text and "No required provision blocks" in text


# -- choosing and writing formats ----------------------------------------------------------


def test_parse_formats() -> None:
    assert parse_formats("html,json") == [ReportFormat.HTML, ReportFormat.JSON]
    assert parse_formats(" SARIF , junit,md,,sarif ") == [
        ReportFormat.SARIF, ReportFormat.JUNIT, ReportFormat.MD]


@pytest.mark.parametrize("text", ["pdf", "html,pdf", "", " , "])
def test_parse_formats_rejects_unknown_or_empty(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_formats(text)
    if "pdf" in text:
        assert "'pdf'" in info.value.message
    assert info.value.fix and "html, json, md, junit, sarif" in info.value.fix


def test_write_reports_writes_every_format(tmp_path: Path, report: ConformityReport) -> None:
    out = tmp_path / "reports" / "nested"
    paths = write_reports(report, list(ReportFormat), out)
    assert [p.name for p in paths] == [EXPECTED_NAMES[f] for f in ReportFormat]
    assert sorted(p.name for p in out.iterdir()) == sorted(EXPECTED_NAMES.values())
    for fmt, path in zip(ReportFormat, paths, strict=True):
        assert path.read_text(encoding="utf-8") == renderer(fmt).render(report)


def test_write_reports_replaces_existing_files(tmp_path: Path, report: ConformityReport) -> None:
    (tmp_path / "conformity.json").write_text("old", encoding="utf-8")
    paths = write_reports(report, [ReportFormat.JSON, ReportFormat.JSON], tmp_path)
    assert paths == [tmp_path / "conformity.json"]
    assert json.loads(paths[0].read_text(encoding="utf-8"))["system"] == "fraud-scorer"
    assert [p.name for p in tmp_path.iterdir()] == ["conformity.json"]


def test_write_reports_explains_unwritable_directory(tmp_path: Path,
                                                    report: ConformityReport) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(EvidenceError) as info:
        write_reports(report, [ReportFormat.JSON], blocker / "out")
    assert info.value.where == str(blocker / "out") and info.value.fix
