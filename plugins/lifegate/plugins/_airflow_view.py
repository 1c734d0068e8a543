"""The lifegate view in the Airflow 3 UI: a FastAPI app mounted by the plugin.

``/`` lists each system (one policy each) with the latest verdict of every gate, ``/report``
renders a system's EN 304 223 conformity report from its ledger (only after the ledger's hash
chain and signatures verify), ``/api/systems`` gives the same data as JSON.

Airflow does not authenticate a plugin's app (it is mounted beside the core API, whose
dependencies do not reach it), so every route here depends on Airflow's own
``requires_access_dag("GET")``: the running auth manager decides, from the JWT the browser
sends in the ``_token`` cookie Airflow's login sets, or from an ``Authorization: Bearer``
header. No token is 401, a user who may not read DAGs is 403. The view only reads: the ledger
is opened with the policy's public keys, never with a private key.

The app is built on its first request (:class:`LazyApp`): the plugin is loaded by every
scheduler and task process, and Airflow's API security module is only needed by the API server.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from lifegate.core import Policy

__all__ = ["URL_PREFIX", "LazyApp", "create_app", "latest_results"]

URL_PREFIX = "/lifegate"

_Scope = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
_Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def _gate_ids(policy: Policy) -> list[str]:
    from lifegate.core import GATES

    required = [g for ids in policy.phases.values() for g in ids]
    return list(dict.fromkeys([*required, *sorted(GATES)]))


def latest_results(policy: Policy) -> list[dict[str, Any]]:
    """The newest recorded run of each gate for the policy's system (one pass, newest first)."""
    from lifegate.evidence.ledger import decode
    from lifegate.evidence.statement import PredicateType
    from lifegate.plugins._airflow_common import read_ledger

    wanted = _gate_ids(policy)
    newest: dict[str, Any] = {}
    for rec in read_ledger(policy).store.newest(PredicateType.GATE_RUN.kind):
        entry = decode(rec)
        pred = entry.predicate
        gate = pred.get("result", {}).get("gate_id")
        if gate in wanted and gate not in newest and \
                pred.get("context", {}).get("system") == policy.system.name:
            newest[gate] = entry
            if len(newest) == len(wanted):
                break
    rows = []
    for gate_id in wanted:
        found = newest.get(gate_id)
        result = found.predicate.get("result", {}) if found else {}
        rows.append({"gate": gate_id, "verdict": result.get("verdict", "never run"),
                     "seq": found.seq if found else None,
                     "recorded_at": found.recorded_at.isoformat() if found else None,
                     "findings": len(result.get("findings", []))})
    return rows


def _http_error(exc: Exception) -> Exception:
    from fastapi import HTTPException

    from lifegate.core import LedgerTamperedError, LifegateError, SignatureError

    if isinstance(exc, LedgerTamperedError | SignatureError):
        return HTTPException(409, f"the ledger does not verify: {exc.message}")
    if isinstance(exc, LifegateError):
        return HTTPException(503, f"lifegate cannot read the evidence: {exc.message}")
    return exc


def _systems() -> list[dict[str, Any]]:
    from lifegate.core import LifegateError
    from lifegate.plugins._airflow_common import policies

    try:
        with policies() as pols:
            return [{"system": p.system.name, "version": p.system.version, "policy": p.source,
                     "gates": latest_results(p)} for p in pols]
    except LifegateError as exc:
        raise _http_error(exc) from None


def _report_html(system: str) -> str:
    from fastapi import HTTPException

    from lifegate.core import LifegateError
    from lifegate.plugins._airflow_common import policies, read_ledger
    from lifegate.reports.conformity import evaluate
    from lifegate.reports.html import render_html

    try:
        with policies() as pols:
            policy = next((p for p in pols if p.system.name == system), None)
            if policy is None:
                raise HTTPException(404, f"no lifegate system named {system!r}")
            led = read_ledger(policy)
            checked = led.verify()  # never report from a ledger that does not verify
            return render_html(evaluate(led.entries(stop=checked.head_seq), policy,
                                        ledger=led.location))
    except LifegateError as exc:
        raise _http_error(exc) from None


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
    """The app; every route requires a user whom Airflow's auth manager lets read DAGs."""
    from airflow.api_fastapi.core_api.security import requires_access_dag
    from fastapi import Depends, FastAPI
    from fastapi.responses import HTMLResponse

    # No /docs, /redoc or /openapi.json: FastAPI serves those outside the app's dependencies.
    app = FastAPI(title="lifegate", description="EN 304 223 conformity and gate results",
                  docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(requires_access_dag(method="GET"))])

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


class LazyApp:
    """An ASGI app that builds :func:`create_app` when the API server first calls it."""

    def __init__(self) -> None:
        self._app: FastAPI | None = None

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if self._app is None:
            self._app = create_app()
        await self._app(scope, receive, send)
