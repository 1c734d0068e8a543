"""HTML report: one self-contained, accessible page (no scripts, no external resources).

The page is rendered from ``templates/report.html.j2`` with autoescaping on; everything from
the report reaches the template as plain data and is escaped there. A Content-Security-Policy
meta element forbids scripts and remote loads as a second line of defence.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

import jinja2

from lifegate.reports.conformity import ConformityReport, ProvisionStatus
from lifegate.reports.formats import (
    STANDARD_LABEL,
    by_principle,
    count_rows,
    format_time,
    iso_time,
    ledger_label,
    principle_heading,
    status_label,
)

__all__ = ["HtmlRenderer", "render_html"]

TEMPLATE = "report.html.j2"


@dataclass(frozen=True)
class _Time:
    iso: str
    text: str


@dataclass(frozen=True)
class _Principle:
    number: int
    heading: str
    rows: list[ProvisionStatus]
    counts: dict[str, int]


@functools.cache
def _environment() -> jinja2.Environment:
    try:
        loader: jinja2.BaseLoader = jinja2.PackageLoader("lifegate.reports", "templates")
    except ValueError:  # e.g. installed in a way PackageLoader cannot see into
        loader = jinja2.FunctionLoader(_load_resource)
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["status_label"] = status_label
    env.filters["time"] = _time
    return env


def _load_resource(name: str) -> str:
    return (resources.files("lifegate.reports") / "templates" / name).read_text("utf-8")


def _time(value: datetime) -> _Time:
    return _Time(iso=iso_time(value), text=format_time(value))


def _principles(report: ConformityReport) -> list[_Principle]:
    out = []
    for number, rows in by_principle(report):
        counts: dict[str, int] = {}
        for p in rows:
            counts[p.status.value] = counts.get(p.status.value, 0) + 1
        out.append(_Principle(number, principle_heading(number), rows, counts))
    return out


def _context(report: ConformityReport) -> dict[str, object]:
    index = {p.id: p for p in report.provisions}
    return {
        "standard_label": STANDARD_LABEL,
        "report": report,
        "ledger": ledger_label(report.ledger),
        "blocking": [index[pid] for pid in report.blocking if pid in index],
        "counts": count_rows(report),
        "principles": _principles(report),
    }


def render_html(report: ConformityReport) -> str:
    return _environment().get_template(TEMPLATE).render(_context(report))


class HtmlRenderer:
    extension = "html"
    media_type = "text/html"

    def render(self, report: ConformityReport) -> str:
        return render_html(report)
