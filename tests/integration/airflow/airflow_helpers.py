"""Helpers of the Airflow integration tests (task states, XComs, running an example DAG)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def only_listener(listener: Any) -> Iterator[Any]:
    """``listener`` as the only lifegate audit listener of this process while in use.

    The installed plugin registers its own listener (entry point ``airflow.plugins``), which
    would record every test's events through one shared spool; it is set aside meanwhile."""
    from airflow.listeners.listener import get_listener_manager as core_manager
    from airflow.sdk.listener import get_listener_manager as sdk_manager

    from lifegate.plugins._airflow_listener import AuditListener

    managers = [core_manager(), sdk_manager()]
    aside = [(m, p) for m in managers for p in m.pm.get_plugins() if isinstance(p, AuditListener)]
    for m, p in aside:
        m.pm.unregister(p)
    for m in managers:
        m.add_listener(listener)
    try:
        yield listener
    finally:
        listener.stop()
        for m in managers:
            if m.pm.is_registered(listener):
                m.pm.unregister(listener)
        for m, p in aside:
            m.add_listener(p)
