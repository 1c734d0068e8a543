"""JSON report: :func:`report_dict` as pretty, key-sorted, deterministic JSON."""

from __future__ import annotations

import json

from lifegate.reports.conformity import ConformityReport, report_dict

__all__ = ["JsonRenderer", "render_json"]


def render_json(report: ConformityReport) -> str:
    """Indented by two spaces, keys sorted, one trailing newline."""
    return json.dumps(report_dict(report), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class JsonRenderer:
    extension = "json"
    media_type = "application/json"

    def render(self, report: ConformityReport) -> str:
        return render_json(report)
