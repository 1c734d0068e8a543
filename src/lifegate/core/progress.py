"""Progress of long work (hashing, signing) for whoever shows it: the CLI draws a bar.

Gates run in a worker thread, so the sink is process-wide rather than a context variable.
Without a sink, progress calls cost nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

__all__ = ["ProgressSink", "set_sink", "task"]


class ProgressSink(Protocol):
    def start(self, label: str, total: int) -> None: ...

    def advance(self, n: int) -> None: ...

    def finish(self) -> None: ...


_sink: ProgressSink | None = None
_lock = threading.Lock()


def set_sink(sink: ProgressSink | None) -> None:
    global _sink
    _sink = sink


@contextmanager
def task(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """Report ``total`` units of work; yields ``advance(n)``."""
    sink = _sink
    if sink is None:
        yield lambda n: None
        return
    sink.start(label, total)

    def advance(n: int) -> None:
        with _lock:
            sink.advance(n)

    try:
        yield advance
    finally:
        sink.finish()
