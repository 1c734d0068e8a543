"""The audit-trail listener on real Airflow runs (dag.test()).

The ``lifegate_default`` connection is stored in Airflow's metastore, as an operator would
store it in the UI, not in an environment variable. Events are signed with the policy's event
key; the ledger is the policy's, never one in the working directory.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
import pytest

from lifegate.core import load_policy
from lifegate.evidence.ledger import open_ledger
from lifegate.plugins._airflow_listener import AuditListener
from lifegate.reports.conformity import evaluate


@pytest.fixture
def metastore_conn(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """lifegate_default in the metastore (with the system key), not in the environment."""
    from airflow.models import Connection
    from airflow.utils.session import create_session

    spec = json.loads(os.environ["AIRFLOW_CONN_LIFEGATE_DEFAULT"])
    monkeypatch.delenv("AIRFLOW_CONN_LIFEGATE_DEFAULT")
    monkeypatch.delenv("LIFEGATE_POLICY")
    with create_session() as s:
        s.query(Connection).filter(Connection.conn_id == "lifegate_default").delete()
        s.add(Connection(conn_id="lifegate_default", conn_type="lifegate",
                         password=spec["password"], extra=json.dumps(spec["extra"])))
    yield
    with create_session() as s:
        s.query(Connection).filter(Connection.conn_id == "lifegate_default").delete()


def _run(dag_id: str, build: Any, **test_kwargs: Any) -> Any:
    """Register a governed DAG built by ``build()`` and run it with dag.test()."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.sdk import DAG

    with DAG(dag_id, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
             tags=["ai-pipeline"],
             default_args={"retry_delay": timedelta(seconds=0)}) as dag:
        build()
    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder="/nonexistent-empty")
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)
    return dag.test(**test_kwargs)


def _threat_gate() -> None:
    from airflow.providers.standard.operators.empty import EmptyOperator

    from lifegate.operators import ThreatModelGateOperator

    ThreatModelGateOperator(task_id="threat_model") >> EmptyOperator(task_id="after")


def _events(project: Path) -> list[dict[str, Any]]:
    policy = load_policy(project / "lifegate.yaml")
    led = open_ledger(policy, write=False)
    led.verify()  # signed with the event key, which the policy trusts for platform events
    return [e.predicate | {"_signed": e.signed}
            for e in led.entries() if e.kind == "platform-event"]


def test_events_are_recorded_signed_with_the_connection_from_the_metastore(
        project: Path, metastore_conn: None, listener: AuditListener,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the scheduler's working directory: no ledger may appear here
    dr = _run("audit_metastore", _threat_gate)
    assert str(dr.state) == "failed"
    assert listener.flush(30)
    events = [(e["event"], e["refs"].get("task_id"), e["_signed"]) for e in _events(project)]
    assert ("task-failed", "threat_model", True) in events
    assert ("dag-run-failed", None, True) in events
    assert not (tmp_path / ".lifegate").exists()


def test_the_scheduler_session_is_left_alone(project: Path, metastore_conn: None,
                                             listener: AuditListener) -> None:
    """The scheduler calls the DAG-run hooks inside its own session; after them, the objects
    of that session are still attached and usable (the old listener closed it)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    dr = _run("audit_session", _threat_gate)
    assert listener.flush(30)
    with create_session() as session:
        run = session.scalars(select(DagRun).where(DagRun.run_id == dr.run_id)).one()
        run.dag = dr.dag
        listener.on_dag_run_failed(dag_run=run, msg="again")
        tis = run.get_task_instances(session=session)  # DetachedInstanceError before
        assert {ti.task_id for ti in tis} == {"threat_model", "after"}
        assert run.state == "failed"
    assert listener.flush(30)


def test_without_an_event_key_nothing_is_signed_with_the_release_key(
        project: Path, metastore_conn: None, listener: AuditListener) -> None:
    policy_file = project / "lifegate.yaml"
    policy_file.write_text(policy_file.read_text().replace("  event_key: keys/events.key\n", ""))
    _run("audit_nokey", _threat_gate)
    assert not listener.flush(2)  # queued, not recorded: no key may sign them
    assert len(listener.spool.pending()) >= 2
    assert _events(project) == []


def test_an_outage_of_eight_seconds_loses_no_events(project: Path, metastore_conn: None,
                                                    listener: AuditListener) -> None:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    dr = _run("audit_outage", _threat_gate)
    assert listener.flush(30)
    before = len(_events(project))
    with create_session() as s:
        ti = s.scalars(select(TaskInstance).where(TaskInstance.run_id == dr.run_id,
                                                  TaskInstance.task_id == "after")).one()
        ti.task = dr.dag.get_task("after")
    ledger_dir = project / ".lifegate"
    away = project / ".lifegate-away"
    ledger_dir.rename(away)  # the ledger is unreachable
    restore = threading.Timer(8.0, away.rename, args=(ledger_dir,))
    restore.start()
    started, sent = time.monotonic(), 0
    while time.monotonic() - started < 7.5:
        listener.on_task_instance_success(previous_state=None, task_instance=ti)
        sent += 1
        time.sleep(0.4)
    restore.join()
    assert listener.flush(30)
    events = _events(project)
    assert len(events) - before == sent
    spool_id = (listener.spool.folder / "id").read_text()
    numbers = [e["spool"]["n"] for e in events if (e.get("spool") or {}).get("id") == spool_id]
    assert numbers == list(range(1, len(numbers) + 1))  # in order, none missing
    audit = next(p for p in evaluate(
        open_ledger(load_policy(project / "lifegate.yaml"), write=False).entries(),
        load_policy(project / "lifegate.yaml")).provisions if p.id == "5.4.2-1")
    assert audit.status.value == "met", audit.reason


def _audit_provision(project: Path) -> Any:
    policy = load_policy(project / "lifegate.yaml")
    report = evaluate(open_ledger(policy, write=False).entries(), policy)
    return next(p for p in report.provisions if p.id == "5.4.2-1")


def _gaps(project: Path) -> list[dict[str, Any]]:
    return [e for e in _events(project) if e["event"] == "audit-gap"]


def test_a_gate_that_failed_without_evidence_is_a_gap(project: Path, metastore_conn: None,
                                                      listener: AuditListener) -> None:
    from airflow.providers.standard.operators.empty import EmptyOperator

    from lifegate.operators import ThreatModelGateOperator

    def build() -> None:
        ThreatModelGateOperator(task_id="threat_model")  # runs: its error verdict is recorded
        ThreatModelGateOperator(task_id="broken_gate", settings={"no_such_setting": 1}) \
            >> EmptyOperator(task_id="after")  # fails before it can record anything

    dr = _run("audit_gap_failed", build)
    assert str(dr.state) == "failed"
    assert listener.flush(30)
    [gap] = _gaps(project)
    assert gap["refs"] == {"dag_id": "audit_gap_failed", "run_id": dr.run_id}
    assert [m["task_id"] for m in gap["missing"]] == ["broken_gate"]
    assert gap["missing"][0]["state"] == "failed"
    audit = _audit_provision(project)
    assert audit.status.value == "failed"
    assert "broken_gate (failed)" in audit.reason and "audit_gap_failed" in audit.reason


def test_a_gate_marked_successful_without_running_is_a_gap(
        project: Path, metastore_conn: None, listener: AuditListener) -> None:
    from lifegate.operators import ThreatModelGateOperator

    def build() -> None:  # the second gate runs and records (the listener creates no ledger)
        ThreatModelGateOperator(task_id="threat_model") >> \
            ThreatModelGateOperator(task_id="threat_model_again")

    _run("audit_gap_marked", build, mark_success_pattern="threat_model")
    assert listener.flush(30)
    [gap] = _gaps(project)
    assert gap["missing"] == [{"task_id": "threat_model", "state": "success",
                               "try_number": gap["missing"][0]["try_number"]}]
    assert _audit_provision(project).status.value == "failed"


def test_a_complete_run_has_no_gap(project: Path, metastore_conn: None,
                                   listener: AuditListener) -> None:
    _run("audit_complete", _threat_gate)
    assert listener.flush(30)
    assert _gaps(project) == []
    assert _audit_provision(project).status.value == "met"


def test_events_lost_from_the_spool_show_in_the_report(project: Path, metastore_conn: None,
                                                       listener: AuditListener) -> None:
    """Events lost before they reached the ledger leave holes in the numbered stream."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    dr = _run("audit_lost", _threat_gate)
    assert listener.flush(30)
    with create_session() as s:
        ti = s.scalars(select(TaskInstance).where(TaskInstance.run_id == dr.run_id,
                                                  TaskInstance.task_id == "after")).one()
        ti.task = dr.dag.get_task("after")
    listener.stop()
    ledger_dir, away = project / ".lifegate", project / ".lifegate-away"
    ledger_dir.rename(away)
    for _ in range(3):
        listener.on_task_instance_success(previous_state=None, task_instance=ti)
    listener.stop()
    queued = listener.spool.pending()
    assert len(queued) == 3
    queued[1].unlink()  # lost: the spool's disk, an operator, a crash of the host ...
    away.rename(ledger_dir)
    listener.on_task_instance_success(previous_state=None, task_instance=ti)
    assert listener.flush(30)
    audit = _audit_provision(project)
    assert audit.status.value == "failed"
    assert "1 platform event(s) lost" in audit.reason


def test_the_hooks_never_raise(project: Path, metastore_conn: None, listener: AuditListener,
                               tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Even when the spool cannot be written, a hook logs and returns."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    dr = _run("audit_noraise", _threat_gate)
    with create_session() as s:
        ti = s.scalars(select(TaskInstance).where(TaskInstance.run_id == dr.run_id,
                                                  TaskInstance.task_id == "after")).one()
        ti.task = dr.dag.get_task("after")
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    broken = AuditListener(spool_dir=blocked)
    broken.on_task_instance_success(previous_state=None, task_instance=ti)
    broken.on_task_instance_failed(previous_state=None, task_instance=ti, error="x")
    broken.on_dag_run_failed(dag_run=dr, msg="x")
    broken.before_stopping(component=None)
    assert "could not queue task-success" in caplog.text
