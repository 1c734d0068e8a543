"""Ledger appends per second, signed, from 1 and from 8 processes, against a bare-driver
baseline that runs the same transaction without lifegate (no signing, no SQLAlchemy)."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import queue
import time
from pathlib import Path
from typing import Any

from _common import Row, Section, Sizes, bench_statement, per_second
from _databases import Backend

from lifegate.evidence.keys import Signer
from lifegate.evidence.ledger import Ledger
from lifegate.evidence.sql_store import SqlStore
from lifegate.evidence.statement import PredicateType

PROCESSES = 8


def _append_loop(ledger: Ledger, first: int, n: int) -> tuple[float, float]:
    """Append ``n`` statements; return (start, end) on the system-wide monotonic clock."""
    stmts = [bench_statement(first + i) for i in range(n)]
    t0 = time.monotonic()
    for stmt in stmts:
        ledger.append(stmt, PredicateType.ATTESTATION)
    return t0, time.monotonic()


def _append_worker(url: str, key: str, n: int, worker: int, barrier: Any, out: Any) -> None:
    """One spawned writer: open the ledger, wait for the others, append, report times."""
    try:
        ledger = Ledger(SqlStore(url), Signer.from_file(Path(key)))
        barrier.wait(timeout=300)
        t0, t1 = _append_loop(ledger, worker * n, n)
        ledger.store.dispose()  # type: ignore[attr-defined]
        out.put(("ok", t0, t1, ""))
    except BaseException as exc:
        out.put(("error", 0.0, 0.0, f"worker {worker}: {type(exc).__name__}: {exc}"))
        raise


def _collect(out: Any, workers: list[Any]) -> list[tuple[str, float, float, str]]:
    """One report per worker; fail rather than hang when a worker dies without one."""
    results: list[tuple[str, float, float, str]] = []
    while len(results) < len(workers):
        alive = any(p.is_alive() for p in workers)
        try:
            results.append(out.get(timeout=1.0 if alive else 5.0))
        except queue.Empty:
            if not alive:
                codes = [p.exitcode for p in workers]
                raise RuntimeError(f"append workers died without reporting: {codes}") from None
    return results


def append_processes(url: str, key: Path, n_each: int, processes: int) -> float:
    """Wall seconds from the first writer's start to the last writer's end (spawned)."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(processes), ctx.Queue()
    workers = [ctx.Process(target=_append_worker, args=(url, str(key), n_each, w, barrier, out))
               for w in range(processes)]
    for p in workers:
        p.start()
    try:
        results = _collect(out, workers)
    finally:
        for p in workers:
            p.join(timeout=60)
    errors = [r[3] for r in results if r[0] != "ok"]
    if errors:
        raise RuntimeError("append benchmark failed: " + "; ".join(errors))
    return max(r[2] for r in results) - min(r[1] for r in results)


def check_ledger(url: str, expected: int) -> None:
    """The chain holds exactly ``expected`` records and verifies (signatures included)."""
    store = SqlStore(url)
    report = Ledger(store).verify()
    store.dispose()
    if report.records != expected or report.signed != expected:
        raise AssertionError(f"{url}: {report.records} records ({report.signed} signed), "
                             f"expected {expected}")


def raw_commits(backend: Backend, url: str, n: int) -> float:
    """Seconds for ``n`` bare-driver transactions shaped like an append: lock the head row,
    insert one record of realistic size, move the head, commit."""
    SqlStore(url).dispose()  # the same schema lifegate creates
    envelope = '{"payload":"' + "A" * 900 + '"}'
    ph = backend.placeholder
    lock = f"SELECT seq, record_hash FROM lifegate_head WHERE id = 1{backend.lock_suffix}"
    ins = f"INSERT INTO lifegate_records VALUES ({', '.join([ph] * 8)})"
    move = f"UPDATE lifegate_head SET seq = {ph}, record_hash = {ph} WHERE id = 1"
    hashes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n + 1)]
    conn = backend.raw_connect(url)
    cur = conn.cursor()
    t0 = time.perf_counter()
    for seq in range(1, n + 1):
        cur.execute(backend.raw_begin)
        cur.execute(lock)
        cur.fetchone()
        cur.execute(ins, (seq, hashes[seq - 1], "2025-01-01T00:00:00+00:00", "attestation",
                          envelope, hashes[seq], "k" * 64, "s" * 96))
        cur.execute(move, (seq, hashes[seq]))
        cur.execute("COMMIT")
    seconds = time.perf_counter() - t0
    conn.close()
    return seconds


def _figures(appends: int, seconds: float) -> dict[str, float]:
    return {"appends": appends, "seconds": round(seconds, 4),
            "appends_per_s": round(per_second(appends, seconds), 1)}


def append_bench(backend: Backend, key: Path, sizes: Sizes) -> Section:
    """1 writer in this process, then 8 spawned writers, each on a fresh database."""
    n1, n8 = sizes.appends_1, sizes.appends_8_each * PROCESSES
    with backend.fresh("raw") as url:
        raw = per_second(n1, raw_commits(backend, url, n1))
    with backend.fresh("append1") as url:
        store = SqlStore(url)
        t0, t1 = _append_loop(Ledger(store, Signer.from_file(key)), 0, n1)
        store.dispose()
        check_ledger(url, n1)
    with backend.fresh("append8") as url:
        SqlStore(url).dispose()  # create the schema before the writers race for it
        seconds8 = append_processes(url, key, sizes.appends_8_each, PROCESSES)
        check_ledger(url, n8)
    one, eight = _figures(n1, t1 - t0), _figures(n8, seconds8)
    what = "commits/s, bare driver, same transaction, no signing"
    data = {"backend": backend.label, "baseline_raw_commits_per_s": round(raw, 1),
            "baseline_what": what, "processes_1": one,
            "processes_8": {**eight, "processes": PROCESSES, "verified": True}}
    rows = [Row(f"append, {backend.label}, 1 process", one["appends_per_s"], "appends/s",
                raw, what),
            Row(f"append, {backend.label}, {PROCESSES} processes", eight["appends_per_s"],
                "appends/s", raw, what, note="count and verify() checked")]
    return data, rows


def skipped_append(label: str, reason: str) -> Section:
    return {"backend": label, "skipped": reason}, [Row(f"append, {label}", None, "",
                                                      note=f"skipped: {reason}")]
