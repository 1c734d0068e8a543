"""The audit-trail listener: task and DAG-run outcomes of governed DAGs go to the ledger.

A listener cannot block anything, and it runs inside the scheduler and the task processes, so
this one never raises, never waits on the ledger, and never touches the caller's database
session. Each hook takes a plain snapshot of the event (ids, states, the DAG's gate tasks),
stores it durably in the spool (:mod:`._airflow_spool`) and wakes a background thread that
records the queue in order (:func:`._airflow_events.deliver`), retrying while the ledger is
unreachable. At the end of a DAG run that thread also checks that every gate task that ran
left a gate-run record, and records an ``audit-gap`` event naming those that did not
(EN 304 223 5.4.2-1: the audit trail says where it is incomplete).
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.listeners import hookimpl

from lifegate.plugins._airflow_common import DEFAULT_CONN_ID, governed
from lifegate.plugins._airflow_spool import Spool, default_spool_dir

__all__ = ["AuditListener"]

log = logging.getLogger(__name__)
FLUSH_SECONDS = 10.0  # how long a stopping component waits for queued events to be recorded


def _dag_of(obj: Any) -> Any:
    return getattr(obj, "dag", None) or getattr(getattr(obj, "task", None), "dag", None)


def _is_gate(task: Any) -> bool:
    """A lifegate gate operator (also as the scheduler's serialized copy of one)."""
    module = getattr(task, "_task_module", None) or type(task).__module__
    name = getattr(task, "task_type", None) or type(task).__name__
    if not str(module).startswith("lifegate.operators"):
        return False
    from lifegate.operators._base import LifegateGateOperator

    cls = getattr(importlib.import_module(str(module)), str(name), None)
    return isinstance(cls, type) and issubclass(cls, LifegateGateOperator)


def _policy_of(tasks: list[Any]) -> dict[str, Any]:
    """The connection and policy the DAG's gates use (the first gate that names them)."""
    for task in tasks:
        path = getattr(task, "policy", None)
        conn = getattr(task, "lifegate_conn_id", None) or DEFAULT_CONN_ID
        return {"conn_id": str(conn),
                "policy": path if isinstance(path, str) and "{{" not in path else None}
    return {"conn_id": DEFAULT_CONN_ID, "policy": None}


def _snapshot(event: str, refs: dict[str, str], detail: str, dag: Any) -> dict[str, Any]:
    gates = [t for t in getattr(dag, "tasks", None) or () if _is_gate(t)]
    return {"event": event, "refs": refs, "detail": detail[:2000],
            "at": datetime.now(UTC).isoformat(), **_policy_of(gates),
            "gate_tasks": sorted(str(t.task_id) for t in gates)}


def _ti_refs(ti: Any) -> dict[str, str]:
    refs = {"dag_id": str(ti.dag_id), "run_id": str(ti.run_id), "task_id": str(ti.task_id),
            "try_number": str(getattr(ti, "try_number", ""))}
    if getattr(ti, "map_index", -1) not in (-1, None):
        refs["map_index"] = str(ti.map_index)
    return refs


class AuditListener:
    """Records task success/failure and DAG-run success/failure of governed DAGs."""

    def __init__(self, spool_dir: Path | None = None, retry_seconds: float = 2.0) -> None:
        self.spool_dir = spool_dir
        self.retry_seconds = retry_seconds
        self._pid = -1
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._guard = threading.Lock()
        self._stopping = False
        self._busy = False

    @property
    def spool(self) -> Spool:
        return Spool(self.spool_dir or default_spool_dir())

    def _queue(self, event: str, refs: dict[str, str], detail: str, source: Any,
               **extra: Any) -> None:
        try:
            dag = _dag_of(source)
            if not governed(getattr(dag, "tags", None)):
                return
            snap = _snapshot(event, refs, detail, dag)
            self.spool.put({**snap, **extra}, stream=f"{snap['conn_id']}|{snap['policy']}")
            self._kick()
        except Exception:  # a listener must not disturb the run; the failure is logged
            log.exception("lifegate: could not queue %s of %s for the ledger", event, refs)

    def _kick(self) -> None:
        if self._pid != os.getpid():  # a forked child: the parent's thread and lock are gone
            self._pid, self._thread = os.getpid(), None
            self._wake, self._guard = threading.Event(), threading.Lock()
        with self._guard:
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False  # no thread is running that could still see it
                self._thread = threading.Thread(target=self._drain_forever, daemon=True,
                                                name="lifegate-audit-trail")
                self._thread.start()
        self._wake.set()

    def _drain_forever(self) -> None:
        remaining = 0
        while True:
            self._wake.wait(timeout=self.retry_seconds if remaining else None)
            self._wake.clear()
            if self._stopping:
                return
            self._busy = True
            try:
                from lifegate.plugins._airflow_events import deliver

                remaining = deliver(self.spool)
            except Exception:
                log.exception("lifegate: recording the queued platform events failed")
                remaining = 1
            finally:
                self._busy = self._wake.is_set()

    def flush(self, timeout: float = FLUSH_SECONDS) -> bool:
        """Wake the recorder and wait (at most ``timeout`` s) until the queue is empty and
        nothing is being recorded."""
        try:
            if not self.spool.pending() and not self._busy:
                return True
            self._kick()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if not self.spool.pending() and not self._busy:
                    return True
                time.sleep(0.05)
        except Exception:
            log.exception("lifegate: waiting for the queued platform events failed")
        return False

    def stop(self) -> None:
        """Stop the recorder thread (the next event starts it again); what is still queued
        stays in the spool."""
        with self._guard:
            thread, self._stopping = self._thread, True
            self._wake.set()
        if thread is not None and thread.is_alive():
            thread.join(timeout=FLUSH_SECONDS)

    @hookimpl
    def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
        self._queue("task-success", _ti_refs(task_instance), "", task_instance)

    @hookimpl
    def on_task_instance_failed(self, previous_state: Any, task_instance: Any,
                                error: BaseException | str | None) -> None:
        self._queue("task-failed", _ti_refs(task_instance), str(error or ""), task_instance)

    @hookimpl
    def on_dag_run_success(self, dag_run: Any, msg: str) -> None:
        self._run_end("dag-run-success", dag_run, msg)

    @hookimpl
    def on_dag_run_failed(self, dag_run: Any, msg: str) -> None:
        self._run_end("dag-run-failed", dag_run, msg)

    def _run_end(self, event: str, dag_run: Any, msg: str) -> None:
        try:
            refs = {"dag_id": str(dag_run.dag_id), "run_id": str(dag_run.run_id)}
            start = getattr(dag_run, "start_date", None) or getattr(dag_run, "queued_at", None)
        except Exception:
            log.exception("lifegate: could not read the ending DAG run")
            return
        self._queue(event, refs, msg or "", dag_run,
                    run_start=start.isoformat() if start else None)

    @hookimpl
    def before_stopping(self, component: Any) -> None:
        """A task process or the scheduler stops: give the queue a bounded chance to drain
        (what is left stays in the spool for the next append)."""
        if not self.flush():
            log.warning("lifegate: platform events are still queued in %s; they are recorded "
                        "by the next successful append", self.spool.folder)
