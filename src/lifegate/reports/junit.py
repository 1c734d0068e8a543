"""JUnit XML report: one test suite per principle, one test case per provision.

CI systems render JUnit natively, so a failed or missing required provision shows up as a
failed test. Mapping (see :func:`_outcome`):

- ``met``, ``attested``: pass;
- ``waived``: pass, with the waiver in ``<system-out>``;
- ``failed``: ``<failure>``;
- ``missing``: ``<failure>`` when required, else ``<skipped>``;
- ``not-applicable``: ``<skipped>`` with the reason;
- ``stale``: ``<failure>`` when required and ``stale`` is in ``fail_on``, else ``<system-out>``.
"""

from __future__ import annotations

import enum
import re
import xml.etree.ElementTree as ET  # only builds XML, never parses it

from lifegate.reports.conformity import ConformityReport, ProvisionStatus, Status
from lifegate.reports.formats import STANDARD_LABEL, by_principle, iso_time, principle_title

__all__ = ["JUnitRenderer", "render_junit"]

_SUMMARY_MAX = 80
# Characters XML 1.0 cannot carry at all, escaped or not.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class _Outcome(enum.Enum):
    PASSED = "passed"
    FAILURE = "failure"
    SKIPPED = "skipped"
    NOTE = "note"


def xml_text(text: str) -> str:
    """``text`` with characters XML 1.0 forbids replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def _outcome(report: ConformityReport, p: ProvisionStatus) -> _Outcome:
    match p.status:
        case Status.FAILED:
            return _Outcome.FAILURE
        case Status.MISSING:
            return _Outcome.FAILURE if p.required else _Outcome.SKIPPED
        case Status.NOT_APPLICABLE:
            return _Outcome.SKIPPED
        case Status.STALE:
            blocks = p.required and Status.STALE.value in report.fail_on
            return _Outcome.FAILURE if blocks else _Outcome.NOTE
        case Status.WAIVED:
            return _Outcome.NOTE
        case Status.MET | Status.ATTESTED:
            return _Outcome.PASSED


def _short(summary: str) -> str:
    flat = " ".join(summary.split())
    if len(flat) <= _SUMMARY_MAX:
        return flat
    return flat[: _SUMMARY_MAX - 1].rstrip() + "\u2026"


def _details(p: ProvisionStatus) -> str:
    lines = [f"{p.id} ({p.modal.value}, {'required' if p.required else 'optional'}): "
             f"{p.status.value}", p.reason]
    for f in p.findings:
        loc = f" [{f.location}]" if f.location else ""
        waived = f" (waived by {f.waived_by})" if f.waived_by else ""
        lines.append(f"- {f.severity.value} {f.rule}: {f.message}{loc}{waived}")
    lines += [f"evidence: record #{e.seq} {e.gate_id or e.kind} {e.verdict or ''}".rstrip()
              for e in p.evidence]
    return xml_text("\n".join(lines))


def _testcase(report: ConformityReport, p: ProvisionStatus) -> tuple[ET.Element, _Outcome]:
    case = ET.Element("testcase", classname=xml_text(f"en304223.{p.id}"),
                      name=xml_text(f"{p.id} {_short(p.summary)}"))
    outcome = _outcome(report, p)
    message = xml_text(f"{p.status.value}: {p.reason}")
    if outcome is _Outcome.FAILURE:
        ET.SubElement(case, "failure", message=message, type=p.status.value).text = _details(p)
    elif outcome is _Outcome.SKIPPED:
        ET.SubElement(case, "skipped", message=message)
    elif outcome is _Outcome.NOTE:
        ET.SubElement(case, "system-out").text = _details(p)
    return case, outcome


def _suite(report: ConformityReport, number: int,
           rows: list[ProvisionStatus]) -> tuple[ET.Element, int, int]:
    title = principle_title(number)
    name = f"{STANDARD_LABEL} principle {number}" + (f": {title}" if title else "")
    suite = ET.Element("testsuite", name=xml_text(name))
    failures = skipped = 0
    for p in rows:
        case, outcome = _testcase(report, p)
        failures += outcome is _Outcome.FAILURE
        skipped += outcome is _Outcome.SKIPPED
        suite.append(case)
    suite.attrib.update(tests=str(len(rows)), failures=str(failures), errors="0",
                        skipped=str(skipped), timestamp=iso_time(report.generated_at))
    return suite, failures, skipped


def render_junit(report: ConformityReport) -> str:
    root = ET.Element("testsuites", name=xml_text(
        f"{STANDARD_LABEL} conformity: {report.system} {report.system_version}"))
    failures = skipped = 0
    for number, rows in by_principle(report):
        suite, f, s = _suite(report, number, rows)
        failures, skipped = failures + f, skipped + s
        root.append(suite)
    root.attrib.update(tests=str(len(report.provisions)), failures=str(failures), errors="0",
                       skipped=str(skipped), timestamp=iso_time(report.generated_at))
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


class JUnitRenderer:
    extension = "junit.xml"
    media_type = "application/xml"

    def render(self, report: ConformityReport) -> str:
        return render_junit(report)
