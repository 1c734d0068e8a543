"""Retries: a blocking verdict is never retried; an infrastructure error follows the task's
retries, also when they come from the DAG's ``default_args``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
import pytest


def _run(dag_id: str, **task_kwargs: Any) -> Any:
    """Register a one-gate DAG (retries=2 in default_args) and run it with dag.test()."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.sdk import DAG

    from lifegate.operators import ThreatModelGateOperator

    with DAG(dag_id, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
             default_args={"retries": 2, "retry_delay": timedelta(seconds=0)}) as dag:
        ThreatModelGateOperator(task_id="threat_model", **task_kwargs)
    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder="/nonexistent-empty")
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)
    run = dag.test()
    return next(ti for ti in run.get_task_instances() if ti.task_id == "threat_model")


def _gate_runs(project: Path) -> int:
    import sqlite3

    with sqlite3.connect(project / ".lifegate" / "ledger.db") as db:
        return int(db.execute("SELECT count(*) FROM lifegate_records WHERE kind = 'gate-run'")
                   .fetchone()[0])


def test_default_args_retries_reach_the_gate_operator() -> None:
    from airflow.sdk import DAG

    from lifegate.operators import ThreatModelGateOperator

    with DAG("retries_parse", schedule=None, default_args={"retries": 3}):
        task = ThreatModelGateOperator(task_id="t")
    assert task.retries == 3


def test_a_blocking_verdict_is_not_retried(project: Path) -> None:
    ti = _run("retries_verdict")  # no threat model in the project: verdict error, recorded
    assert str(ti.state) == "failed"
    assert ti.try_number == 1
    assert _gate_runs(project) == 1


def test_an_unreachable_ledger_follows_the_tasks_retries(
        project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    unreachable = tmp_path / "ledger.db"
    unreachable.mkdir()  # a folder where the database file should be: sqlite cannot open it
    monkeypatch.setenv("LIFEGATE_LEDGER_URL", f"sqlite:///{unreachable}")
    ti = _run("retries_outage")
    assert str(ti.state) == "failed"
    assert ti.try_number == 3  # the first try and the two retries of default_args
