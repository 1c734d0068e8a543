"""The default ledger, an SQLite file, through the standard library's ``sqlite3``.

The same tables, columns and locking as :class:`lifegate.evidence.sql_store.SqlStore` (which
serves PostgreSQL and any other SQLAlchemy URL), so either store opens a file the other wrote.
It exists because importing SQLAlchemy costs about 0.2 s, and every ``lifegate`` command, DAG
task and Kedro or DVC run that records evidence would pay it.

Appends take the write lock first (``BEGIN IMMEDIATE``), so concurrent writers never fork the
chain; each append is one transaction, so a writer killed mid-append leaves no partial record.
WAL journal, ``synchronous=FULL``, and a 60 s busy timeout, as the SQLAlchemy store sets them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from lifegate.core.errors import EvidenceError
from lifegate.evidence.store import GENESIS, Record, checked_head, missing_ledger

__all__ = ["SqliteStore", "sqlite_path"]

# The DDL SQLAlchemy emits for sql_store's tables (checked by a test), so files are shared.
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS lifegate_records (\n\tseq INTEGER NOT NULL, \n\t"
    "prev_hash VARCHAR(64) NOT NULL, \n\trecorded_at VARCHAR(40) NOT NULL, \n\t"
    "kind VARCHAR(40) NOT NULL, \n\tenvelope TEXT NOT NULL, \n\t"
    "record_hash VARCHAR(64) NOT NULL, \n\tchain_keyid VARCHAR(64), \n\tchain_sig TEXT, \n\t"
    "PRIMARY KEY (seq), \n\tUNIQUE (prev_hash), \n\tUNIQUE (record_hash)\n)",
    "CREATE INDEX IF NOT EXISTS ix_lifegate_records_kind_seq ON lifegate_records (kind, seq)",
    "CREATE TABLE IF NOT EXISTS lifegate_head (\n\tid INTEGER NOT NULL, \n\t"
    "seq INTEGER NOT NULL, \n\trecord_hash VARCHAR(64) NOT NULL, \n\tPRIMARY KEY (id)\n)",
    "CREATE TABLE IF NOT EXISTS lifegate_keys (\n\tkeyid VARCHAR(64) NOT NULL, \n\t"
    "pem TEXT NOT NULL, \n\tPRIMARY KEY (keyid)\n)",
)
_SELECT = ("SELECT seq, prev_hash, recorded_at, kind, envelope, record_hash, chain_keyid, "
           "chain_sig FROM lifegate_records ")
_INSERT = ("INSERT INTO lifegate_records (seq, prev_hash, recorded_at, kind, envelope, "
           "record_hash, chain_keyid, chain_sig) VALUES (:seq, :prev_hash, :recorded_at, :kind, "
           ":envelope, :record_hash, :chain_keyid, :chain_sig)")


def sqlite_path(url: str) -> str | None:
    """The file of a plain ``sqlite:///PATH`` URL (``:memory:`` included); None for any other
    URL (a driver name, query parameters, another database), which SQLAlchemy opens."""
    if not url.startswith("sqlite:///") or "?" in url:
        return None
    return url.removeprefix("sqlite:///") or None


class SqliteStore:
    """A ledger in an SQLite file; one short-lived connection per operation."""

    def __init__(self, path: str, url: str | None = None, *, create: bool = True) -> None:
        self.location = url or f"sqlite:///{path}"
        self.path = path
        self._memory: sqlite3.Connection | None = None
        if not create:
            self._check_exists()
            return
        if path == ":memory:":  # one connection for the store's life: the data lives in it
            self._memory = self._open()
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._write() as conn:
                for ddl in SCHEMA:
                    conn.execute(ddl)
                conn.execute("INSERT OR IGNORE INTO lifegate_head (id, seq, record_hash) "
                             "VALUES (1, 0, ?)", (GENESIS,))
        except sqlite3.DatabaseError as exc:
            raise EvidenceError(f"cannot open ledger {self.location}: {exc}",
                                where=self.location,
                                fix="check ledger.url / LIFEGATE_LEDGER_URL and that the file "
                                "is an SQLite database this user may write") from None

    def _check_exists(self) -> None:
        """For readers: the file must exist and hold a ledger; nothing is created."""
        if self.path == ":memory:" or not Path(self.path).is_file():
            raise missing_ledger(self.location)
        try:
            with self._conn() as conn:
                tables = {r[0] for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise EvidenceError(f"cannot read ledger {self.location}: {exc}",
                                where=self.location) from None
        if not {"lifegate_records", "lifegate_head", "lifegate_keys"} <= tables:
            raise missing_ledger(self.location)

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=60000")
        if self.path != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        if self._memory is not None:
            yield self._memory
            return
        with closing(self._open()) as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction holding the database's write lock from its start."""
        with self._conn() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def append(self, build: Callable[[int, str], Record]) -> Record:
        try:
            with self._write() as conn:
                seq, prev = conn.execute(
                    "SELECT seq, record_hash FROM lifegate_head WHERE id = 1").fetchone()
                rec = build(int(seq) + 1, str(prev))
                conn.execute(_INSERT, rec.to_json())
                conn.execute("UPDATE lifegate_head SET seq = ?, record_hash = ? WHERE id = 1",
                             (rec.seq, rec.record_hash))
            return rec
        except sqlite3.DatabaseError as exc:
            raise EvidenceError(f"append to ledger {self.location} failed: {exc}",
                                where=self.location) from None

    def records(self, start: int = 1, batch: int = 5000, stop: int | None = None,
                ) -> Iterator[Record]:
        """Records ``start``..``stop`` (all by default) in order of seq (the verifier checks
        that order)."""
        last = start - 1
        end = (1 << 62) if stop is None else stop
        while True:
            with self._conn() as conn:
                rows = conn.execute(_SELECT + "WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                                    (last, end, batch)).fetchall()
            if not rows:
                return
            for row in rows:
                yield Record(*row)
            last = rows[-1][0]

    def newest(self, kind: str, batch: int = 500) -> Iterator[Record]:
        """Records of one kind, newest first (for "the latest run of gate X" look-ups)."""
        before: int | None = None
        while True:
            below = before if before is not None else 1 << 62
            with self._conn() as conn:
                rows = conn.execute(_SELECT + "WHERE kind = ? AND seq < ? ORDER BY seq DESC "
                                    "LIMIT ?", (kind, below, batch)).fetchall()
            if not rows:
                return
            for row in rows:
                yield Record(*row)
            before = rows[-1][0]

    def head(self) -> tuple[int, str]:
        with self._conn() as conn:
            rows = conn.execute("SELECT seq, record_hash FROM lifegate_head").fetchall()
        return checked_head(rows, self.location)

    def count(self) -> int:
        with self._conn() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM lifegate_records").fetchone()[0])

    def get(self, seq: int) -> Record | None:
        with self._conn() as conn:
            row = conn.execute(_SELECT + "WHERE seq = ?", (seq,)).fetchone()
        return Record(*row) if row else None

    def put_key(self, keyid: str, pem: str) -> None:
        with self._write() as conn:
            conn.execute("INSERT OR IGNORE INTO lifegate_keys (keyid, pem) VALUES (?, ?)",
                         (keyid, pem))

    def keys(self) -> dict[str, str]:
        with self._conn() as conn:
            return {str(k): str(p) for k, p in conn.execute("SELECT keyid, pem FROM lifegate_keys")}

    def dispose(self) -> None:
        if self._memory is not None:
            self._memory.close()
            self._memory = None
