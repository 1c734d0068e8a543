"""LG-DATA and LG-DRIFT on 1M and 10M rows x 20 columns (quick: 20k and 200k).

- LG-DATA total (read Parquet, hash it, GX checkpoint, evidence, ledger record), poisoning
  checks off, against the same suite run directly through a GX checkpoint on the same file
  in the same process (read Parquet + checkpoint). GX is imported before any timing.
- Poisoning checks (``run_checks``, all six, against a reference of the same size) and the
  drift statistics of every column (``feature_drift``), on frames already in memory: time,
  peak extra memory (resident set sampled every 5 ms, minus the resident set before; glibc
  told to mmap allocations over 64 KiB so that freed memory leaves the resident set) against
  the current DataFrame's own size, and the small -> large scaling factor.
- The whole LG-DRIFT gate (reads both files, statistics, JSON + HTML report, ledger record).
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from _common import SYSTEM, VERSION, Row, Section, best_of

FLOATS = 18
SEGMENTS = np.array(["north", "south", "east", "west", "centre"])
SUITE = [
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "f0"}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "label"}},
    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "f1", "min_value": -10, "max_value": 10}},
    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "f2", "min_value": -10, "max_value": 10, "mostly": 0.99}},
    {"type": "expect_column_values_to_be_in_set",
     "kwargs": {"column": "label", "value_set": [0, 1, 2, 3, 4]}},
    {"type": "expect_column_values_to_be_in_set",
     "kwargs": {"column": "segment", "value_set": [str(s) for s in SEGMENTS]}},
    {"type": "expect_column_mean_to_be_between",
     "kwargs": {"column": "f3", "min_value": -1, "max_value": 1}},
    {"type": "expect_column_stdev_to_be_between",
     "kwargs": {"column": "f4", "min_value": 0.5, "max_value": 2}},
]


def make_frame(rows: int, seed: int) -> Any:
    """18 float64 columns, an integer label and a string segment: 20 columns."""
    import pandas as pd  # type: ignore[import-untyped]

    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {f"f{i}": rng.standard_normal(rows) for i in range(FLOATS)}
    cols["label"] = rng.integers(0, 5, rows)
    cols["segment"] = SEGMENTS[rng.integers(0, len(SEGMENTS), rows)]
    return pd.DataFrame(cols)


class PeakRss:
    """Peak resident set above the level at start, sampled every 5 ms in a thread."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self.base = self.peak = _rss()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __enter__(self) -> PeakRss:
        gc.collect()
        self.base = self.peak = _rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())

    @property
    def extra(self) -> int:
        return self.peak - self.base


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def _policy(folder: Path, checks: dict[str, Any]) -> Any:
    from lifegate.core import load_policy

    folder.mkdir(parents=True, exist_ok=True)
    off = {k: None for k in ("max_label_shift", "max_duplicate_rate",
                             "max_near_duplicate_rate", "max_out_of_range_fraction",
                             "max_outlier_fraction", "max_unseen_category_fraction")}
    (folder / "lifegate.yaml").write_text(yaml.safe_dump({
        "system": {"name": SYSTEM, "version": VERSION},
        "gates": {"LG-DATA": {"settings": {"expectations": SUITE, "checks": {**off, **checks}}},
                  "LG-DRIFT": {"settings": {"prediction_column": "label"}}}}))
    return load_policy(folder / "lifegate.yaml")


def gx_checkpoint(path: Path) -> bool:
    """The baseline: read the file and run the suite through a GX checkpoint."""
    import great_expectations as gx
    import pandas as pd
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    df = pd.read_parquet(path)
    ctx = gx.get_context(mode="ephemeral", project_config=DataContextConfig(
        progress_bars=ProgressBarsConfig(globally=False),  # as lifegate runs it
        store_backend_defaults=InMemoryStoreBackendDefaults()))
    bd = ctx.data_sources.add_pandas("pd").add_dataframe_asset("df") \
        .add_batch_definition_whole_dataframe("all")
    suite = ctx.suites.add(gx.ExpectationSuite(name="bench", expectations=SUITE))
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name="v", data=bd, suite=suite))
    cp = ctx.checkpoints.add(gx.Checkpoint(name="c", validation_definitions=[vd], actions=[],
                                           result_format={"result_format": "SUMMARY"}))
    return bool(cp.run(batch_parameters={"dataframe": df}).success)


def lg_data(policy: Any, path: Path) -> str:
    from lifegate.core import make_context, run_gate_by_id

    ctx = make_context(policy, artifacts={"dataset": str(path)})
    return run_gate_by_id("LG-DATA", policy, ctx, raise_on_block=False).result.verdict.value


def lg_drift(policy: Any, ref: Path, cur: Path) -> str:
    from lifegate.core import make_context, run_gate_by_id
    from lifegate.core.model import Phase

    ctx = make_context(policy, Phase.MAINTENANCE,
                       artifacts={"reference": str(ref), "current": str(cur)})
    return run_gate_by_id("LG-DRIFT", policy, ctx, raise_on_block=False).result.verdict.value


def drift_all(ref: Any, cur: Any) -> int:
    from lifegate.gates._data_drift import feature_drift

    out = [feature_drift(str(c), ref[c], cur[c], 10, 20, c == "label") for c in ref.columns]
    return sum(f.psi > 0.2 for f in out)


def measured(fn: Callable[[], object], runs: int) -> tuple[float, int]:
    """Best-of-``runs`` seconds and the largest peak extra memory of those runs."""
    best, extra = float("inf"), 0
    for _ in range(runs):
        with PeakRss() as peak:
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        extra = max(extra, peak.extra)
    return best, extra


def in_memory(folder: Path, rows: int, runs: int) -> tuple[dict[str, float], dict[str, int],
                                                          int]:
    """Write both files; time the poisoning checks and the drift statistics in memory."""
    from lifegate.gates._data_poison import PoisonSettings, run_checks

    ref, cur = make_frame(rows, 1), make_frame(rows, 2)
    ref.to_parquet(folder / f"ref-{rows}.parquet")
    cur.to_parquet(folder / f"cur-{rows}.parquet")
    checks = PoisonSettings(label_column="label")
    seconds, extra = {}, {}
    seconds["poisoning"], extra["poisoning"] = measured(lambda: run_checks(cur, ref, checks),
                                                        runs)
    seconds["drift_stats"], extra["drift_stats"] = measured(lambda: drift_all(ref, cur), runs)
    return seconds, extra, int(cur.memory_usage(deep=True).sum())


def one_size(folder: Path, rows: int, runs: int) -> dict[str, Any]:
    seconds, extra, df_bytes = in_memory(folder, rows, runs)
    gc.collect()
    ref_path, cur_path = folder / f"ref-{rows}.parquet", folder / f"cur-{rows}.parquet"
    plain = _policy(folder / f"p-{rows}", {})
    cpu: dict[str, float] = {}
    for _ in range(runs + 1):  # taking turns, so background load hits both alike
        for name, fn in (("gx_checkpoint", lambda: gx_checkpoint(cur_path)),
                         ("lg_data", lambda: lg_data(plain, cur_path))):
            gc.collect()  # GX keeps the last run's frame in reference cycles: free it first
            c0 = time.process_time()
            seconds[name] = min(seconds.get(name, 1e9), best_of(fn, 1))
            cpu[name] = min(cpu.get(name, 1e9), time.process_time() - c0)
    verdict = lg_data(plain, cur_path)
    seconds["lg_drift"], extra["lg_drift_gate"] = measured(
        lambda: lg_drift(plain, ref_path, cur_path), 1)
    file_bytes = cur_path.stat().st_size
    for p in (ref_path, cur_path):
        p.unlink()
    return {"rows": rows, "columns": 20, "dataframe_bytes": df_bytes,
            "parquet_bytes": file_bytes, "lg_data_verdict": verdict,
            "seconds": {k: round(v, 3) for k, v in seconds.items()},
            "peak_extra_bytes": extra,
            "cpu_seconds": {k: round(v, 3) for k, v in cpu.items()},
            "lg_data_vs_gx": round(seconds["lg_data"] / seconds["gx_checkpoint"], 3),
            "lg_data_vs_gx_cpu": round(cpu["lg_data"] / cpu["gx_checkpoint"], 3),
            "poisoning_memory_ratio": round(extra["poisoning"] / df_bytes, 3),
            "drift_memory_ratio": round(extra["drift_stats"] / df_bytes, 3)}


def _exact_rss() -> None:
    """glibc: serve every allocation over 64 KiB by mmap and give it back on free, so the
    resident set follows what is allocated (the default threshold adapts up to 32 MiB and
    would hide reused heap)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").mallopt(-3, 64 << 10)  # M_MMAP_THRESHOLD
    except OSError:
        pass


def data_bench(folder: Path, quick: bool) -> Section:
    import great_expectations  # noqa: F401  (import excluded from every timing)

    _exact_rss()
    small, large = (20_000, 200_000) if quick else (1_000_000, 10_000_000)
    runs = 1 if quick else 2
    work = folder / "data"
    work.mkdir(parents=True, exist_ok=True)
    results = {str(n): one_size(work, n, runs) for n in (small, large)}
    a, b = results[str(small)], results[str(large)]
    scaling = {k: round(b["seconds"][k] / a["seconds"][k], 2)
               for k in ("poisoning", "drift_stats", "lg_drift", "lg_data", "gx_checkpoint")}
    data = {"sizes": results, "scaling": scaling, "rows_factor": large / small,
            "targets": {"lg_data_vs_gx": 1.15, "memory_ratio": 2.0, "scaling": 11.0}}
    return data, _rows(results, scaling, small, large)


def _rows(results: dict[str, Any], scaling: dict[str, float], small: int,
          large: int) -> list[Row]:
    rows = []
    for n, r in results.items():
        label = f"{int(n):,} rows x 20"
        s = r["seconds"]
        mb = r["dataframe_bytes"] / 1e6
        rows += [
            Row(f"LG-DATA total, {label}", s["lg_data"], "s", s["gx_checkpoint"],
                "s GX checkpoint (same suite, same file)", note=f"target <= 1.15x; verdict "
                f"{r['lg_data_verdict']}"),
            Row(f"LG-DATA CPU time (all threads), {label}", r["cpu_seconds"]["lg_data"], "s",
                r["cpu_seconds"]["gx_checkpoint"], "s GX checkpoint CPU time",
                note="less sensitive to other work on the machine than wall time"),
            Row(f"poisoning checks, {label}", s["poisoning"], "s"),
            Row(f"poisoning peak extra memory, {label}",
                r["peak_extra_bytes"]["poisoning"] / 1e6, "MB", mb, "MB DataFrame",
                note="target <= 2x"),
            Row(f"drift statistics (20 columns), {label}", s["drift_stats"], "s"),
            Row(f"drift peak extra memory, {label}", r["peak_extra_bytes"]["drift_stats"] / 1e6,
                "MB", mb, "MB DataFrame", note="target <= 2x"),
            Row(f"LG-DRIFT gate (reads both files), {label}", s["lg_drift"], "s")]
    for k, v in scaling.items():
        rows.append(Row(f"scaling {small:,} -> {large:,} rows: {k}", v, "x",
                        large / small, "x more rows", note="target <= 11x"
                        if k in ("poisoning", "drift_stats") else ""))
    return rows
