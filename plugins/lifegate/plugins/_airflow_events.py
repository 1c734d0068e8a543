"""Recording queued platform events in the ledger, and finding the gaps of a DAG run.

Runs in the listener's background thread, never in the scheduler's own thread: the
``lifegate`` connection is resolved as tasks resolve it (:class:`LifegateHook`: metastore,
secrets backend, environment), and any metastore query here uses this thread's own session,
so the scheduler's ORM session is never touched.

Events are signed with the policy's event key (``keys.event_key``), which the policy trusts
for platform events only; the release-signing key is never needed, or used, here. The event key
writes no checkpoints: it vouches for platform events, not for the ledger's head.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lifegate.plugins._airflow_spool import Spool

if TYPE_CHECKING:
    from lifegate.core import Policy
    from lifegate.evidence.ledger import Ledger

__all__ = ["AUDIT_GAP", "RUN_END_EVENTS", "deliver", "missing_gate_records"]

log = logging.getLogger(__name__)

AUDIT_GAP = "audit-gap"
RUN_END_EVENTS = frozenset({"dag-run-success", "dag-run-failed"})
# Task states in which a gate task ran (or was said to have run) and so must have a record.
_RAN = frozenset({"success", "failed", "up_for_retry", "running", "restarting"})

_Key = tuple[str, str | None]


def _event_ledger(conn_id: str, policy_path: str | None) -> tuple[Policy, Ledger]:
    """The DAG's policy (public keys only) and its existing ledger, with the event key."""
    from lifegate.core import KeyMaterialError
    from lifegate.evidence.keys import Signer
    from lifegate.evidence.ledger import open_ledger
    from lifegate.evidence.store import open_store
    from lifegate.operators._hook import LifegateHook
    from lifegate.plugins._airflow_common import require_policy_file

    with LifegateHook(conn_id).policy(policy_path, signing_key=False) as loaded:
        policy = require_policy_file(loaded, f"connection {conn_id}")
    policy.keys.signing_key = None  # never the release key, even from the environment
    signer = None
    if policy.keys.event_key:
        signer = Signer.from_file(policy.resolve(policy.keys.event_key))
    elif policy.keys.signatures_required:
        raise KeyMaterialError("the policy requires signatures, and names no event key for "
                               "the Airflow listener", where=policy.source,
                               fix="generate a key pair, set keys.event_key to its private key "
                               "and trust its public key with scope: platform-events")
    open_store(policy.ledger_url(), create=False)  # the listener never creates a ledger
    led = open_ledger(policy, signer=signer)
    led.checkpoints = []
    return policy, led


def _task_states(dag_id: str, run_id: str) -> dict[str, tuple[str, int]]:
    """Task id -> (state, try number) of a run, read in this thread's own session."""
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as s:
        rows = s.execute(select(TI.task_id, TI.state, TI.try_number).where(
            TI.dag_id == dag_id, TI.run_id == run_id)).all()
    return {str(r[0]): (str(r[1] or "none"), int(r[2] or 0)) for r in rows}


def _recorded_tasks(led: Ledger, dag_id: str, run_id: str, since: str | None) -> set[str]:
    """Task ids of the run that have a gate-run record (newest records first)."""
    from lifegate.evidence.ledger import decode
    from lifegate.evidence.statement import PredicateType

    start = datetime.fromisoformat(since) if since else None
    found: set[str] = set()
    for rec in led.store.newest(PredicateType.GATE_RUN.kind):
        entry = decode(rec)
        if start is not None and entry.recorded_at < start:
            break
        refs = entry.predicate.get("context", {}).get("platform", {}).get("refs", {})
        if refs.get("dag_id") == dag_id and refs.get("run_id") == run_id:
            found.add(str(refs.get("task_id")))
    return found


def missing_gate_records(led: Ledger, event: dict[str, Any]) -> list[dict[str, Any]]:
    """The gate tasks of a finished run that ran but left no gate-run record."""
    refs, gates = event["refs"], set(event.get("gate_tasks") or ())
    if not gates:
        return []
    states = _task_states(refs["dag_id"], refs["run_id"])
    ran = {t: s for t, s in states.items() if t in gates and s[0] in _RAN}
    recorded = _recorded_tasks(led, refs["dag_id"], refs["run_id"], event.get("run_start"))
    return [{"task_id": t, "state": st, "try_number": n}
            for t, (st, n) in sorted(ran.items()) if t not in recorded]


def _statement(policy: Policy, event: dict[str, Any], **extra: Any) -> dict[str, Any]:
    from lifegate.evidence.statement import PredicateType, statement, system_subject

    return statement([system_subject(policy.system.name, policy.system.version)],
                     PredicateType.PLATFORM_EVENT, {
                         "system": policy.system.name, "platform": "airflow",
                         "event": event["event"], "refs": event["refs"],
                         "detail": str(event.get("detail", ""))[:2000], "at": event["at"],
                         "spool": event.get("spool"), **extra})


def _record(event: dict[str, Any], opened: dict[_Key, tuple[Policy, Ledger]]) -> None:
    from lifegate.evidence.statement import PredicateType

    key: _Key = (str(event.get("conn_id") or "lifegate_default"), event.get("policy"))
    if key not in opened:
        opened[key] = _event_ledger(*key)
    policy, led = opened[key]
    missing = missing_gate_records(led, event) if event["event"] in RUN_END_EVENTS else []
    led.append(_statement(policy, event), PredicateType.PLATFORM_EVENT)
    if missing:
        names = ", ".join(f"{m['task_id']} ({m['state']})" for m in missing)
        gap = {**event, "event": AUDIT_GAP, "spool": None,
               "detail": f"gate task(s) without a gate-run record: {names}"}
        led.append(_statement(policy, gap, missing=missing), PredicateType.PLATFORM_EVENT)
        log.warning("lifegate: DAG run %s has gate tasks without evidence: %s",
                    event["refs"], names)


def deliver(spool: Spool) -> int:
    """Append the queued events in order; an event that cannot be recorded stays queued, and
    so do the later events of the same policy. Returns how many events are still queued."""
    opened: dict[_Key, tuple[Policy, Ledger]] = {}
    blocked: set[_Key] = set()
    with spool.draining():
        for path in spool.pending():
            try:
                event = spool.read(path)
            except (OSError, ValueError, UnicodeDecodeError):
                log.error("lifegate: queued event %s is unreadable; set aside", path)
                spool.set_aside(path)
                continue
            key = (str(event.get("conn_id") or "lifegate_default"), event.get("policy"))
            if key in blocked:
                continue
            try:
                _record(event, opened)
            except Exception as exc:  # anything: the event stays queued, the run goes on
                blocked.add(key)
                opened.pop(key, None)
                log.warning("lifegate: %s of %s not recorded yet (%s); it stays queued in %s",
                            event.get("event"), event.get("refs"), exc, spool.folder)
                continue
            spool.done(path)
    return len(spool.pending())
