"""`lifegate dvc release-check` on a DVC project tracking many files and a large model,
cold (every file hashed, MD5 and SHA-256) and warm (digests reused from the previous signed
LG-RELEASE record when size, mtime, ctime and inode match), against plain `dvc status`
(DVC's own state database is warm after `dvc add`) in the same run. All three through their
CLIs, so interpreter start-up is in every figure."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from _common import RandomBytes, Row, Section, best_of, write_random

FULL = {"files": 10_000, "file_bytes": 1024, "model_mib": 2048, "runs": 3}
QUICK = {"files": 200, "file_bytes": 1024, "model_mib": 16, "runs": 1}


def _env() -> dict[str, str]:
    bindir = str(Path(sys.executable).parent)
    return {**os.environ, "DVC_NO_ANALYTICS": "1",
            "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}


def _run(root: Path, *cmd: str, ok: tuple[int, ...] = (0,)) -> None:
    proc = subprocess.run(list(cmd), cwd=root, env=_env(), capture_output=True, text=True,
                          check=False, stdin=subprocess.DEVNULL)
    if proc.returncode not in ok:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n"
                             f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")


def _project(root: Path, sizes: dict[str, int]) -> None:
    from lifegate.evidence.keys import generate_keypair

    root.mkdir(parents=True)
    _run(root, "git", "init", "-q")
    _run(root, "dvc", "init", "-q")
    _run(root, "dvc", "config", "core.analytics", "false")
    files = root / "data" / "files"
    files.mkdir(parents=True)
    rnd = RandomBytes()
    for i in range(sizes["files"]):
        (files / f"{i // 100:03d}" / f"f{i:05d}.bin").parent.mkdir(exist_ok=True)
        (files / f"{i // 100:03d}" / f"f{i:05d}.bin").write_bytes(rnd.take(sizes["file_bytes"]))
    write_random(root / "models" / "model.bin", sizes["model_mib"] << 20, rnd)
    _run(root, "dvc", "add", "-q", "data/files", "models/model.bin")
    pair = generate_keypair(root / ".lifegate" / "keys", "bench")
    policy = {"system": {"name": "bench-dvc", "version": "1"},
              "keys": {"signing_key": str(pair.private),
                       "trusted": [{"name": "bench", "public_key": str(pair.public)}]},
              "gates": {"LG-RELEASE": {"settings": {"models": ["models/model.bin"],
                                                    "release_entries": [], "recheck": []}}}}
    (root / "lifegate.yaml").write_text(yaml.safe_dump(policy))
    _run(root, sys.executable, "-m", "lifegate.cli", "sign", "models/model.bin")


def _release_check(root: Path, *args: str) -> None:
    _run(root, sys.executable, "-m", "lifegate.cli", "dvc", "release-check", *args)


def _last_metrics(root: Path) -> dict[str, Any]:
    from lifegate.core import load_policy
    from lifegate.evidence.ledger import latest_result

    entry = latest_result(load_policy(root / "lifegate.yaml"), "LG-RELEASE")
    assert entry is not None
    metrics: dict[str, Any] = entry.predicate["result"]["metrics"]
    return metrics


def dvc_bench(folder: Path, quick: bool) -> Section:
    sizes = QUICK if quick else FULL
    root = folder / "dvc-project"
    t0 = time.perf_counter()
    _project(root, sizes)
    setup_s = time.perf_counter() - t0
    runs = sizes["runs"]
    status_s = best_of(lambda: _run(root, "dvc", "status", "-q", ok=(0, 1)), runs)
    cold_s = best_of(lambda: _release_check(root, "--no-reuse"), runs)
    cold = _last_metrics(root)
    time.sleep(2.1)  # files written by the last cold run's record are now past the racy window
    _release_check(root)  # records digests that are all reusable next time
    warm_s = best_of(lambda: _release_check(root), runs)
    warm = _last_metrics(root)
    what = "s plain `dvc status`"
    files = int(cold["files"])
    data = {"files": files, "model_bytes": sizes["model_mib"] << 20, "runs": runs,
            "setup_seconds": round(setup_s, 2), "dvc_status_seconds": round(status_s, 3),
            "cold_seconds": round(cold_s, 3), "warm_seconds": round(warm_s, 3),
            "cold_hashed": cold["hashed"], "warm_reused": warm["reused"],
            "warm_hashed": warm["hashed"],
            "cold_vs_dvc_status": round(cold_s / status_s, 2),
            "warm_vs_dvc_status": round(warm_s / status_s, 2)}
    label = f"{files:,} files + {sizes['model_mib']} MiB model"
    rows = [Row(f"dvc release-check cold, {label}", cold_s, "s", status_s, what,
                note="every file hashed (MD5 for the lock, SHA-256 as evidence)"),
            Row(f"dvc release-check warm, {label}", warm_s, "s", status_s, what,
                note=f"{int(warm['reused']):,} digests reused, {int(warm['hashed'])} hashed")]
    return data, rows
