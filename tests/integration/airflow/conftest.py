"""Airflow test set-up: one throw-away AIRFLOW_HOME with a migrated SQLite DB per session.

The environment is set at import, before anything imports airflow (its config is read at
import time). Each test gets a fresh working copy of the example project, with its own keys,
ledger and connections (environment variables), so tests never share a chain.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parents[3] / "example_pipelines" / "airflow"
sys.path.insert(0, str(EXAMPLE))

import demo_support  # noqa: E402

demo_support.airflow_env()
# The cluster policy is installed through the `airflow.policy` entry point and is opt-in; the
# tests that exercise it switch it on themselves.
os.environ["AIRFLOW__LIFEGATE__ENFORCE_DAG_POLICY"] = "False"


@pytest.fixture(scope="session", autouse=True)
def airflow_db() -> None:
    demo_support.migrate_db()


@pytest.fixture(scope="session")
def dagbag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(demo_support.DAGS))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    target = tmp_path / "project"
    for key, value in demo_support.prepare_project(target).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LIFEGATE_POLICY", str(target / "lifegate.yaml"))
    yield target


@pytest.fixture(autouse=True)
def listener(tmp_path: Path) -> Iterator[Any]:
    """The audit listener of each test, with its own spool (the installed plugin's listener,
    whose spool all tests would share, is set aside). Tests that read platform events or verify
    the ledger call ``listener.flush()`` first: the listener records in the background."""
    from airflow_helpers import only_listener

    from lifegate.plugins._airflow_listener import AuditListener

    with only_listener(AuditListener(spool_dir=tmp_path / "spool", retry_seconds=0.5)) as audit:
        yield audit
