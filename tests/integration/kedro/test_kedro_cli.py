"""``kedro lifegate ...`` through the real ``kedro`` command, inside and outside a project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from kedro_project import run

pytestmark = pytest.mark.slow


def kedro(cwd: Path, entry_points: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [entry_points, *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([sys.executable, "-m", "kedro", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_report_inside_the_project_uses_its_config(project: Path, entry_points: str) -> None:
    run(project, "ingest")
    proc = kedro(project, entry_points, "lifegate", "report", "--out", "report",
                 "--format", "json", "--fail-on", "none")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((project / "report" / "conformity.json").read_text())
    assert report["system"] == "iris-kedro-classifier"
    assert report["ledger"].endswith(".lifegate/ledger.db")


def test_report_fails_on_missing_provisions(project: Path, entry_points: str) -> None:
    run(project, "ingest")
    proc = kedro(project, entry_points, "lifegate", "report", "--out", "report",
                 "--format", "json")
    assert proc.returncode == 1
    assert "required provisions are" in proc.stdout


def test_outside_a_project_kedro_lifegate_fails_clearly(tmp_path: Path,
                                                        entry_points: str) -> None:
    proc = kedro(tmp_path, entry_points, "lifegate", "report")
    assert proc.returncode != 0
    assert "No such command 'lifegate'" in proc.stderr


def test_group_without_project_metadata_says_where_to_run_it(tmp_path: Path) -> None:
    from lifegate.plugins.kedro_cli import commands

    result = CliRunner().invoke(commands, ["lifegate", "report"], obj=None)
    assert result.exit_code == 2
    assert "works inside a Kedro project only" in result.output


def test_verify_checks_the_catalog_models(project: Path, entry_points: str) -> None:
    run(project)
    proc = kedro(project, entry_points, "lifegate", "verify")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "dataset classifier:" in proc.stdout and "LG-VERIFY: pass" in proc.stdout
    model = project / "data/06_models/classifier.joblib"
    model.write_bytes(model.read_bytes() + b"\0")
    proc = kedro(project, entry_points, "lifegate", "verify", "--dataset", "classifier")
    assert proc.returncode == 1
    assert "LG-VERIFY: fail" in proc.stdout and "changed since signing" in proc.stdout


def test_project_without_lifegate_config_is_a_clear_error(project: Path,
                                                          entry_points: str) -> None:
    (project / "conf/base/lifegate.yml").unlink()
    proc = kedro(project, entry_points, "lifegate", "report")
    assert proc.returncode == 2
    assert "no lifegate configuration" in proc.stderr


def test_approval_check_runs_lg_approve_with_the_project_policy(project: Path,
                                                                entry_points: str) -> None:
    run(project)
    proc = kedro(project, entry_points, "lifegate", "approval", "check")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "LG-APPROVE: fail" in proc.stdout and "no approval request" in proc.stdout
