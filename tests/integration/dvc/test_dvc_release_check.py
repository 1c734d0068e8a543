"""LG-RELEASE on the real example project: a clean release passes; each way of spoiling it
fails the release check with a precise message, and `dvc repro` exits non-zero."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from dvc_support import lifegate, run

from lifegate.core import load_policy
from lifegate.evidence.ledger import Ledger, open_ledger
from lifegate.evidence.statement import PredicateType

pytestmark = pytest.mark.slow
MODEL = "models/model.joblib"
DVC_REPRO_FAILED = 255  # what the dvc CLI exits with when a stage command fails


def _ledger(root: Path) -> Ledger:
    return open_ledger(load_policy(root / "lifegate.yaml"))


def _records(root: Path) -> list[tuple[int, str]]:
    return [(e.seq, e.record_hash) for e in _ledger(root).entries()]


def _check(root: Path, *args: str) -> tuple[int, str]:
    proc = lifegate(root, "dvc", "release-check", *args)
    return proc.returncode, proc.stdout + proc.stderr


def _last_release(root: Path) -> dict[str, Any]:
    runs = [e.predicate["result"] for e in _ledger(root).entries(PredicateType.GATE_RUN)
            if e.predicate["result"]["gate_id"] == "LG-RELEASE"]
    assert runs, "no LG-RELEASE record"
    result: dict[str, Any] = runs[-1]
    return result


def test_clean_release_passes_and_reuses_digests_when_nothing_changed(
        project: Callable[[str], Path]) -> None:
    root = project("released")
    time.sleep(2.1)  # the copy's files must be older than the racy window to be reusable
    code, out = _check(root)
    assert code == 0, out
    first = _last_release(root)
    assert first["verdict"] == "pass" and first["metrics"]["reused"] == 0
    assert "dvc:models/model.joblib" in {s["name"] for s in first["subjects"]}
    code, out = _check(root)
    assert code == 0, out
    second = _last_release(root)
    assert second["metrics"]["hashed"] == 0
    assert second["metrics"]["reused"] == first["metrics"]["files"]
    assert second["subjects"] == first["subjects"]
    proc = run(root, "dvc", "repro")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Running stage 'release_check'" in proc.stdout  # always_changed: never skipped


def test_output_edited_after_the_lock_is_named(project: Callable[[str], Path]) -> None:
    root = project("released")
    time.sleep(2.1)
    assert _check(root)[0] == 0  # digests now recorded; the edit below must not reuse them
    model = root / MODEL
    stat = model.stat()
    data = bytearray(model.read_bytes())
    data[-1] ^= 1  # same size; mtime set back: only ctime and content tell
    model.write_bytes(bytes(data))
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    before = _records(root)
    code, out = _check(root)
    assert code == 1
    assert f"stage train: out {MODEL} was changed after dvc.lock was written" in out
    assert "changed since signing" in out
    assert _records(root)[: len(before)] == before
    # Committing the edit to the lock does not make it releasable: dvc repro fails.
    assert run(root, "dvc", "commit", "-f").returncode == 0
    proc = run(root, "dvc", "repro")
    assert proc.returncode == DVC_REPRO_FAILED, proc.stdout + proc.stderr


def test_removed_signature(project: Callable[[str], Path]) -> None:
    root = project("released")
    (root / f"{MODEL}.sig").unlink()
    code, out = _check(root)
    assert code == 1
    assert f"stage lifegate_sign: out {MODEL}.sig is missing from the workspace" in out
    assert f"model {MODEL} cannot be verified: signature file not found" in out
    proc = run(root, "dvc", "repro")  # re-signs: a new release that nobody approved
    assert proc.returncode == DVC_REPRO_FAILED, proc.stdout + proc.stderr
    assert "LG-APPROVE for model models/model.joblib" in proc.stdout


def test_missing_approval(project: Callable[[str], Path]) -> None:
    root = project("unapproved")
    code, out = _check(root)
    assert code == 1
    assert "LG-APPROVE for model models/model.joblib: quorum not met" in out
    proc = run(root, "dvc", "repro")
    assert proc.returncode == DVC_REPRO_FAILED
    assert "failed to reproduce 'release_check'" in proc.stderr


def test_changed_param(project: Callable[[str], Path]) -> None:
    root = project("released")
    params = root / "params.yaml"
    params.write_text(params.read_text().replace("C: 1.0", "C: 0.05"))
    code, out = _check(root)
    assert code == 1
    assert "stage train: param train.C in params.yaml is 0.05, dvc.lock has 1.0" in out
    proc = run(root, "dvc", "repro")  # a new model: signed again, but not approved
    assert proc.returncode == DVC_REPRO_FAILED, proc.stdout + proc.stderr
    assert "Running stage 'train'" in proc.stdout


def test_failed_data_gate(project: Callable[[str], Path]) -> None:
    root = project("released")
    policy = root / "lifegate.yaml"
    data = yaml.safe_load(policy.read_text())
    data["gates"]["LG-DATA"]["settings"]["expectations"].append(
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1000}})
    policy.write_text(yaml.safe_dump(data, sort_keys=False))
    proc = run(root, "dvc", "repro")
    assert proc.returncode == DVC_REPRO_FAILED
    assert "LG-DATA: fail" in proc.stdout
    code, out = _check(root)
    assert code == 1
    assert "the latest LG-DATA run for data/prepared/train.csv" in out
    assert "has verdict fail" in out


@pytest.mark.parametrize("lock", ["schema: '2.0'\nstages: [1, 2\n", "stages: {}\n"])
def test_malformed_lock_blocks_and_keeps_the_ledger(project: Callable[[str], Path],
                                                    lock: str) -> None:
    root = project("released")
    (root / "dvc.lock").write_text(lock)
    before = _records(root)
    code, out = _check(root)
    assert code == 1
    assert "LG-RELEASE: error" in out and "dvc.lock" in out
    assert _records(root)[: len(before)] == before


def test_lineage_is_the_stage_graph_with_sha256(project: Callable[[str], Path]) -> None:
    import hashlib
    import json

    root = project("released")
    proc = lifegate(root, "dvc", "lineage", "--out", "steps.json", "--datasets-out", "ds.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    steps = {s["name"]: s for s in json.loads((root / "steps.json").read_text())["steps"]}
    assert {"prepare", "train", "evaluate", "lifegate_sign"} <= set(steps)
    train = steps["train"]
    assert train["platform"] == "dvc" and train["command"] == "python src/train.py"
    model_sha = hashlib.sha256((root / MODEL).read_bytes()).hexdigest()
    assert train["outputs"] == [{"name": MODEL, "sha256": model_sha}]
    assert {i["name"] for i in train["inputs"]} == {"data/prepared", "src/train.py"}
    assert train["params"] == {"params.yaml:train.C": 1.0, "params.yaml:train.max_iter": 300}
    datasets = json.loads((root / "ds.json").read_text())
    assert [d["name"] for d in datasets] == ["data/prepared"]
    assert datasets[0]["source"].startswith("DVC stage prepare: `python src/prepare.py`")
