"""The listener inside a real LocalExecutor scheduler (with a dag-processor and the execution
API), the ``lifegate`` connection stored in Airflow's metastore.

A governed DAG runs two gates: one records its (error) verdict, the other's task process hangs
before the gate runs and is killed with SIGKILL, so it leaves neither a record nor a
task-failed event. The
scheduler must survive the DAG run's end, and the audit trail must name the killed gate.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import demo_support
import pytest

from lifegate.core import load_policy
from lifegate.evidence.ledger import open_ledger
from lifegate.reports.conformity import evaluate

T = TypeVar("T")

DAG_FILE = '''
import time
import pendulum
from airflow.sdk import DAG
from lifegate.operators import ThreatModelGateOperator


def _hang(context):  # the gate task's process stops here until the test kills it
    time.sleep(3600)


with DAG("scheduler_audit", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
         tags=["ai-pipeline"]):
    ThreatModelGateOperator(task_id="threat_model")
    ThreatModelGateOperator(task_id="hanging_gate", on_execute_callback=_hang)
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(what: str, check: Callable[[], T | None], timeout: float,
          procs: list[subprocess.Popen[bytes]]) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            assert p.poll() is None, f"{p.args} exited with {p.returncode} ({what})"
        try:
            found = check()
        except Exception:  # the database is busy or not ready yet
            found = None
        if found is not None:
            return found
        time.sleep(1.0)
    raise AssertionError(f"timed out waiting for {what}")


def _store_connection(env: dict[str, str]) -> None:
    from airflow.models import Connection
    from airflow.utils.session import create_session

    spec = json.loads(env.pop("AIRFLOW_CONN_LIFEGATE_DEFAULT"))
    with create_session() as s:
        s.query(Connection).filter(Connection.conn_id == "lifegate_default").delete()
        s.add(Connection(conn_id="lifegate_default", conn_type="lifegate",
                         password=spec["password"], extra=json.dumps(spec["extra"])))


@pytest.fixture
def airflow(tmp_path: Path) -> Iterator[dict[str, Any]]:
    project = tmp_path / "project"
    env = demo_support.prepare_project(project)
    _store_connection(env)
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "scheduler_audit.py").write_text(DAG_FILE)
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AIRFLOW_CONN_LIFEGATE") and k != "LIFEGATE_POLICY"} | env
    env.update({
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": "lifegate-scheduler-test-" + "y" * 32,
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "LIFEGATE_AIRFLOW_SPOOL": str(tmp_path / "spool"),
    })
    commands = {"api-server": ["api-server", "-H", "127.0.0.1", "-p", str(port), "-w", "1",
                               "--apps", "execution"],
                "dag-processor": ["dag-processor"], "scheduler": ["scheduler"]}
    procs, logs = [], []
    for name, args in commands.items():
        log = (tmp_path / f"{name}.log").open("wb")
        logs.append(log)
        procs.append(subprocess.Popen([sys.executable, "-m", "airflow", *args], env=env,
                                      stdout=log, stderr=subprocess.STDOUT))
    try:
        yield {"project": project, "procs": procs, "tmp": tmp_path}
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        for log in logs:
            log.close()


def _task(dag_id: str, task_id: str) -> Any:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as s:
        return s.execute(select(TaskInstance.state, TaskInstance.pid).where(
            TaskInstance.dag_id == dag_id, TaskInstance.task_id == task_id)).first()


def _run_state(dag_id: str) -> str | None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as s:
        state = s.scalar(select(DagRun.state).where(DagRun.dag_id == dag_id))
    return str(state) if state in ("success", "failed") else None


def _gap_events(project: Path) -> list[dict[str, Any]] | None:
    led = open_ledger(load_policy(project / "lifegate.yaml"), write=False)
    gaps = [e.predicate for e in led.entries() if e.kind == "platform-event"
            and e.predicate.get("event") == "audit-gap"]
    return gaps or None


def test_a_killed_gate_is_a_gap_and_the_scheduler_survives(airflow: dict[str, Any]) -> None:
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from airflow.utils.types import DagRunTriggeredByType

    procs, project = airflow["procs"], airflow["project"]

    def parsed() -> bool | None:
        with create_session() as s:
            return True if s.get(DagModel, "scheduler_audit") else None

    _wait("the DAG to be parsed", parsed, 300, procs)
    trigger_dag("scheduler_audit", triggered_by=DagRunTriggeredByType.TEST)
    running = _wait("the hanging gate to run", lambda: (
        r if (r := _task("scheduler_audit", "hanging_gate")) and str(r[0]) == "running"
        and r[1] else None), 300, procs)
    os.kill(int(running[1]), signal.SIGKILL)
    assert _wait("the DAG run to end", lambda: _run_state("scheduler_audit"), 300,
                 procs) == "failed"
    [gap] = _wait("the audit-gap event", lambda: _gap_events(project), 120, procs)
    assert [m["task_id"] for m in gap["missing"]] == ["hanging_gate"]
    time.sleep(5)  # the scheduler keeps running after the run's end
    assert all(p.poll() is None for p in procs)
    scheduler_log = (airflow["tmp"] / "scheduler.log").read_text()
    assert "DetachedInstanceError" not in scheduler_log
    policy = load_policy(project / "lifegate.yaml")
    led = open_ledger(policy, write=False)
    led.verify()
    audit = next(p for p in evaluate(led.entries(), policy).provisions if p.id == "5.4.2-1")
    assert audit.status.value == "failed" and "hanging_gate" in audit.reason
