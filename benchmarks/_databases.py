"""Fresh databases for each benchmark run: an SQLite file, or a new PostgreSQL database."""

from __future__ import annotations

import itertools
import os
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import make_url

_counter = itertools.count(1)


class Backend(Protocol):
    """Where a benchmark run's ledger lives, plus a raw DB-API connection for the baseline."""

    label: str
    raw_begin: str
    placeholder: str
    lock_suffix: str

    def fresh(self, tag: str) -> AbstractContextManager[str]:
        """A URL of an empty database for ``SqlStore``, removed afterwards where possible."""
        ...

    def raw_connect(self, url: str) -> Any: ...


class SqliteBackend:
    label = "SQLite"
    raw_begin = "BEGIN IMMEDIATE"
    placeholder = "?"
    lock_suffix = ""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @contextmanager
    def fresh(self, tag: str) -> Iterator[str]:
        yield f"sqlite:///{self.folder / f'{tag}-{next(_counter)}.db'}"

    def raw_connect(self, url: str) -> Any:
        """sqlite3 set up like lifegate's store: WAL, synchronous=FULL, our own BEGIN."""
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=60000")
        return conn


class PostgresBackend:
    label = "PostgreSQL"
    raw_begin = "BEGIN"
    placeholder = "%s"
    lock_suffix = " FOR UPDATE"

    def __init__(self, url: str) -> None:
        self.admin = make_url(url).set(drivername="postgresql")

    def _admin(self, statement: str, name: str) -> None:
        import psycopg
        from psycopg import sql

        conninfo = self.admin.render_as_string(hide_password=False)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL(statement).format(sql.Identifier(name)))

    @contextmanager
    def fresh(self, tag: str) -> Iterator[str]:
        """CREATE DATABASE (autocommit) for the run; DROP it (WITH FORCE) afterwards."""
        name = f"lifegate_bench_{tag}_{os.getpid()}_{next(_counter)}"
        self._admin("DROP DATABASE IF EXISTS {}", name)
        self._admin("CREATE DATABASE {}", name)
        try:
            yield self.admin.set(drivername="postgresql+psycopg", database=name) \
                .render_as_string(hide_password=False)
        finally:
            self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)

    def raw_connect(self, url: str) -> Any:
        import psycopg

        conninfo = make_url(url).set(drivername="postgresql").render_as_string(
            hide_password=False)
        return psycopg.connect(conninfo, autocommit=True)
