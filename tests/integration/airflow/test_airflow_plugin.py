"""The plugin parts: cluster policy, UI app, hook and connection, entry points."""

from __future__ import annotations

import importlib.metadata
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import demo_support
import pytest

from lifegate.core import ConfigError, KeyMaterialError
from lifegate.operators import LifegateHook

UNGATED = '''
import pendulum
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator
with DAG("ungated_ai", schedule=None, start_date=pendulum.datetime(2026, 1, 1),
         tags=["ai-pipeline", "lifegate:secure-development"]):
    EmptyOperator(task_id="train")
'''

ENTRY_POINTS = {
    "apache_airflow_provider": "provider_info = lifegate.plugins._airflow_provider:"
                               "get_provider_info",
    "airflow.plugins": "lifegate = lifegate.plugins.airflow_plugin:LifegatePlugin",
    "airflow.policy": "lifegate = lifegate.plugins._airflow_policy",
}


@pytest.fixture
def cluster_policy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The policy module as Airflow loads it (through the installed entry point), switched on."""
    from airflow import settings

    from lifegate.plugins import _airflow_policy

    pm = settings.get_policy_plugin_manager()
    added = not pm.is_registered(_airflow_policy)
    if added:  # an environment without the installed entry point
        pm.register(_airflow_policy)
    monkeypatch.setenv("AIRFLOW__LIFEGATE__ENFORCE_DAG_POLICY", "True")
    yield
    if added:
        pm.unregister(_airflow_policy)


def _bag(folder: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(folder))


def test_cluster_policy_rejects_an_ungated_ai_dag(tmp_path: Path, project: Path,
                                                  cluster_policy: None) -> None:
    (tmp_path / "ungated.py").write_text(UNGATED)
    errors = _bag(tmp_path).import_errors
    assert len(errors) == 1
    message = next(iter(errors.values()))
    assert "lacks the gate(s) its policy requires: LG-DATA, LG-SCAN, LG-SBOM, LG-SIGN" in message


def test_cluster_policy_accepts_the_gated_examples(project: Path, cluster_policy: None) -> None:
    bag = _bag(demo_support.DAGS)
    assert bag.import_errors == {}
    assert {"train_and_release", "monitor", "retire", "plain_training"} <= set(bag.dag_ids)


def test_cluster_policy_is_opt_in(tmp_path: Path, project: Path, cluster_policy: None,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__LIFEGATE__ENFORCE_DAG_POLICY", "False")
    (tmp_path / "ungated.py").write_text(UNGATED)
    assert _bag(tmp_path).import_errors == {}


def test_hook_falls_back_to_the_environment(project: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_LIFEGATE_DEFAULT")
    with LifegateHook().policy() as policy:  # LIFEGATE_POLICY
        assert policy.system.name == "tumour-screening-assistant"
        assert policy.keys.signing_key is None


def test_hook_keeps_the_key_in_a_private_file_only_while_in_use(project: Path) -> None:
    with LifegateHook().policy() as policy:
        key = Path(str(policy.keys.signing_key))
        assert key.stat().st_mode & 0o077 == 0
        assert "BEGIN" not in policy.model_dump_json()
    assert not key.exists()


def test_hook_rejects_unknown_connection_keys(project: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_LIFEGATE_DEFAULT", json.dumps(
        {"conn_type": "lifegate", "extra": {"policy": "x.yaml", "ledger": "sqlite://"}}))
    with pytest.raises(ConfigError, match="unknown key"), LifegateHook().policy():
        pass


def test_missing_approver_key_is_an_error(project: Path) -> None:
    with pytest.raises(KeyMaterialError, match="no approver key for dave"):
        LifegateHook().approver_signer("dave")


def test_provider_info_matches_airflows_schema() -> None:
    import jsonschema
    from airflow import providers_manager

    from lifegate.plugins._airflow_provider import get_provider_info

    schema_file = Path(providers_manager.__file__).parent / "provider_info.schema.json"
    info = get_provider_info()
    jsonschema.validate(info, json.loads(schema_file.read_text()))
    assert info["package-name"] == "lifegate"


def test_installed_distribution_declares_the_entry_points() -> None:
    """Passes once pyproject.toml declares the three entry points and lifegate is reinstalled."""
    _check_entry_points(importlib.metadata.distribution("lifegate"))


def _check_entry_points(dist: importlib.metadata.Distribution) -> None:
    from airflow.plugins_manager import AirflowPlugin

    eps = {ep.group: ep for ep in dist.entry_points}
    assert set(ENTRY_POINTS) <= set(eps)
    assert eps["apache_airflow_provider"].load()()["package-name"] == "lifegate"
    assert issubclass(eps["airflow.plugins"].load(), AirflowPlugin)
    assert hasattr(eps["airflow.policy"].load(), "dag_policy")
    assert "lifegate.plugins.airflow_plugin" in sys.modules
