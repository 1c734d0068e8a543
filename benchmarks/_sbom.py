"""The ML-BOM of this project's own environment: LG-SBOM (every distribution with its RECORD
digest, licence, dependency graph; a model and a dataset with hashes and model card; schema
validation with format checks; the ledger record) against ``cyclonedx-py environment`` on the
same interpreter, which writes no hashes (and, with ``--no-validate``, validates nothing).

The steps take turns in each round and the best of ``sizes.runs`` rounds is kept, so
background load hits all alike.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from _common import SYSTEM, VERSION, Row, Section, Sizes

from lifegate.core import Verdict, load_policy, make_context, run_gate_by_id

BIN = Path(sys.executable).parent
CDX = BIN / "cyclonedx-py"
NOTE = ("subprocesses: wall time includes interpreter start-up; lifegate also records the run "
        "in its ledger")


def make_project(root: Path) -> Path:
    """A policy, a small model, a dataset and a system card; the environment is the venv."""
    (root / "model").mkdir(parents=True)
    (root / "model" / "weights.bin").write_bytes(os.urandom(1 << 20))
    (root / "model" / "config.json").write_text('{"layers": 4}\n')
    (root / "train.csv").write_text("x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(10_000)))
    (root / "system_card.yaml").write_text(yaml.safe_dump({
        "intended_users": ["analysts"], "limitations": ["benchmark only"],
        "model_card": {"approach": "supervised", "task": "classification"}}))
    settings = {"model": "model", "out": "bom.cdx.json",
                "metrics": {"accuracy": 0.9},
                "datasets": [{"name": "train", "path": "train.csv", "classification": "public",
                              "public": True, "source": "https://example.org/train.csv",
                              "retrieved_at": "2025-01-01T00:00:00Z", "custodian": "bench"}],
                "licenses": {"unknown": "ignore"}, "unknown_origin": "warn"}
    policy = {"system": {"name": SYSTEM, "version": VERSION},
              "gates": {"LG-SBOM": {"settings": settings}}}
    path = root / "lifegate.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LIFEGATE_")}


def _timed(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True,
                          check=False, timeout=600)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return seconds


def _steps(root: Path, policy_file: Path) -> dict[str, Callable[[], float]]:
    policy = load_policy(policy_file)
    cdx_out = root / "cdxpy.json"

    def in_process() -> float:
        t0 = time.perf_counter()
        run = run_gate_by_id("LG-SBOM", policy, make_context(policy), raise_on_block=False)
        seconds = time.perf_counter() - t0
        if run.result.verdict is not Verdict.PASS:
            raise RuntimeError(f"LG-SBOM: {run.result.findings}")
        return seconds

    return {
        "cli": lambda: _timed([str(BIN / "lifegate"), "sbom", "-p", str(policy_file)], root),
        "gate_in_process": in_process,
        "cyclonedx_py_no_validate": lambda: _timed(
            [str(CDX), "environment", "--no-validate", "-o", str(cdx_out), sys.executable],
            root),
    }


def _counts(path: Path) -> dict[str, int]:
    doc: dict[str, Any] = json.loads(path.read_text())
    comps = doc.get("components", [])
    return {"components": len(comps),
            "with_hashes": sum(1 for c in comps if c.get("hashes")),
            "with_licenses": sum(1 for c in comps if c.get("licenses")),
            "external_references": sum(len(c.get("externalReferences", [])) for c in comps),
            "bytes": path.stat().st_size}


def sbom_bench(folder: Path, sizes: Sizes) -> Section:
    if not CDX.exists():
        return {"skipped": f"{CDX} not found (dev dependency cyclonedx-bom)"}, []
    root = folder / "sbom"
    policy_file = make_project(root)
    steps = _steps(root, policy_file)
    best: dict[str, float] = {}
    for _ in range(sizes.runs):
        for name, step in steps.items():
            best[name] = min(best.get(name, float("inf")), step())
    validating = None
    if not sizes.runs < 3:  # the full run only: about 25 s, almost all of it IRI checks
        validating = _timed([str(CDX), "environment", "-o", str(root / "cdxpy-valid.json"),
                             sys.executable], root)
    data = {"runs": sizes.runs, "seconds": {k: round(v, 3) for k, v in best.items()},
            "cyclonedx_py_validating_seconds": None if validating is None
            else round(validating, 3),
            "lifegate_bom": _counts(root / "bom.cdx.json"),
            "cyclonedx_py_bom": _counts(root / "cdxpy.json"),
            "ratio_cli_vs_cyclonedx_py_no_validate":
                round(best["cli"] / best["cyclonedx_py_no_validate"], 3),
            "ratio_gate_vs_cyclonedx_py_no_validate":
                round(best["gate_in_process"] / best["cyclonedx_py_no_validate"], 3),
            "note": NOTE}
    shutil.rmtree(root, ignore_errors=True)
    return data, _rows(data)


def _rows(data: dict[str, Any]) -> list[Row]:
    s = data["seconds"]
    ours, theirs = data["lifegate_bom"], data["cyclonedx_py_bom"]
    base = s["cyclonedx_py_no_validate"]
    what = (f"s cyclonedx-py environment --no-validate ({theirs['components']} components, "
            f"{theirs['with_hashes']} hashed)")
    rows = [Row(f"sbom: lifegate sbom CLI ({ours['components']} components, "
                f"{ours['with_hashes']} hashed, validated)", s["cli"], "s", base, what, NOTE),
            Row("sbom: LG-SBOM gate in a warm process", s["gate_in_process"], "s", base, what)]
    if data["cyclonedx_py_validating_seconds"] is not None:
        rows.append(Row("sbom: cyclonedx-py environment (validating)",
                        data["cyclonedx_py_validating_seconds"], "s", s["cli"],
                        "s lifegate sbom CLI"))
    return rows
