"""SQL ledger store through SQLAlchemy: an SQLite file by default, PostgreSQL by URL.

Appends serialise on the single head row (``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR
UPDATE`` on PostgreSQL), so concurrent writers never fork the chain; each append is one
transaction, so a writer killed mid-append leaves no partial record.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

from lifegate.core.errors import EvidenceError
from lifegate.evidence.store import GENESIS, Record, checked_head, missing_ledger

__all__ = ["SqlStore"]

metadata = MetaData()

records_t = Table(
    "lifegate_records", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("prev_hash", String(64), nullable=False, unique=True),
    Column("recorded_at", String(40), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("envelope", Text, nullable=False),
    Column("record_hash", String(64), nullable=False, unique=True),
    Column("chain_keyid", String(64)),
    Column("chain_sig", Text),
)
head_t = Table(
    "lifegate_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("record_hash", String(64), nullable=False),
)
keys_t = Table(
    "lifegate_keys", metadata,
    Column("keyid", String(64), primary_key=True),
    Column("pem", Text, nullable=False),
)


Index("ix_lifegate_records_kind_seq", records_t.c.kind, records_t.c.seq)

# Built once: SQLAlchemy caches their compiled form, so an append inside the lock stays cheap.
_INSERT_RECORD = insert(records_t)
_MOVE_HEAD = (update(head_t).where(head_t.c.id == 1)
              .values(seq=bindparam("new_seq"), record_hash=bindparam("new_hash")))


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class SqlStore:
    """A ledger in an SQL database."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.location = _redact(url)
        self._sqlite = url.startswith("sqlite")
        if self._sqlite and not create:
            path = url.removeprefix("sqlite:///").split("?", 1)[0]
            if not path or path == ":memory:" or not Path(path).is_file():
                raise missing_ledger(self.location)
        elif self._sqlite:
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine = create_engine(url, pool_pre_ping=not self._sqlite)
        except Exception as exc:  # bad URL, missing driver
            raise EvidenceError(f"cannot open ledger {self.location}: {exc}",
                                where=self.location,
                                fix="check ledger.url / LIFEGATE_LEDGER_URL; PostgreSQL needs "
                                "pip install 'lifegate[postgres]'") from None
        if self._sqlite:
            _sqlite_setup(self.engine)
        if create:
            self._init_schema()
        else:
            self._check_schema()

    def _check_schema(self) -> None:
        """For readers: the tables must exist; nothing is created."""
        from sqlalchemy import inspect

        try:
            names = set(inspect(self.engine).get_table_names())
        except OperationalError as exc:
            raise EvidenceError(f"cannot reach ledger {self.location}: {exc.orig}",
                                where=self.location,
                                fix="check that the database server is running") from None
        if not {"lifegate_records", "lifegate_head", "lifegate_keys"} <= names:
            raise missing_ledger(self.location)

    def _init_schema(self) -> None:
        for attempt in range(5):
            try:
                metadata.create_all(self.engine, checkfirst=True)
                with self.engine.begin() as conn:
                    if conn.execute(select(head_t.c.id)).first() is None:
                        conn.execute(insert(head_t).values(id=1, seq=0, record_hash=GENESIS))
                return
            except (IntegrityError, ProgrammingError):
                time.sleep(0.05 * (attempt + 1))  # another process created it first
            except OperationalError as exc:
                raise EvidenceError(f"cannot reach ledger {self.location}: {exc.orig}",
                                    where=self.location,
                                    fix="check that the database server is running") from None

    def _lock_head(self, conn: Connection) -> tuple[int, str]:
        stmt = select(head_t.c.seq, head_t.c.record_hash).where(head_t.c.id == 1)
        if not self._sqlite:
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).one()
        return int(row.seq), str(row.record_hash)

    def append(self, build: Callable[[int, str], Record]) -> Record:
        try:
            with self.engine.begin() as conn:
                seq, prev = self._lock_head(conn)
                rec = build(seq + 1, prev)
                conn.execute(_INSERT_RECORD, rec.to_json())
                conn.execute(_MOVE_HEAD, {"new_seq": rec.seq, "new_hash": rec.record_hash})
            return rec
        except DBAPIError as exc:
            raise EvidenceError(f"append to ledger {self.location} failed: {exc.orig}",
                                where=self.location) from None

    def records(self, start: int = 1, batch: int = 5000, stop: int | None = None,
                ) -> Iterator[Record]:
        """Records ``start``..``stop`` (all by default) in order of seq (the verifier checks
        that order)."""
        last = start - 1
        while True:
            query = select(records_t).where(records_t.c.seq > last)
            if stop is not None:
                query = query.where(records_t.c.seq <= stop)
            with self.engine.connect() as conn:
                rows = conn.execute(query.order_by(records_t.c.seq).limit(batch)).all()
            if not rows:
                return
            for row in rows:
                yield Record(**row._asdict())
            last = rows[-1].seq

    def newest(self, kind: str, batch: int = 500) -> Iterator[Record]:
        """Records of one kind, newest first (for "the latest run of gate X" look-ups)."""
        before: int | None = None
        while True:
            stmt = select(records_t).where(records_t.c.kind == kind)
            if before is not None:
                stmt = stmt.where(records_t.c.seq < before)
            with self.engine.connect() as conn:
                rows = conn.execute(stmt.order_by(records_t.c.seq.desc()).limit(batch)).all()
            if not rows:
                return
            for row in rows:
                yield Record(**row._asdict())
            before = rows[-1].seq

    def head(self) -> tuple[int, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(head_t.c.seq, head_t.c.record_hash)).all()
        return checked_head([tuple(r) for r in rows], self.location)

    def count(self) -> int:
        from sqlalchemy import func

        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(records_t)).scalar_one())

    def get(self, seq: int) -> Record | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(records_t).where(records_t.c.seq == seq)).first()
        return Record(**row._asdict()) if row else None

    def put_key(self, keyid: str, pem: str) -> None:
        for _ in range(3):
            try:
                with self.engine.begin() as conn:
                    if conn.execute(select(keys_t.c.keyid).where(keys_t.c.keyid == keyid)).first():
                        return
                    conn.execute(insert(keys_t).values(keyid=keyid, pem=pem))
                return
            except IntegrityError:
                continue

    def keys(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {r.keyid: r.pem for r in conn.execute(select(keys_t))}

    def dispose(self) -> None:
        self.engine.dispose()


def _redact(url: str) -> str:
    """The URL without its password, for messages and evidence references."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url
