"""Markdown report: a summary, the blocking provisions, then one table per principle.

Suitable for a CI job summary or a pull-request comment. Every cell is escaped so that text
from the ledger (reasons, summaries) cannot break the table or inject HTML or links.
"""

from __future__ import annotations

import re

from lifegate.reports.conformity import ConformityReport, ProvisionStatus
from lifegate.reports.formats import (
    STANDARD_LABEL,
    by_principle,
    count_rows,
    format_time,
    ledger_label,
    principle_heading,
    status_label,
)

__all__ = ["MarkdownRenderer", "render_markdown"]

_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")
_BREAKS = re.compile(r"\s*[\r\n\u2028\u2029]+\s*")
_PLAIN = re.compile(r"[0-9A-Za-z:._/+-]+")


def cell(text: str) -> str:
    """One table cell: on one line, Markdown and HTML metacharacters backslash-escaped."""
    return _SPECIAL.sub(r"\\\1", _BREAKS.sub(" ", text)).strip()


def code(text: str) -> str:
    """A code span for digests and ids; anything else is escaped as plain text."""
    return f"`{text}`" if _PLAIN.fullmatch(text) else cell(text)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _head(report: ConformityReport) -> list[str]:
    verdict = "PASSED" if report.passed else "FAILED"
    release = code(report.release) if report.release else "none"
    return [
        f"# {STANDARD_LABEL} conformity: {cell(report.system)} {cell(report.system_version)}",
        "",
        f"**Result: {verdict}**",
        "",
        f"- Standard: {cell(report.standard)}",
        f"- Generated: {format_time(report.generated_at)}",
        f"- Ledger: {cell(ledger_label(report.ledger)) or 'not given'}",
        f"- Ledger head: record #{report.ledger_head}, {code(report.ledger_head_hash)}",
        f"- Release: {release}",
        f"- Fails on: {cell(', '.join(report.fail_on)) or 'nothing'}",
        "",
    ]


def _summary(report: ConformityReport) -> list[str]:
    rows = [[status_label(s), str(n)] for s, n in count_rows(report)]
    rows.append(["**Total**", f"**{len(report.provisions)}**"])
    return ["## Summary", "", *_table(["Status", "Provisions"], rows)]


def _blocking(report: ConformityReport) -> list[str]:
    lines = ["## Blocking", ""]
    index = {p.id: p for p in report.provisions}
    rows = [index[pid] for pid in report.blocking if pid in index]
    if not rows:
        return [*lines, "No required provision blocks conformity.", ""]
    return lines + _table(
        ["Provision", "Status", "Reason"],
        [[cell(p.id), status_label(p.status), cell(p.reason)] for p in rows],
    )


def _row(p: ProvisionStatus) -> list[str]:
    required = "yes" if p.required else "no"
    return [cell(p.id), p.modal.value, required, status_label(p.status), cell(p.reason)]


def _principles(report: ConformityReport) -> list[str]:
    lines: list[str] = []
    header = ["Provision", "Modal", "Required", "Status", "Reason"]
    for number, rows in by_principle(report):
        lines += [f"## {cell(principle_heading(number))}", ""]
        lines += _table(header, [_row(p) for p in rows])
    return lines


def render_markdown(report: ConformityReport) -> str:
    lines = _head(report) + _blocking(report) + _summary(report) + _principles(report)
    return "\n".join(lines).rstrip("\n") + "\n"


class MarkdownRenderer:
    extension = "md"
    media_type = "text/markdown"

    def render(self, report: ConformityReport) -> str:
        return render_markdown(report)
