"""Ledger scenarios under concurrent and killed writers, shared by the SQLite and PostgreSQL tests.

Each writer is a separate OS process (multiprocessing "spawn") with its own engine. The worker
functions live in this plain module (importable because pytest puts tests/ on sys.path) so that
the spawned children can import them. ``run_concurrent_writers`` and ``run_killed_writers`` run
a whole scenario, with all its assertions, against the ledger at a SQLAlchemy URL.
"""

from __future__ import annotations

import base64
import json
import multiprocessing as mp
import os
import queue
import signal
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import pairwise
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import pytest

from lifegate.evidence.keys import KeyPair, Signer, load_public_key
from lifegate.evidence.ledger import Ledger
from lifegate.evidence.statement import PredicateType, statement, system_subject
from lifegate.evidence.store import LedgerStore, Record, open_store

WRITERS = 8
PER_WRITER = 50
SPAWN = mp.get_context("spawn")


def writer_statement(writer: int, i: int) -> dict[str, Any]:
    return statement([system_subject("concurrency-test", "1.0")], PredicateType.ATTESTATION,
                     {"writer": writer, "i": i, "pid": os.getpid()})


def auditor(url: str, pair: KeyPair) -> Ledger:
    """A fresh reader that trusts only the test key and requires every record to be signed."""
    return Ledger(open_store(url), trusted={pair.keyid: load_public_key(pair.public)},
                  require_signatures=True)


def _append_worker(url: str, key: str, writer: int, n: int, barrier: Any, out: Any) -> None:
    """Child process: open the ledger, wait for the others, append n signed statements."""
    ledger = Ledger(open_store(url), Signer.from_file(Path(key)))
    barrier.wait(timeout=120)
    seqs = [ledger.append(writer_statement(writer, i), PredicateType.ATTESTATION).seq
            for i in range(n)]
    out.put((writer, seqs))


def _endless_worker(url: str, key: str, writer: int, ready: Any) -> None:
    """Child process: append until killed; say so after the first append."""
    ledger = Ledger(open_store(url), Signer.from_file(Path(key)))
    ledger.append(writer_statement(writer, 0), PredicateType.ATTESTATION)
    ready.put(writer)
    i = 1
    while True:
        ledger.append(writer_statement(writer, i), PredicateType.ATTESTATION)
        i += 1


@contextmanager
def _running(procs: list[BaseProcess]) -> Iterator[list[BaseProcess]]:
    for p in procs:
        p.start()
    try:
        yield procs
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
            p.join(30)


def _fail_if_dead(procs: list[BaseProcess]) -> None:
    dead = [(p.name, p.exitcode) for p in procs if p.exitcode not in (None, 0)]
    if dead:
        pytest.fail(f"writer processes died: {dead} (their traceback is in the captured stderr)")


def _wait_until_all_append(procs: list[BaseProcess], ready: Any, store: LedgerStore,
                           more: int = 20) -> None:
    """Block until every writer has appended, then until `more` further records landed."""
    deadline = time.monotonic() + 120
    started: set[int] = set()
    while len(started) < len(procs):
        try:
            started.add(ready.get(timeout=0.5))
        except queue.Empty:
            _fail_if_dead(procs)
            assert time.monotonic() < deadline, f"only {len(started)} writers started in 120 s"
    target = store.head()[0] + more
    while store.head()[0] < target:
        _fail_if_dead(procs)
        assert time.monotonic() < deadline, "the writers stopped appending"
        time.sleep(0.01)


def _collect(procs: list[BaseProcess], out: Any, timeout: float = 240) -> dict[int, list[int]]:
    results: dict[int, list[int]] = {}
    deadline = time.monotonic() + timeout
    while len(results) < len(procs):
        try:
            writer, seqs = out.get(timeout=0.5)
        except queue.Empty:
            _fail_if_dead(procs)
            if time.monotonic() > deadline:
                pytest.fail(f"only {len(results)} of {len(procs)} writers finished in {timeout}s")
            continue
        results[writer] = seqs
    return results


def _writer_of(rec: Record) -> int:
    stmt = json.loads(base64.b64decode(json.loads(rec.envelope)["payload"]))
    return int(stmt["predicate"]["writer"])


def run_concurrent_writers(url: str, key: KeyPair) -> None:
    """WRITERS processes append PER_WRITER records each; the chain loses and forks nothing."""
    barrier, out = SPAWN.Barrier(WRITERS), SPAWN.Queue()
    procs = [SPAWN.Process(target=_append_worker, name=f"writer-{w}",
                           args=(url, str(key.private), w, PER_WRITER, barrier, out))
             for w in range(WRITERS)]
    with _running(procs):
        results = _collect(procs, out)
        for p in procs:
            p.join(60)
    assert [p.exitcode for p in procs] == [0] * WRITERS

    total = WRITERS * PER_WRITER
    ledger = auditor(url, key)
    report = ledger.verify()
    assert (report.records, report.signed, report.head_seq) == (total, total, total)
    assert report.keyids == {key.keyid}

    recs = list(ledger.store.records())
    assert [r.seq for r in recs] == list(range(1, total + 1))
    assert len({r.prev_hash for r in recs}) == total, "two records share a predecessor (fork)"
    assert all(b.prev_hash == a.record_hash for a, b in pairwise(recs))

    by_writer: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for entry in ledger.entries():
        by_writer[entry.predicate["writer"]].append((entry.seq, entry.predicate["i"]))
    assert sorted(by_writer) == list(range(WRITERS))
    for w, items in by_writer.items():
        assert [i for _, i in items] == list(range(PER_WRITER)), f"writer {w} lost records"
        assert [seq for seq, _ in items] == results[w], f"writer {w} was told wrong seqs"
    switches = sum(_writer_of(a) != _writer_of(b) for a, b in pairwise(recs))
    assert switches > WRITERS, "the writers did not run concurrently; the test proves nothing"


def run_killed_writers(url: str, key: KeyPair,
                       count_and_top: Callable[[LedgerStore], tuple[int, int]]) -> None:
    """Three writers SIGKILLed mid-append leave a verifiable ledger, no partial record, no lock.

    ``count_and_top(store)`` reads (row count, max seq) of the records table straight from the
    backend, with any backend-specific integrity check of its own.
    """
    store = open_store(url)  # schema exists before the writers start
    ready = SPAWN.Queue()
    procs = [SPAWN.Process(target=_endless_worker, name=f"doomed-{w}",
                           args=(url, str(key.private), w, ready))
             for w in range(3)]
    with _running(procs):
        # all three contend for the write lock (SQLite's file lock, PostgreSQL's head lock),
        # so some are inside an append when killed
        _wait_until_all_append(procs, ready, store)
        for p in procs:
            assert p.pid is not None
            os.kill(p.pid, signal.SIGKILL)
        for p in procs:
            p.join(30)
    assert [p.exitcode for p in procs] == [-signal.SIGKILL] * 3

    ledger = auditor(url, key)
    report = ledger.verify()
    count, top = count_and_top(store)
    assert report.records == report.head_seq == count == top >= 23
    assert store.head() == (report.head_seq, report.head_hash)

    # the dead writers left no lock behind: the ledger still takes appends
    writer = Ledger(open_store(url), Signer.from_file(key.private))
    ref = writer.append(writer_statement(99, 0), PredicateType.ATTESTATION)
    assert ref.seq == report.head_seq + 1
    assert ledger.verify().records == report.records + 1
