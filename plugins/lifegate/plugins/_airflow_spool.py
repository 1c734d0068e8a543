"""A durable local queue of platform events: one fsynced file per event, numbered in order.

The listener puts every event here first (a few milliseconds, no network), then a background
thread appends the queued events to the ledger in order and removes each one only after its
append succeeded. An event that could not be recorded (ledger unreachable, a key missing)
waits here for the next successful append. Each spool has a random id and numbers its events
1, 2, 3 ... per stream (the listener's stream is the connection and policy the event is for);
both go into the recorded statement, so a number missing from the ledger is an event that was
lost, and the report says so.

Several processes of one Airflow home (scheduler, local task processes) share the spool: the
number is taken under an exclusive lock, and one drainer at a time holds the drain lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["Spool", "default_spool_dir"]

log = logging.getLogger(__name__)
SPOOL_ENV = "LIFEGATE_AIRFLOW_SPOOL"


def default_spool_dir() -> Path:
    """``$LIFEGATE_AIRFLOW_SPOOL``, else ``$AIRFLOW_HOME/lifegate/spool``."""
    if os.environ.get(SPOOL_ENV):
        return Path(os.environ[SPOOL_ENV])
    from airflow.configuration import AIRFLOW_HOME

    return Path(AIRFLOW_HOME) / "lifegate" / "spool"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class Spool:
    """The queue in ``folder`` (created 0700 on first use)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.failed = folder / "unreadable"

    @contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with (self.folder / name).open("a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _bump(self, name: str) -> int:
        counter = self.folder / name
        n = int(counter.read_text() or 0) + 1 if counter.is_file() else 1
        _write_durably(counter, str(n).encode())
        return n

    def _next_number(self, stream: str) -> tuple[str, int, int]:
        """(stream id, number in the stream, number in the whole queue)."""
        ident = self.folder / "id"
        if not ident.is_file():
            _write_durably(ident, uuid.uuid4().hex.encode())
        tag = hashlib.sha256(stream.encode()).hexdigest()[:16]
        n = self._bump(f"counter-{tag}")
        return f"{ident.read_text().strip()}/{tag}", n, self._bump("counter")

    def put(self, event: dict[str, Any], stream: str = "") -> Path:
        """Number the event in its stream and store it durably; returns its file.

        A stream is what one ledger receives (the listener uses the connection and policy),
        so each ledger sees the numbers 1, 2, 3 ... of its own streams."""
        with self._locked(".counter.lock"):
            stream_id, n, order = self._next_number(stream)
            event = {**event, "spool": {"id": stream_id, "n": n}}
            path = self.folder / f"{order:012d}.json"
            _write_durably(path, json.dumps(event, sort_keys=True).encode())
        return path

    def pending(self) -> list[Path]:
        """The queued events, oldest first."""
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.glob("*.json") if p.name[0] != ".")

    @staticmethod
    def read(path: Path) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def done(self, path: Path) -> None:
        """The event is in the ledger: remove it from the queue."""
        path.unlink(missing_ok=True)
        _fsync_dir(self.folder)

    def set_aside(self, path: Path) -> None:
        """An event file that cannot be read is kept aside (its number will show as lost)."""
        self.failed.mkdir(mode=0o700, exist_ok=True)
        os.replace(path, self.failed / path.name)
        _fsync_dir(self.folder)

    @contextmanager
    def draining(self) -> Iterator[None]:
        """Held while one process appends queued events (keeps their order)."""
        with self._locked(".drain.lock"):
            yield
