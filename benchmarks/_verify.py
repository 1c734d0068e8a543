"""Ledger.verify() over a large signed ledger, against the ECDSA P-256 verify limit."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

from _common import Row, Section, Sizes, bench_statement, build_ledger, per_second

from lifegate.evidence.dsse import pae
from lifegate.evidence.keys import Signer, load_public_key, verify_signature
from lifegate.evidence.ledger import Ledger
from lifegate.evidence.sql_store import SqlStore
from lifegate.evidence.statement import PredicateType


def ecdsa_limit(store: SqlStore, pairs: int) -> float:
    """Records/s if verifying cost only the two signature checks per record (statement and
    chain link), measured on the ledger's first record."""
    rec = next(store.records())
    env = json.loads(rec.envelope)
    key = load_public_key(next(iter(store.keys().values())))
    body = pae(env["payloadType"], base64.b64decode(env["payload"]))
    body_sig = base64.b64decode(env["signatures"][0]["sig"])
    assert rec.chain_sig is not None
    chain_msg, chain_sig = rec.record_hash.encode(), base64.b64decode(rec.chain_sig)
    t0 = time.perf_counter()
    for _ in range(pairs):
        ok = verify_signature(key, body_sig, body) and verify_signature(key, chain_sig,
                                                                        chain_msg)
        assert ok
    return per_second(pairs, time.perf_counter() - t0)


def verify_bench(folder: Path, key: Path, sizes: Sizes) -> Section:
    """Build a signed ledger of ``sizes.verify_records`` (fast path), then time verify()."""
    n = sizes.verify_records
    url = f"sqlite:///{folder / 'verify.db'}"
    t0 = time.perf_counter()
    build_ledger(url, Signer.from_file(key),
                 ((bench_statement(i), PredicateType.ATTESTATION) for i in range(n)))
    build_s = time.perf_counter() - t0
    store = SqlStore(url)
    t0 = time.perf_counter()
    report = Ledger(store).verify()
    seconds = time.perf_counter() - t0
    if report.records != n or report.signed != n:
        raise AssertionError(f"verify saw {report.records} records, expected {n}")
    limit = ecdsa_limit(store, sizes.ecdsa_pairs)
    store.dispose()
    rate = per_second(n, seconds)
    what = "at the ECDSA limit (2 P-256 verifies per record)"
    data = {"records": n, "build_seconds": round(build_s, 3), "seconds": round(seconds, 3),
            "records_per_s": round(rate, 1), "baseline_ecdsa_records_per_s": round(limit, 1),
            "baseline_seconds": round(n / limit, 3), "baseline_what": what}
    rows = [Row(f"verify, {n:,} signed records", seconds, "s", n / limit, f"s {what}"),
            Row("verify rate", rate, "records/s", limit, f"records/s {what}")]
    return data, rows
