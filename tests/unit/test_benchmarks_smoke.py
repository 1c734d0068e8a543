"""The benchmark harness is not part of the test run, but its quick mode is: it must run to
the end and write every figure the README promises."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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
    "signing": {"model_bytes", "files", "large_files", "small_files", "runs",
                "baseline_gb_per_s", "seconds", "gb_per_s", "maxrss_mb", "ratios", "targets",
                "notes", "wall_seconds"},
    "scan": {"wall_seconds"},  # plus "files", or "skipped" while LG-SCAN is not available
}
APPEND_RUN = {"appends", "seconds", "appends_per_s"}
SIGN_STEPS = {f"{op}_{h}" for op in ("sign", "verify", "cli_sign", "cli_verify")
              for h in ("sha256", "blake3")} | {"sha256_limit", "per_file_2_threads",
                                                  "model_signing_cli_sign",
                                                  "model_signing_cli_verify"}
SIGN_RATIOS = {"sign_sha256_vs_limit", "verify_sha256_vs_limit", "sign_blake3_vs_limit",
               "verify_blake3_vs_limit", "cli_sign_vs_model_signing_cli",
               "cli_verify_vs_model_signing_cli"}
CLI_RUNS = {"cli_sign_sha256", "cli_verify_sha256", "cli_sign_blake3", "cli_verify_blake3",
            "model_signing_cli_sign", "model_signing_cli_verify"}
SCAN_FILE = {"bytes", "read_gb_per_s", "sha256_gb_per_s", "scan_gb_per_s", "ratio", "verdict",
             "formats", "findings"}


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
    _check_signing(results["signing"])
    _check_scan(results["scan"])


def _check_signing(signing: dict[str, Any]) -> None:
    assert SIGN_STEPS <= set(signing["gb_per_s"])
    assert SIGN_RATIOS <= set(signing["ratios"])
    assert CLI_RUNS <= set(signing["maxrss_mb"])
    assert all(v > 0 for v in signing["maxrss_mb"].values())


def _check_scan(scan: dict[str, Any]) -> None:
    if "skipped" in scan:
        assert "LG-SCAN" in scan["skipped"]
        return
    assert set(scan["files"]) == {"torch_zip", "joblib", "numpy_pickle"}
    for figures in scan["files"].values():
        assert SCAN_FILE <= set(figures)


def test_only_rejects_unknown_sections(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(RUN), "--only", "signing,nope",
                           "--out", str(tmp_path / "r.json")], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 2
    assert "unknown section nope" in proc.stderr
    assert not (tmp_path / "r.json").exists()
