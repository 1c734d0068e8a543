"""Real KedroSession runs of example_pipelines/kedro with lifegate's hooks registered through
the ``kedro.hooks`` entry point."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from kedro_project import entries, gate_runs, plant, run, stamp_review

from lifegate.core import ConfigError, GateFailed
from lifegate.evidence.ledger import Ledger
from lifegate.evidence.release import manifest_path, read_manifest
from lifegate.evidence.sql_store import SqlStore

pytestmark = pytest.mark.slow

MODEL = Path("data/06_models/classifier.joblib")
METRICS = Path("data/08_reporting/metrics.json")
RAW = Path("data/01_raw/iris.csv")


def _ledger(project: Path) -> Ledger:
    return Ledger(SqlStore(f"sqlite:///{project / '.lifegate' / 'ledger.db'}"))


def test_clean_run_records_the_expected_evidence(project: Path) -> None:
    run(project)
    runs = gate_runs(project)
    assert [(g, v, r["hook"]) for g, v, r in runs] == [
        ("LG-THREAT", "pass", "before_pipeline_run"),
        ("LG-INV", "pass", "before_pipeline_run"),
        ("LG-DATA", "pass", "after_dataset_loaded"),
        ("LG-SCAN", "pass", "before_dataset_loaded"),
        ("LG-SCAN", "pass", "after_pipeline_run"),
        ("LG-SIGN", "pass", "after_pipeline_run"),
        ("LG-SBOM", "pass", "after_pipeline_run"),
        ("LG-DISCLOSE", "pass", "after_pipeline_run"),
    ]
    refs = runs[2][2]
    assert refs["dataset"] == "iris_raw" and refs["node"] == "clean"
    assert refs["session_id"] and refs["env"] == "local"
    assert len({r["session_id"] for _, _, r in runs}) == 1
    led = _ledger(project)
    report = led.verify()  # raises when the chain or a signature is broken
    assert report.records == report.signed == len(entries(project))
    trusted = led.known_keys()
    manifest = read_manifest(manifest_path(project / MODEL), trusted)
    assert {"model-signature", "sbom", "disclosure"} <= set(manifest.entries)
    bom = json.loads((project / "data/06_models/classifier.joblib.cdx.json").read_text())
    tasks = bom["formulation"][0]["workflows"][0]["tasks"]
    assert [t["name"] for t in tasks] == ["fetch_iris", "clean", "split", "train", "evaluate"]
    split = next(t for t in tasks if t["name"] == "split")
    params = {p["name"]: p["value"] for p in split["inputs"][-1]["parameters"]}
    assert params == {"split.test_size": "0.3", "split.random_state": "7"}


def test_planted_data_fault_stops_the_run_before_training(project: Path) -> None:
    run(project, "ingest")
    plant(project / RAW, 3, "petal_length", "42.0")
    before = [e.record_hash for e in entries(project)]
    with pytest.raises(GateFailed) as failed:
        run(project, "training")
    text = str(failed.value)
    assert "LG-DATA" in text and "'iris_raw'" in text and "evidence ledger record #" in text
    assert not (project / MODEL).exists(), "training ran on poisoned data"
    after = entries(project)
    assert [e.record_hash for e in after[:len(before)]] == before
    new = [(e.predicate["result"]["gate_id"], e.predicate["result"]["verdict"])
           for e in after[len(before):]]
    assert new[-2:] == [("LG-DATA", "fail"), ("KEDRO-RUN", "error")]


def test_tampered_model_never_reaches_the_consuming_node(project: Path) -> None:
    run(project)
    (project / METRICS).unlink()
    model = project / MODEL
    data = bytearray(model.read_bytes())
    data[-30] ^= 0x01
    model.write_bytes(bytes(data))
    with pytest.raises(GateFailed) as failed:
        run(project, "evaluation")
    text = str(failed.value)
    assert "LG-VERIFY" in text and "'classifier'" in text and "before_dataset_loaded" in text
    assert not (project / METRICS).exists(), "the evaluate node ran on a tampered model"
    last = gate_runs(project)[-2:]
    assert [(g, v) for g, v, _ in last] == [("LG-VERIFY", "fail"), ("KEDRO-RUN", "error")]
    assert last[0][2]["node"] == "evaluate"


def test_untampered_model_is_verified_before_an_evaluation_run(project: Path) -> None:
    run(project)
    run(project, "evaluation")
    assert [(g, v) for g, v, r in gate_runs(project)
            if r["pipeline"] == "evaluation"][-2:] == [("LG-VERIFY", "pass"), ("LG-SCAN", "pass")]


def test_failing_design_gate_is_recorded_though_kedro_skips_on_pipeline_error(
        project: Path) -> None:
    stamp_review(project, datetime.date(2020, 1, 1))
    with pytest.raises(GateFailed, match="LG-THREAT"):
        run(project)
    assert not (project / RAW).exists(), "a node ran after the design gate failed"
    assert [(g, v, r["hook"]) for g, v, r in gate_runs(project)] == [
        ("LG-THREAT", "fail", "before_pipeline_run"),
        ("KEDRO-RUN", "error", "before_pipeline_run")]


def test_node_error_is_recorded_with_the_node(project: Path) -> None:
    params = project / "conf/base/parameters.yml"
    params.write_text(params.read_text().replace("test_size: 0.3", "test_size: 7.5"))
    with pytest.raises(ValueError):
        run(project)
    last = entries(project)[-1].predicate
    assert last["result"]["gate_id"] == "KEDRO-RUN"
    assert last["result"]["details"]["node"] == "split"
    assert "InvalidParameterError" in last["result"]["findings"][0]["message"]


def test_hooks_disabled_through_disable_hooks_for_plugins_are_off(project: Path) -> None:
    settings = next((project / "src").glob("*/settings.py"))
    settings.write_text(settings.read_text() + 'DISABLE_HOOKS_FOR_PLUGINS = ("lifegate",)\n')
    stamp_review(project, datetime.date(2020, 1, 1))  # LG-THREAT would fail if it ran
    run(project, "ingest")
    plant(project / RAW, 3, "petal_length", "42.0")  # LG-DATA would fail if it ran
    run(project, "training", "evaluation")
    assert (project / METRICS).exists()
    assert not (project / ".lifegate" / "ledger.db").exists()


def test_settings_registration_with_the_entry_point_runs_each_gate_once(project: Path) -> None:
    settings = next((project / "src").glob("*/settings.py"))
    settings.write_text(settings.read_text() + "from lifegate.plugins.kedro_hooks import "
                        "LifegateHooks\n\nHOOKS = (LifegateHooks(),)\n")
    run(project, "ingest")
    assert [g for g, _, _ in gate_runs(project)] == ["LG-THREAT", "LG-INV"]
    settings.write_text(settings.read_text() + 'DISABLE_HOOKS_FOR_PLUGINS = ("lifegate",)\n')
    run(project, "ingest")
    assert [g for g, _, _ in gate_runs(project)] == ["LG-THREAT", "LG-INV"] * 2


def test_project_without_lifegate_config_is_left_alone(project: Path) -> None:
    (project / "conf/base/lifegate.yml").unlink()
    stamp_review(project, datetime.date(2020, 1, 1))
    run(project)
    assert (project / METRICS).exists()
    assert not (project / ".lifegate" / "ledger.db").exists()


@pytest.mark.parametrize(("edit", "expected"), [
    (("kedro:\n", "kedro:\n  on_every_node: true\n"), r"'kedro\.on_every_node'"),
    (("ledger:\n", "ledgr:\n  x: 1\nledger:\n"), r"'ledgr'"),
    (("gates: [LG-DATA]", "gates: [LG-DATA, LG-NOPE]"), r"'kedro\.datasets\.0\.gates': 'LG-NOPE'"),
    (("max_age_days: 180", "max_age_dayz: 180"), r"max_age_dayz"),
])
def test_bad_config_blocks_the_run_and_names_file_and_key(
        project: Path, edit: tuple[str, str], expected: str) -> None:
    run(project, "ingest")
    before = [e.record_hash for e in entries(project)]
    config = project / "conf/base/lifegate.yml"
    config.write_text(config.read_text().replace(*edit, 1))
    with pytest.raises(ConfigError, match=expected) as failed:
        run(project, "ingest")
    assert "lifegate.yml" in str(failed.value)
    assert [e.record_hash for e in entries(project)] == before


def test_environment_config_overrides_base(project: Path) -> None:
    (project / "conf/local/lifegate.yml").write_text(
        "kedro:\n  before_pipeline: [LG-THREAT]\n")
    run(project, "ingest")
    assert [g for g, _, _ in gate_runs(project)] == ["LG-THREAT"]
