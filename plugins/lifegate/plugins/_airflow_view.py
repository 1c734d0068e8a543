"""The lifegate view in the Airflow 3 UI: a FastAPI app mounted by the plugin.

``/`` lists each system (one policy each) with the latest verdict of every gate, ``/report``
renders a system's EN 304 223 conformity report from its ledger (only after the ledger's hash
chain and signatures verify), ``/api/systems`` gives the same data as JSON.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse

if TYPE_CHECKING:
    from lifegate.core import Policy

__all__ = ["URL_PREFIX", "create_app"]

URL_PREFIX = "/lifegate"


def _gate_ids(policy: Policy) -> list[str]:
    from lifegate.core import GATES

    required = [g for ids in policy.phases.values() for g in ids]
    return list(dict.fromkeys([*required, *sorted(GATES)]))


def latest_results(policy: Policy) -> list[dict[str, Any]]:
    """The newest recorded run of each gate for the policy's system."""
    from lifegate.evidence.ledger import latest_result

    rows = []
    for gate_id in _gate_ids(policy):
        entry = latest_result(policy, gate_id)
        result = entry.predicate.get("result", {}) if entry else {}
        rows.append({"gate": gate_id, "verdict": result.get("verdict", "never run"),
                     "seq": entry.seq if entry else None,
                     "recorded_at": entry.recorded_at.isoformat() if entry else None,
                     "findings": len(result.get("findings", []))})
    return rows


def _systems() -> list[dict[str, Any]]:
    from lifegate.plugins._airflow_common import policies

    with policies() as pols:
        return [{"system": p.system.name, "version": p.system.version, "policy": p.source,
                 "gates": latest_results(p)} for p in pols]


def _report_html(system: str) -> str:
    from lifegate.core import LifegateError
    from lifegate.evidence.ledger import open_ledger
    from lifegate.plugins._airflow_common import policies
    from lifegate.reports.conformity import evaluate
    from lifegate.reports.html import render_html

    with policies() as pols:
        policy = next((p for p in pols if p.system.name == system), None)
        if policy is None:
            raise HTTPException(404, f"no lifegate system named {system!r}")
        led = open_ledger(policy)
        try:
            led.verify()  # never report from a ledger that does not verify
        except LifegateError as exc:
            raise HTTPException(409, f"the ledger does not verify: {exc.message}") from None
        return render_html(evaluate(led.entries(), policy, ledger=led.location))


def _index_html(systems: list[dict[str, Any]]) -> str:
    parts = ["<html><head><title>lifegate</title></head><body><h1>lifegate systems</h1>"]
    for s in systems:
        name = html.escape(s["system"])
        parts.append(f"<h2>{name} {html.escape(s['version'])}</h2>"
                     f"<p><a href='report?system={name}'>EN 304 223 conformity report</a></p>"
                     "<table><tr><th>gate</th><th>latest verdict</th><th>ledger record</th>"
                     "<th>recorded at</th></tr>")
        parts += [f"<tr><td>{g['gate']}</td><td>{html.escape(str(g['verdict']))}</td>"
                  f"<td>{g['seq'] if g['seq'] is not None else ''}</td>"
                  f"<td>{g['recorded_at'] or ''}</td></tr>" for g in s["gates"]]
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)


def create_app() -> FastAPI:
    app = FastAPI(title="lifegate", description="EN 304 223 conformity and gate results")

    @app.get("/api/systems")
    def systems() -> list[dict[str, Any]]:
        return _systems()

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return _index_html(_systems())

    @app.get("/report", response_class=HTMLResponse)
    def report(system: str) -> str:
        return _report_html(system)

    return app
