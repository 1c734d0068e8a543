"""Kedro hooks overhead: example_pipelines/kedro (5 nodes: fetch the iris data, clean, split,
train a scikit-learn model, evaluate) run as in-process KedroSessions.

- baseline: lifegate's hooks switched off for the project (``DISABLE_HOOKS_FOR_PLUGINS``);
- hooks, no config: the hooks registered through the ``kedro.hooks`` entry point, and the
  project has no ``conf/<env>/lifegate.yml`` (every Kedro project in a venv with lifegate);
- hooks, no gates: ``lifegate.yml`` is read and translated into a policy, and names no gates.

Each variant has its own copy of the project (own package name), all in this process; runs
are interleaved, in a rotating order, after one warm-up run each. Session create + run is
timed as CPU time of this process (median; robust on a machine shared with other work) and as
wall time (best of the runs), each against the baseline's figure of the same kind.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from _common import Row, Section

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "example_pipelines" / "kedro"
PACKAGE = "iris_kedro_demo"
ENTRY_POINTS = "[kedro.hooks]\nlifegate = lifegate.plugins.kedro_hooks:hooks\n"
NO_GATES = """system: {name: bench, version: "1.0.0"}
ledger: {url: "sqlite:///.lifegate/ledger.db"}
kedro: {before_pipeline: [], datasets: [], models: []}
"""


def _entry_point(folder: Path) -> None:
    """Make the ``kedro.hooks`` entry point visible (a stand-in when not installed)."""
    dist = importlib.metadata.distribution("lifegate")
    if any(ep.group == "kedro.hooks" for ep in dist.entry_points):
        return
    info = folder / "entry-points" / f"lifegate-{dist.version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: lifegate\n"
                                   f"Version: {dist.version}\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    sys.path.insert(0, str(info.parent))
    importlib.invalidate_caches()


def _project(folder: Path, variant: str) -> Path:
    dest = folder / f"kedro-{variant}"
    package = f"{PACKAGE}_{uuid.uuid4().hex[:10]}"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(
        "data", ".lifegate", "__pycache__", "run_demo.py"))
    (dest / "src" / PACKAGE).rename(dest / "src" / package)
    for rel in ("pyproject.toml", "conf/base/catalog.yml", f"src/{package}/pipeline_registry.py"):
        path = dest / rel
        path.write_text(path.read_text().replace(PACKAGE, package))
    config = dest / "conf" / "base" / "lifegate.yml"
    if variant == "baseline":
        settings = dest / "src" / package / "settings.py"
        settings.write_text(settings.read_text() + 'DISABLE_HOOKS_FOR_PLUGINS = ("lifegate",)\n')
        config.unlink()
    elif variant == "no_config":
        config.unlink()
    else:
        config.write_text(NO_GATES)
    return dest


def _run(project: Path) -> tuple[float, float, float]:
    """(CPU seconds, wall seconds, seconds inside hook calls) of one session create + run."""
    from kedro.framework.session import KedroSession  # noqa: TID251
    from kedro.framework.startup import bootstrap_project  # noqa: TID251

    bootstrap_project(project)
    c0, t0 = time.process_time(), time.perf_counter()
    with KedroSession.create(project_path=project) as session:
        in_hooks = _monitor(session._hook_manager)
        session.run()
    return time.process_time() - c0, time.perf_counter() - t0, sum(in_hooks)


def _monitor(manager: Any) -> list[float]:
    """Time spent in every hook call (all plugins), through pluggy's call monitoring."""
    spent: list[float] = []
    started: list[float] = []

    def before(*_: Any) -> None:
        started.append(time.perf_counter())

    def after(*_: Any) -> None:
        spent.append(time.perf_counter() - started.pop())

    manager.add_hookcall_monitoring(before, after)
    return spent


def kedro_bench(folder: Path, quick: bool) -> Section:
    import logging
    import os

    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
    _entry_point(folder)
    variants = ("baseline", "no_config", "no_gates")
    projects = {v: _project(folder, v) for v in variants}
    cpu: dict[str, list[float]] = {v: [] for v in variants}
    wall: dict[str, list[float]] = {v: [] for v in variants}
    hooks: dict[str, list[float]] = {v: [] for v in variants}
    logging.disable(logging.INFO)  # Kedro's rich console logging is not what is measured
    try:
        for v in variants:
            _run(projects[v])  # warm-up: imports, first catalog
        for i in range(2 if quick else 30):
            for v in variants[i % 3:] + variants[:i % 3]:
                c, w, h = _run(projects[v])
                cpu[v].append(c)
                wall[v].append(w)
                hooks[v].append(h)
    finally:
        logging.disable(logging.NOTSET)
    med = {v: statistics.median(t) for v, t in cpu.items()}
    best = {v: min(t) for v, t in wall.items()}
    in_hooks = {v: statistics.median(t) for v, t in hooks.items()}
    data: dict[str, Any] = {"cpu_median_seconds": med, "wall_best_seconds": best,
                            "runs": {v: len(t) for v, t in cpu.items()},
                            "hook_median_seconds": in_hooks,
                            "cpu_seconds": cpu, "wall_seconds": wall, "hook_seconds": hooks}
    labels = (("no_config", "no lifegate.yml"), ("no_gates", "lifegate.yml, no gates"))
    rows = [Row(f"kedro run CPU, hooks, {label}", med[v], "s", med["baseline"],
                "s without lifegate", note="median; target <= 1.05 of the baseline")
            for v, label in labels]
    rows += [Row(f"kedro run wall, hooks, {label}", best[v], "s", best["baseline"],
                 "s without lifegate", note="best of the runs")
             for v, label in labels]
    rows += [Row(f"time in all hooks, {label}", in_hooks[v] * 1000, "ms",
                 in_hooks["baseline"] * 1000, "ms in hooks without lifegate",
                 note=f"lifegate's share: {(in_hooks[v] - in_hooks['baseline']) * 1000:.2f} ms"
                 f" = {(in_hooks[v] - in_hooks['baseline']) / med['baseline']:.1%} of the "
                 "baseline run's median CPU time (median)")
             for v, label in labels]
    return data, rows
