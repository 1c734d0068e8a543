"""``lifegate validate`` and ``lifegate drift`` as a user runs them (real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.slow  # each run imports GX or pandas in a fresh interpreter


def lg(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFEGATE_")}
    return subprocess.run([sys.executable, "-m", "lifegate.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=180,
                          env={**env, "COLUMNS": "200"}, check=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    from sklearn.datasets import load_iris

    df = load_iris(as_frame=True).frame.sort_values("target", kind="stable")
    df = df.reset_index(drop=True)
    df.iloc[::2].to_csv(tmp_path / "ref.csv", index=False)
    df.iloc[1::2].to_csv(tmp_path / "train.csv", index=False)
    suite = {"name": "iris", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "target"}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "sepal length (cm)", "min_value": 0, "max_value": 20}}]}
    (tmp_path / "suite.json").write_text(json.dumps(suite))
    (tmp_path / "lifegate.yaml").write_text(yaml.safe_dump(
        {"system": {"name": "cli", "version": "1"},
         "gates": {"LG-DATA": {"settings": {"suite": "suite.json"}}}}))
    return tmp_path


def test_validate_passes_then_blocks_a_poisoned_copy(project: Path) -> None:
    ok = lg(project, "validate", "train.csv", "--reference", "ref.csv",
            "--label-column", "target")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "LG-DATA: pass" in ok.stdout and "  train.csv  sha256:" in ok.stdout
    rows = (project / "train.csv").read_text().splitlines()
    (project / "poisoned.csv").write_text("\n".join(rows + rows[1:20]) + "\n")
    bad = lg(project, "validate", "poisoned.csv", "--reference", "ref.csv")
    assert bad.returncode == 1
    assert "LG-DATA: fail" in bad.stdout and "duplicates" in bad.stdout


def test_drift_command(project: Path) -> None:
    import pandas as pd

    rng = np.random.default_rng(7)
    for name, shift in (("before", 0.0), ("same", 0.0), ("later", 0.8)):
        pd.DataFrame({"x": rng.normal(shift, 1, 3000), "y": rng.exponential(1, 3000),
                      "kind": rng.choice(["a", "b"], 3000)}).to_csv(project / f"{name}.csv",
                                                                     index=False)
    ok = lg(project, "drift", "--reference", "before.csv", "--current", "same.csv")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = lg(project, "drift", "-r", "before.csv", "-c", "later.csv")
    assert bad.returncode == 1 and "feature x drifted" in bad.stdout
    assert "feature y" not in bad.stdout
    report_only = lg(project, "drift", "-r", "before.csv", "-c", "later.csv", "--report-only")
    assert report_only.returncode == 0
    html = sorted((project / ".lifegate" / "evidence" / "LG-DRIFT").glob("*.html"))
    assert len(html) == 3


def test_validate_missing_dataset_exits_non_zero(project: Path) -> None:
    r = lg(project, "validate", "nope.csv")
    assert r.returncode == 1 and "dataset not found" in r.stdout
