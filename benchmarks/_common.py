"""Shared pieces of the benchmark harness: sizes, result rows, timing and fast ledger builds."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import insert, update

from lifegate.evidence.dsse import canonical, envelope
from lifegate.evidence.keys import Signer, generate_keypair
from lifegate.evidence.ledger import Ledger
from lifegate.evidence.sql_store import SqlStore
from lifegate.evidence.statement import PredicateType, attestation_statement
from lifegate.evidence.store import Record, record_hash

SYSTEM = "bench"
VERSION = "1.0.0"


@dataclass(frozen=True)
class Sizes:
    """How much work each benchmark does; ``--quick`` picks the small set."""

    appends_1: int
    appends_8_each: int
    verify_records: int
    report_records: int
    hash_files: int
    hash_file_mib: int
    ecdsa_pairs: int
    sign_model_mib: int
    sign_small_files: int
    scan_file_mib: int
    runs: int  # best of how many, for the signing and scan figures


FULL = Sizes(appends_1=2000, appends_8_each=250, verify_records=100_000,
             report_records=10_000, hash_files=8, hash_file_mib=256, ecdsa_pairs=2000,
             sign_model_mib=4096, sign_small_files=500, scan_file_mib=1024, runs=3)
QUICK = Sizes(appends_1=100, appends_8_each=20, verify_records=2000,
              report_records=500, hash_files=8, hash_file_mib=8, ecdsa_pairs=300,
              sign_model_mib=64, sign_small_files=100, scan_file_mib=32, runs=1)


@dataclass(frozen=True)
class Row:
    """One printed figure, with the baseline measured in the same run (if it has one)."""

    name: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_what: str = ""
    note: str = ""


Section = tuple[dict[str, Any], list[Row]]


def per_second(count: float, seconds: float) -> float:
    return count / max(seconds, 1e-9)


def best_of(fn: Callable[[], object], runs: int = 3) -> float:
    """The shortest wall time of ``runs`` calls, in seconds."""
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


class RandomBytes:
    """Incompressible test data, fast: an AES-256-CTR keystream under a random key, several
    GB/s with AES-NI. (``os.urandom`` and ``random.randbytes`` make about 150 MB/s here,
    half a minute for a 4 GiB model.)"""

    def __init__(self, chunk: int = 16 << 20) -> None:
        cipher = Cipher(algorithms.AES(os.urandom(32)), modes.CTR(os.urandom(16)))
        self._enc = cipher.encryptor()
        self._zeros = memoryview(bytes(chunk))
        self._buf = bytearray(chunk + 15)  # update_into wants room for one block more

    def take(self, n: int) -> bytes:
        return self._enc.update(bytes(n))

    def write(self, f: IO[bytes], size: int) -> None:
        """Append ``size`` random bytes to ``f``, a chunk at a time."""
        view = memoryview(self._buf)
        while size:
            n = min(size, len(self._zeros))
            f.write(view[:self._enc.update_into(self._zeros[:n], self._buf)])
            size -= n


def write_random(path: Path, size: int, rnd: RandomBytes) -> Path:
    """A file of ``size`` random bytes, flushed to disk so no writeback overlaps a timing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        rnd.write(f, size)
        f.flush()
        os.fsync(f.fileno())
    return path


def read_file(path: Path, chunk: int = 4 << 20) -> int:
    """Read a file once in ``chunk``-sized ``readinto`` calls; returns its size."""
    buf = bytearray(chunk)
    total = 0
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            total += n
    return total


def make_key(tmp: Path) -> Path:
    return generate_keypair(tmp / "keys", name="bench").private


def bench_statement(i: int) -> dict[str, Any]:
    """The attestation statement the append and verify benchmarks write."""
    return attestation_statement(system=SYSTEM, version=VERSION, provision=f"5.{i % 13}.1-1",
                                 by="bench", role="developer",
                                 text=f"benchmark attestation number {i}", expires=None)


def signed_record(seq: int, prev: str, stmt: dict[str, Any], kind: PredicateType,
                  signer: Signer, keyid: str) -> Record:
    """The record ``Ledger.append`` would store at ``seq`` (same envelope, hash, signatures)."""
    env = canonical(envelope(stmt, signer)).decode()
    at = datetime.now(UTC).isoformat()
    h = record_hash(seq, prev, at, env)
    return Record(seq, prev, at, kind.kind, env, h, keyid, signer.sign_b64(h.encode()))


def build_ledger(url: str, signer: Signer,
                 statements: Iterable[tuple[dict[str, Any], PredicateType]],
                 batch: int = 5000) -> int:
    """Fast path for big test ledgers: build each record as ``Ledger.append`` does, but write
    them in one transaction (one append per transaction costs an fsync each). Returns the
    head seq. Writes the store's tables directly, so it is for benchmarks only."""
    from lifegate.evidence.sql_store import head_t, records_t

    store = SqlStore(url)
    Ledger(store, signer)  # stores the public key, as a real ledger would
    seq, prev = store.head()
    keyid = signer.keyid
    rows: list[dict[str, Any]] = []
    with store.engine.begin() as conn:
        for stmt, kind in statements:
            seq += 1
            rec = signed_record(seq, prev, stmt, kind, signer, keyid)
            rows.append(rec.to_json())
            prev = rec.record_hash
            if len(rows) >= batch:
                conn.execute(insert(records_t), rows)
                rows.clear()
        if rows:
            conn.execute(insert(records_t), rows)
        conn.execute(update(head_t).where(head_t.c.id == 1).values(seq=seq, record_hash=prev))
    store.dispose()
    return seq
