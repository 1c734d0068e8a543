"""Set-up shared by run_demo.py and the Airflow integration tests.

- :func:`airflow_env`: a throw-away AIRFLOW_HOME (embedded SQLite) and the example's dags folder;
  call it before anything imports airflow, then :func:`migrate_db`.
- :func:`prepare_project`: a working copy of ``project/`` with fresh keys, and the Airflow
  connections that carry them (the system key in ``lifegate_default``, each approver's own key
  in ``lifegate_approver_<name>``), as environment variables. The audit-trail listener's event
  key (``keys/events.key``) stays a file on the scheduler's host.
- :func:`answer_approval`: answers a human-in-the-loop request the way the Airflow UI does.
  Demo and tests only: a real deployment waits for a person.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DAGS = HERE / "dags"
APPROVERS = ("bob", "alice", "carol")


def airflow_env(home: Path | None = None) -> Path:
    """Point Airflow at a fresh home with SQLite and the example DAGs (before importing it)."""
    home = home or Path(tempfile.mkdtemp(prefix="lifegate-airflow-"))
    os.environ.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW__LIFEGATE__ENFORCE_DAG_POLICY": "True",
    })
    return home


def migrate_db() -> None:
    from airflow.utils import db

    db.initdb()


def _pem(path: Path) -> str:
    text = path.read_text()
    path.unlink()  # the private key lives in the Airflow connection only
    return text


def prepare_project(target: Path) -> dict[str, str]:
    """Copy ``project/`` to ``target`` with fresh keys; return the environment to set."""
    from lifegate.evidence.keys import generate_keypair

    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(HERE / "project", target)
    system = generate_keypair(target / "keys", "lifegate")
    generate_keypair(target / "keys", "events")  # the listener's event key stays on the host
    env = {
        "LIFEGATE_EXAMPLE_HOME": str(target),
        "AIRFLOW_CONN_LIFEGATE_DEFAULT": json.dumps({
            "conn_type": "lifegate", "password": _pem(system.private),
            "extra": {"policy": str(target / "lifegate.yaml")}}),
    }
    for name in APPROVERS:
        pair = generate_keypair(target / "keys", name)
        env[f"AIRFLOW_CONN_LIFEGATE_APPROVER_{name.upper()}"] = json.dumps(
            {"conn_type": "lifegate", "password": _pem(pair.private)})
    return env


def _respond(dag_id: str, task_id: str, user: str, option: str, comment: str,
             timeout: float) -> bool:
    from datetime import UTC, datetime

    from airflow.models.hitl import HITLDetail, HITLUser
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import handle_event_submit
    from airflow.triggers.base import TriggerEvent
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with create_session() as s:
            ti = s.scalars(select(TaskInstance).where(
                TaskInstance.dag_id == dag_id, TaskInstance.task_id == task_id,
                TaskInstance.state == TaskInstanceState.AWAITING_INPUT)).first()
            if ti is not None:
                d = s.scalars(select(HITLDetail).where(HITLDetail.ti_id == ti.id)).one()
                d.responded_by = HITLUser(id=user, name=user)
                d.responded_at = datetime.now(UTC)
                d.chosen_options = [option]
                d.params_input = {"comment": comment}
                handle_event_submit(TriggerEvent(d.as_resume_event_payload()),
                                    task_instance=ti, session=s)
                return True
        time.sleep(0.2)
    return False


def answer_approval(dag_id: str, task_id: str, *, user: str, approve: bool,
                    comment: str = "", timeout: float = 120.0) -> threading.Thread:
    """Start a thread that answers the approval request once the task awaits input."""
    option = "Approve" if approve else "Reject"
    thread = threading.Thread(target=_respond, daemon=True, name=f"answer-{task_id}",
                              args=(dag_id, task_id, user, option, comment, timeout))
    thread.start()
    return thread
