"""The standard-library SQLite store and the SQLAlchemy store share one file format: same
schema, and a ledger written by either is read, verified and extended by the other."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from lifegate.core import EvidenceError
from lifegate.evidence.keys import KeyPair, Signer, generate_keypair, load_public_key
from lifegate.evidence.ledger import Ledger
from lifegate.evidence.sql_store import SqlStore
from lifegate.evidence.sqlite_store import SqliteStore, sqlite_path
from lifegate.evidence.statement import PredicateType, statement, system_subject
from lifegate.evidence.store import LedgerStore, open_store


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return generate_keypair(tmp_path_factory.mktemp("keys"))


def _schema(db: Path) -> list[tuple[str, str, str | None]]:
    with closing(sqlite3.connect(db)) as conn:
        return sorted(conn.execute("SELECT type, name, sql FROM sqlite_master"))


def _append(store: LedgerStore, pair: KeyPair, n: int, tag: str) -> Ledger:
    ledger = Ledger(store, Signer.from_file(pair.private),
                    {pair.keyid: load_public_key(pair.public)}, require_signatures=True)
    for i in range(n):
        ledger.append(statement([system_subject("sys", "1")], PredicateType.ATTESTATION,
                                {"tag": tag, "i": i}), PredicateType.ATTESTATION)
    return ledger


def test_open_store_picks_the_standard_library_for_plain_sqlite_urls(tmp_path: Path) -> None:
    assert isinstance(open_store(f"sqlite:///{tmp_path / 'a.db'}"), SqliteStore)
    assert isinstance(open_store(f"sqlite:///{tmp_path / 'b.db'}?timeout=5"), SqlStore)
    assert isinstance(open_store(f"sqlite+pysqlite:///{tmp_path / 'c.db'}"), SqlStore)
    assert sqlite_path("sqlite:///rel/l.db") == "rel/l.db"
    assert sqlite_path("sqlite:////abs/l.db") == "/abs/l.db"
    assert sqlite_path("postgresql://u@h/db") is None


def test_both_stores_create_the_same_schema(tmp_path: Path) -> None:
    SqlStore(f"sqlite:///{tmp_path / 'alchemy.db'}").dispose()
    SqliteStore(str(tmp_path / "stdlib.db"))
    assert _schema(tmp_path / "alchemy.db") == _schema(tmp_path / "stdlib.db")


@pytest.mark.parametrize(("first", "second"), [(SqlStore, SqliteStore), (SqliteStore, SqlStore)],
                         ids=["alchemy-then-stdlib", "stdlib-then-alchemy"])
def test_a_ledger_written_by_one_store_is_verified_and_extended_by_the_other(
        tmp_path: Path, pair: KeyPair, first: type, second: type) -> None:
    db = tmp_path / "ledger.db"
    open_first = (lambda: SqlStore(f"sqlite:///{db}")) if first is SqlStore \
        else (lambda: SqliteStore(str(db)))
    open_second = (lambda: SqlStore(f"sqlite:///{db}")) if second is SqlStore \
        else (lambda: SqliteStore(str(db)))
    before = _append(open_first(), pair, 3, "first")
    written = [e.record_hash for e in before.entries()]
    after = _append(open_second(), pair, 2, "second")
    report = after.verify()
    assert report.records == report.head_seq == 5
    assert [e.record_hash for e in after.entries()][:3] == written
    assert [e.predicate["tag"] for e in after.entries()] == ["first"] * 3 + ["second"] * 2
    assert open_first().head() == open_second().head() == (5, report.head_hash)
    assert [r.seq for r in open_first().newest("attestation")] == [5, 4, 3, 2, 1]
    assert open_first().keys() == open_second().keys() != {}


def test_in_memory_ledger_keeps_its_records(pair: KeyPair) -> None:
    ledger = _append(SqliteStore(":memory:"), pair, 3, "m")
    assert ledger.verify().records == 3


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "ledger.db"
    bogus.write_bytes(b"this is not an SQLite database, but a planted file" * 100)
    with pytest.raises(EvidenceError, match="cannot open ledger"):
        SqliteStore(str(bogus))
    assert bogus.read_bytes().startswith(b"this is not")
