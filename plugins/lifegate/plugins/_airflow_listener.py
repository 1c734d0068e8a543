"""The audit-trail listener: task and DAG-run outcomes of governed DAGs go to the ledger.

A listener cannot block anything (Airflow catches what it raises), so this one only records
(EN 304 223 5.4.2-1, an audit trail of the system's operation). Gates block; this records.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from airflow.listeners import hookimpl

from lifegate.evidence.statement import PredicateType
from lifegate.plugins._airflow_common import governed

__all__ = ["AuditListener", "record_event"]

log = logging.getLogger(__name__)




def record_event(event: str, refs: dict[str, str], detail: str = "") -> None:
    """Append one platform-event statement to the default ledger (never raises)."""
    try:
        from lifegate.evidence.ledger import open_ledger
        from lifegate.evidence.statement import statement, system_subject
        from lifegate.plugins._airflow_common import policies

        with policies() as pols:
            policy = pols[0]
            stmt = statement([system_subject(policy.system.name, policy.system.version)],
                             PredicateType.PLATFORM_EVENT, {
                                 "system": policy.system.name, "platform": "airflow",
                                 "event": event, "refs": refs, "detail": detail[:2000],
                                 "at": datetime.now(UTC).isoformat()})
            ref = open_ledger(policy).append(stmt, PredicateType.PLATFORM_EVENT)
        log.info("lifegate: %s of %s recorded as %s", event, refs, ref)
    except Exception:  # a listener must not disturb the run; the failure is logged
        log.exception("lifegate: could not record %s of %s in the ledger", event, refs)


def _dag_tags(obj: Any) -> set[str]:
    dag = getattr(obj, "dag", None) or getattr(getattr(obj, "task", None), "dag", None)
    return set(getattr(dag, "tags", None) or ())


def _ti_refs(ti: Any) -> dict[str, str]:
    return {"dag_id": str(ti.dag_id), "run_id": str(ti.run_id), "task_id": str(ti.task_id),
            "try_number": str(getattr(ti, "try_number", ""))}


def _run_refs(dag_run: Any) -> dict[str, str]:
    return {"dag_id": str(dag_run.dag_id), "run_id": str(dag_run.run_id)}


class AuditListener:
    """Records task success/failure and DAG-run success/failure of governed DAGs."""

    @hookimpl
    def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
        if governed(_dag_tags(task_instance)):
            record_event("task-success", _ti_refs(task_instance))

    @hookimpl
    def on_task_instance_failed(self, previous_state: Any, task_instance: Any,
                                error: BaseException | str | None) -> None:
        if governed(_dag_tags(task_instance)):
            record_event("task-failed", _ti_refs(task_instance), str(error or ""))

    @hookimpl
    def on_dag_run_success(self, dag_run: Any, msg: str) -> None:
        if governed(_dag_tags(dag_run)):
            record_event("dag-run-success", _run_refs(dag_run), msg or "")

    @hookimpl
    def on_dag_run_failed(self, dag_run: Any, msg: str) -> None:
        if governed(_dag_tags(dag_run)):
            record_event("dag-run-failed", _run_refs(dag_run), msg or "")
