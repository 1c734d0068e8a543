"""A signed SQLite ledger with a few records, and raw SQL access to tamper with it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lifegate.evidence.keys import KeyPair, Signer, generate_keypair, load_public_key
from lifegate.evidence.ledger import Ledger
from lifegate.evidence.sql_store import SqlStore
from lifegate.evidence.statement import PredicateType, statement, system_subject


@pytest.fixture
def keypair(tmp_path: Path) -> KeyPair:
    return generate_keypair(tmp_path / "keys")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


def _make_ledger(db: Path, keypair: KeyPair, checkpoint_dir: Path | None = None) -> Ledger:
    signer = Signer.from_file(keypair.private)
    pub = load_public_key(keypair.public)
    return Ledger(SqlStore(f"sqlite:///{db}"), signer, {keypair.keyid: pub},
                  require_signatures=True, checkpoint_dir=checkpoint_dir)


@pytest.fixture
def make_ledger() -> Callable[..., Ledger]:
    return _make_ledger


@pytest.fixture
def ledger(db: Path, keypair: KeyPair) -> Ledger:
    led = _make_ledger(db, keypair)
    for i in range(6):
        led.append(statement([system_subject("sys", "1")], PredicateType.ATTESTATION,
                             {"system": "sys", "provision": "5.1.1-1", "n": i, "by": "a",
                              "role": "developer", "statement": "x", "expires": None}),
                   PredicateType.ATTESTATION)
    return led


@pytest.fixture
def sql(db: Path, ledger: Ledger) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(db, isolation_level=None)
    yield conn
    conn.close()
