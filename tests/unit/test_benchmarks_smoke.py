"""The benchmark harness is not part of the test run, but its quick mode is: it must run to
the end and write every figure the README promises."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "benchmarks" / "run.py"

EXPECTED: dict[str, set[str]] = {
    "meta": {"quick", "started_at", "lifegate", "python", "cpus", "openssl", "sqlite",
             "loadavg_start", "loadavg_end", "seconds", "sizes"},
    "ledger_append": {"sqlite", "postgresql", "wall_seconds"},
    "ledger_verify": {"records", "build_seconds", "seconds", "records_per_s",
                      "baseline_ecdsa_records_per_s", "baseline_seconds", "wall_seconds"},
    "conformity_report": {"records", "seconds", "records_per_s", "baseline_read_seconds",
                          "provisions", "counts", "wall_seconds"},
    "inventory_hashing": {"files", "total_bytes", "baseline_gb_per_s", "hash_files_gb_per_s",
                          "gate_gb_per_s", "hash_files_ratio", "gate_ratio", "target_ratio",
                          "note", "wall_seconds"},
}
APPEND_RUN = {"appends", "seconds", "appends_per_s"}


@pytest.mark.slow
def test_quick_benchmark_runs_and_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFEGATE_")}
    proc = subprocess.run([sys.executable, str(RUN), "--quick", "--out", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads(out.read_text())
    for section, keys in EXPECTED.items():
        missing = keys - set(results.get(section, {}))
        assert not missing, f"{section} lacks {sorted(missing)}"
    sqlite = results["ledger_append"]["sqlite"]
    assert "baseline_raw_commits_per_s" in sqlite
    assert APPEND_RUN <= set(sqlite["processes_1"])
    assert APPEND_RUN | {"processes", "verified"} <= set(sqlite["processes_8"])
    assert sqlite["processes_8"]["verified"] is True
    assert "skipped" in results["ledger_append"]["postgresql"]
    assert results["meta"]["quick"] is True
    assert "hash_files" in proc.stdout and "GB/s" in proc.stdout
