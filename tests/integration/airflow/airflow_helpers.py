"""Helpers of the Airflow integration tests (task states, XComs, running an example DAG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def run_dag(dagbag: Any, dag_id: str, project: Path, **conf: Any) -> Any:
    return dagbag.get_dag(dag_id).test(run_conf={"home": str(project), **conf})


def xcom(dag_run: Any, task_id: str, key: str = "return_value") -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as s:
        rows = s.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id,
                                            task_ids=task_id, key=key))
        return next(iter(rows)).value
