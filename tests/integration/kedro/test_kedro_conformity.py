"""The conformity report of a real Kedro run: every gate names the same bytes alike, so a clean
first run has no provision that is stale because two gates disagree about a digest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kedro_project import entries, run

pytestmark = pytest.mark.slow

RAW = "data/01_raw/iris.csv"


def _report(project: Path, entry_points: str) -> dict:  # type: ignore[type-arg]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [entry_points, *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run([sys.executable, "-m", "kedro", "lifegate", "report", "--out",
                           "report", "--format", "json", "--fail-on", "none"], cwd=project,
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data: dict = json.loads((project / "report" / "conformity.json").read_text())  # type: ignore[type-arg]
    return data


def _inventory_the_raw_data(project: Path) -> None:
    """LG-INV also lists the raw CSV, and runs once the run has fetched it (with LG-DATA)."""
    conf = project / "conf" / "base" / "lifegate.yml"
    data = yaml.safe_load(conf.read_text())
    data["gates"]["LG-INV"]["settings"]["datasets"] = [RAW]
    data["kedro"]["before_pipeline"] = ["LG-THREAT"]
    data["kedro"]["datasets"][0]["gates"] = ["LG-INV", "LG-DATA"]
    conf.write_text(yaml.safe_dump(data, sort_keys=False))


def test_clean_first_run_has_no_provision_stale_by_digest(project: Path,
                                                          entry_points: str) -> None:
    """The issue's case: LG-INV and LG-DATA both speak about data/01_raw/iris.csv; LG-INV
    recorded a tree digest of the one file and LG-DATA its sha256, so LG-DATA's five
    provisions were reported STALE after a clean first run."""
    _inventory_the_raw_data(project)
    run(project)
    runs = [e.predicate["result"] for e in entries(project) if e.kind == "gate-run"]
    assert runs and all(r["verdict"] == "pass" for r in runs)
    by_gate = {}
    for r in runs:
        by_gate.setdefault(r["gate_id"], {}).update(
            {s["name"]: s["sha256"] for s in r.get("subjects", [])})
    assert by_gate["LG-INV"][RAW] == by_gate["LG-DATA"][RAW] == by_gate["LG-SBOM"][RAW]
    report = _report(project, entry_points)
    stale = {p["id"]: p["reason"] for p in report["provisions"] if p["status"] == "stale"}
    assert stale == {}, stale
    met = {p["id"] for p in report["provisions"] if p["status"] == "met"}
    assert {"5.2.1-4.1", "5.2.4-2.1", "5.2.3-1", "5.2.4-3", "5.1.3-1"} <= met
    # the example's BOM leaves the environment out (environment: false), so it is no full
    # inventory (5.2.1-1); no gate claims the full provenance record of 5.2.4-2
    assert not {"5.2.1-1", "5.2.4-2"} & met
