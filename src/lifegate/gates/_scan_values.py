"""The values of the LG-SCAN stack model: what a pickle would build, described, never built."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["UNKNOWN", "DictV", "Global", "Large", "Obj", "Unknown"]


class Unknown:
    """A value the model does not track (a list, a set, the result of a call ...)."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = Unknown()


@dataclass(frozen=True)
class Large:
    """A payload too large to keep (skipped in chunks): its size only."""

    size: int


@dataclass(frozen=True)
class Global:
    """A global the stream imports (module and name as the unpickler resolves them)."""

    module: str
    name: str

    @property
    def key(self) -> tuple[str, str]:
        return self.module, self.name


@dataclass(eq=False)
class Obj:
    """What REDUCE, NEWOBJ, OBJ or INST would build: the callable, its arguments, and the
    state a later BUILD applies."""

    func: object
    args: object
    state: object = UNKNOWN
    built: bool = False


@dataclass(eq=False)
class DictV:
    """A dict literal (EMPTY_DICT / DICT + SETITEM(S)) with its hashable constant keys."""

    items: dict[object, object] = field(default_factory=dict)
