"""The default ledger (an SQLite file) under concurrent and killed writers.

Several Airflow or Kedro tasks on one machine share this file; each writer is a separate OS
process (multiprocessing "spawn") with its own store (the standard library's sqlite3, as
``open_store`` picks for a plain SQLite URL). The scenarios, shared with the
PostgreSQL tests, are in tests/ledger_concurrency.py.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from lifegate.evidence.keys import KeyPair, generate_keypair
from lifegate.evidence.store import LedgerStore

pytest.register_assert_rewrite("ledger_concurrency")  # detailed assertion failures from there

from ledger_concurrency import run_concurrent_writers, run_killed_writers  # noqa: E402


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return generate_keypair(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger" / "ledger.db"


@pytest.mark.slow
def test_concurrent_writers_never_lose_or_fork_the_chain(db_path: Path,
                                                         signing_key: KeyPair) -> None:
    run_concurrent_writers(f"sqlite:///{db_path}", signing_key)


@pytest.mark.slow
def test_writer_killed_mid_append_leaves_no_partial_record(db_path: Path,
                                                           signing_key: KeyPair) -> None:
    def count_and_top(_store: LedgerStore) -> tuple[int, int]:
        with closing(sqlite3.connect(db_path)) as conn:
            count, top = conn.execute("SELECT count(*), max(seq) FROM lifegate_records").fetchone()
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return count, top

    run_killed_writers(f"sqlite:///{db_path}", signing_key, count_and_top)
