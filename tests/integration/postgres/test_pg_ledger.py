"""The ledger on a real PostgreSQL server: concurrent writers, killed writers, tampering.

Each writer is a separate OS process (multiprocessing "spawn") with its own engine, as Airflow
workers on several machines would be. The concurrency scenarios, shared with the SQLite tests,
are in tests/ledger_concurrency.py.
"""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import text

from lifegate.core.errors import LedgerTamperedError
from lifegate.evidence.keys import KeyPair, Signer, generate_keypair
from lifegate.evidence.ledger import Ledger
from lifegate.evidence.sql_store import SqlStore
from lifegate.evidence.statement import PredicateType
from lifegate.evidence.store import LedgerStore

pytest.register_assert_rewrite("ledger_concurrency")  # detailed assertion failures from there

from ledger_concurrency import (  # noqa: E402
    auditor,
    run_concurrent_writers,
    run_killed_writers,
    writer_statement,
)

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return generate_keypair(tmp_path_factory.mktemp("keys"))


def _count_and_top(store: LedgerStore) -> tuple[int, int]:
    assert isinstance(store, SqlStore)  # a PostgreSQL URL opens through SQLAlchemy
    with store.engine.connect() as conn:
        count, top = conn.execute(text("SELECT count(*), max(seq) FROM lifegate_records")).one()
    return count, top


@pytest.mark.slow
def test_concurrent_writers_never_lose_or_fork_the_chain(pg_ledger_url: str,
                                                         signing_key: KeyPair) -> None:
    run_concurrent_writers(pg_ledger_url, signing_key)


@pytest.mark.slow
def test_writer_killed_mid_append_leaves_no_partial_record(pg_ledger_url: str,
                                                           signing_key: KeyPair) -> None:
    run_killed_writers(pg_ledger_url, signing_key, _count_and_top)


def _five_records(url: str, pair: KeyPair) -> Ledger:
    ledger = Ledger(SqlStore(url), Signer.from_file(pair.private))
    for i in range(5):
        ledger.append(writer_statement(0, i), PredicateType.ATTESTATION)
    assert auditor(url, pair).verify().records == 5
    return ledger


def test_sql_update_of_an_envelope_is_detected(pg_ledger_url: str,
                                               signing_key: KeyPair) -> None:
    ledger = _five_records(pg_ledger_url, signing_key)
    with ledger.store.engine.begin() as conn:
        raw = conn.execute(text("SELECT envelope FROM lifegate_records WHERE seq = 3")).scalar()
        env = json.loads(raw)
        stmt = json.loads(base64.b64decode(env["payload"]))
        stmt["predicate"]["i"] = 999
        env["payload"] = base64.b64encode(json.dumps(stmt).encode()).decode()
        conn.execute(text("UPDATE lifegate_records SET envelope = :e WHERE seq = 3"),
                     {"e": json.dumps(env)})
    with pytest.raises(LedgerTamperedError) as exc:
        auditor(pg_ledger_url, signing_key).verify()
    assert exc.value.seq == 3
    assert "#3" in str(exc.value)


def test_sql_delete_of_a_middle_record_is_detected(pg_ledger_url: str,
                                                   signing_key: KeyPair) -> None:
    ledger = _five_records(pg_ledger_url, signing_key)
    with ledger.store.engine.begin() as conn:
        conn.execute(text("DELETE FROM lifegate_records WHERE seq = 3"))
    with pytest.raises(LedgerTamperedError) as exc:
        auditor(pg_ledger_url, signing_key).verify()
    assert exc.value.seq == 3
