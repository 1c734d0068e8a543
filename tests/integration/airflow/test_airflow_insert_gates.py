"""insert_gates wires the policy's gates into a DAG written without lifegate in mind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import demo_support
import pytest
from airflow_helpers import states

from lifegate.core import ConfigError


def _fresh_bag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(demo_support.DAGS / "plain_training.py"))


def test_gates_sit_between_the_users_tasks_and_run(project: Path) -> None:
    bag = _fresh_bag()
    assert bag.import_errors == {}
    dag = bag.get_dag("plain_training")
    up = {t.task_id: t.upstream_task_ids for t in dag.tasks}
    assert up["lifegate_lg_data"] == {"load_data"}
    assert up["fit"] == {"lifegate_lg_data"}
    assert up["lifegate_lg_scan"] == {"fit"}
    assert up["lifegate_lg_sign"] == {"lifegate_lg_scan"}
    assert up["lifegate_lg_sbom"] == {"lifegate_lg_sign"}
    assert up["publish"] == {"lifegate_lg_sbom"}
    assert {"ai-pipeline", "lifegate:secure-development"} <= set(dag.tags)

    st = states(dag.test())
    assert set(st.values()) == {"success"}, st
    assert (project / "models" / "clf.release.json").is_file()


def test_a_failing_inserted_gate_stops_the_users_downstream_tasks(project: Path) -> None:
    (project / "lifegate.yaml").write_text((project / "lifegate.yaml").read_text().replace(
        "max_value: 60", "max_value: 5"))  # every tumour is now "out of range"
    dag = _fresh_bag().get_dag("plain_training")
    st = states(dag.test())
    assert st["lifegate_lg_data"] == "failed"
    assert st["fit"] == st["publish"] == "upstream_failed"


def test_a_step_pattern_that_matches_nothing_is_an_error(project: Path) -> None:
    from airflow.sdk import DAG

    from lifegate.operators import insert_gates

    with DAG("x", schedule=None) as dag:
        pass
    with pytest.raises(ConfigError, match="matches no task"):
        insert_gates(dag, str(project / "lifegate.yaml"), steps={"ingest": "nothing_*"},
                     phases=["secure-development"])
