"""The ledger store protocol and the record row it stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from lifegate.core.errors import EvidenceError
from lifegate.core.hashing import sha256_bytes
from lifegate.evidence.dsse import canonical

__all__ = ["GENESIS", "LedgerStore", "Record", "checked_head", "missing_ledger", "open_store",
           "record_hash"]

GENESIS = "0" * 64


def record_hash(seq: int, prev_hash: str, recorded_at: str, envelope: str) -> str:
    """What each record commits to: its place, its predecessor, its time and its envelope."""
    return sha256_bytes(canonical({"seq": seq, "prev": prev_hash, "recordedAt": recorded_at,
                                   "envelope": envelope}))


@dataclass(frozen=True)
class Record:
    seq: int
    prev_hash: str
    recorded_at: str
    kind: str
    envelope: str
    record_hash: str
    chain_keyid: str | None = None
    chain_sig: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class LedgerStore(Protocol):
    """Durable, append-only storage of records; one chain per store."""

    location: str

    def append(self, build: Callable[[int, str], Record]) -> Record:
        """Atomically: lock the head, build the next record from (seq, prev_hash), store it."""
        ...

    def records(self, start: int = 1, batch: int = 5000, stop: int | None = None,
                ) -> Iterator[Record]: ...

    def count(self) -> int: ...

    def newest(self, kind: str) -> Iterator[Record]: ...

    def head(self) -> tuple[int, str]: ...

    def get(self, seq: int) -> Record | None: ...

    def put_key(self, keyid: str, pem: str) -> None: ...

    def keys(self) -> dict[str, str]: ...


def open_store(url: str, *, create: bool = True) -> LedgerStore:
    """The store for a ledger URL: a plain ``sqlite:///PATH`` through the standard library
    (SQLAlchemy is not imported), any other URL (PostgreSQL, drivers, options) through
    SQLAlchemy. Both use the same tables, so a file opens with either. With ``create=False``
    (readers) a ledger that does not exist yet is an error, and nothing is created."""
    from lifegate.evidence.sqlite_store import SqliteStore, sqlite_path

    path = sqlite_path(url)
    if path is not None:
        return SqliteStore(path, url, create=create)
    from lifegate.evidence.sql_store import SqlStore

    return SqlStore(url, create=create)


def checked_head(rows: list[tuple[Any, ...]], location: str) -> tuple[int, str]:
    """The single head row as (seq, record hash); anything else is tampering."""
    from lifegate.core.errors import LedgerTamperedError

    if len(rows) == 1 and type(rows[0][0]) is int and isinstance(rows[0][1], str):
        return rows[0][0], rows[0][1]
    raise LedgerTamperedError(f"the head of ledger {location} is malformed ({len(rows)} rows)",
                              where=f"{location} (lifegate_head)",
                              fix="restore the ledger from a trusted copy or export")


def missing_ledger(location: str) -> EvidenceError:
    """The error a reader raises when the ledger it was pointed at does not exist."""
    return EvidenceError(f"there is no evidence ledger at {location}", where=location,
                         fix="check ledger.url / --ledger-url / LIFEGATE_LEDGER_URL; a ledger "
                         "is created by the first command that records evidence (a gate run, "
                         "`lifegate attest`), never by a read-only command")
