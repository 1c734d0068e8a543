"""Helpers of the DVC integration tests: the example's own demo module, lifegate and commands
run in a project with the demo's environment (analytics off, this interpreter on PATH)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "example_pipelines" / "dvc" / "run_demo.py"


def _demo() -> Any:
    spec = importlib.util.spec_from_file_location("dvc_run_demo", DEMO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["dvc_run_demo"] = module
    spec.loader.exec_module(module)
    return module


demo = _demo()


def lifegate(root: Path, *args: str, stdin: str | None = None,
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lifegate.cli", *args], cwd=root,
                          env=demo.env(), text=True, capture_output=True,
                          input=stdin, check=False, timeout=300)


def run(root: Path, *cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), cwd=root, env=demo.env(), text=True,
                          capture_output=True, check=False, timeout=600,
                          stdin=subprocess.DEVNULL)
