"""Inventory hashing throughput as a ratio to the machine's 2-core SHA-256 limit.

The limit is Python's ``hashlib.sha256`` (OpenSSL, which uses the CPU's SHA extensions) on
two threads over the same page-cached files. Debian's ``sha256sum`` is not the baseline: it
lacks SHA-NI, so it would flatter lifegate.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import yaml
from _common import SYSTEM, VERSION, Row, Section, Sizes, best_of

from lifegate.core import Policy, Verdict, load_policy, run_gate_by_id
from lifegate.core.hashing import hash_files

CHUNK = 4 << 20  # baseline read size
THREADS = 2
TARGET = 0.9
NOTE = ("baseline: hashlib.sha256 (OpenSSL, SHA-NI) on 2 threads, 4 MiB readinto; Debian's "
        "sha256sum is not used because it lacks SHA-NI")


def make_files(folder: Path, count: int, size: int) -> list[Path]:
    """``count`` files of ``size`` random bytes, flushed to disk so no writeback overlaps."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"part-{i:02d}.bin"
        with path.open("wb") as f:
            left = size
            while left:
                f.write(os.urandom(min(left, 16 << 20)))
                left -= min(left, 16 << 20)
            f.flush()
            os.fsync(f.fileno())
        paths.append(path)
    return paths


def sha256_whole(path: Path, chunk: int = CHUNK) -> str:
    h = hashlib.sha256()
    buf = bytearray(chunk)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def baseline(paths: list[Path]) -> list[str]:
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(partial(sha256_whole, chunk=CHUNK), paths))


def inventory_policy(folder: Path, key: Path) -> Policy:
    """A lifegate.yaml naming the data folder, with a private SQLite ledger; the overrides
    beat any LIFEGATE_* variables in the environment."""
    (folder / "lifegate.yaml").write_text(yaml.safe_dump({
        "system": {"name": SYSTEM, "version": VERSION},
        "gates": {"LG-INV": {"settings": {"datasets": ["data"]}}}}))
    return load_policy(folder / "lifegate.yaml", overrides={
        ("ledger", "url"): f"sqlite:///{folder / 'ledger.db'}",
        ("keys", "signing_key"): str(key),
        ("system", "name"): SYSTEM, ("system", "version"): VERSION})


def _run_gate(policy: Policy) -> None:
    run = run_gate_by_id("LG-INV", policy, raise_on_block=False)
    if run.result.verdict is not Verdict.PASS:
        raise AssertionError(f"LG-INV did not pass: {run.result.findings}")


def best_interleaved(fns: dict[str, Callable[[], object]], runs: int = 3) -> dict[str, float]:
    """Best-of-``runs`` seconds for each, taking turns so background load hits all alike."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(runs):
        for name, fn in fns.items():
            best[name] = min(best[name], best_of(fn, runs=1))
    return best


def hashing_bench(folder: Path, key: Path, sizes: Sizes) -> Section:
    size = sizes.hash_file_mib << 20
    paths = make_files(folder / "data", sizes.hash_files, size)
    total = size * len(paths)
    expected = baseline(paths)  # reads every file once: warms the page cache
    if [d.sha256 for d in hash_files(paths)] != expected:
        raise AssertionError("hash_files and hashlib disagree on a digest")
    policy = inventory_policy(folder, key)
    seconds = best_interleaved({"baseline": lambda: baseline(paths),
                                "hash_files": lambda: hash_files(paths),
                                "gate": lambda: _run_gate(policy)})
    gbps = {k: total / s / 1e9 for k, s in seconds.items()}
    data = {"files": len(paths), "file_bytes": size, "total_bytes": total,
            "baseline_gb_per_s": round(gbps["baseline"], 3),
            "hash_files_gb_per_s": round(gbps["hash_files"], 3),
            "gate_gb_per_s": round(gbps["gate"], 3),
            "hash_files_ratio": round(gbps["hash_files"] / gbps["baseline"], 3),
            "gate_ratio": round(gbps["gate"] / gbps["baseline"], 3),
            "target_ratio": TARGET, "threads": THREADS, "baseline_chunk_bytes": CHUNK,
            "note": NOTE}
    what = "GB/s, hashlib on 2 threads (the limit)"
    label = f"{len(paths)} x {sizes.hash_file_mib} MiB"
    rows = [Row(f"SHA-256 limit, {label}", gbps["baseline"], "GB/s", note=NOTE),
            Row("hash_files", gbps["hash_files"], "GB/s", gbps["baseline"], what,
                note=f"target ratio >= {TARGET}"),
            Row("LG-INV gate (hash + record)", gbps["gate"], "GB/s", gbps["baseline"], what,
                note=f"target ratio >= {TARGET}")]
    return data, rows
