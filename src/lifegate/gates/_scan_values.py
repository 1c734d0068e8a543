"""The values of the LG-SCAN stack model: what a pickle would build, described, never built."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["UNKNOWN", "DictV", "Global", "Large", "Obj", "Unknown", "brief"]


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


def brief(value: object, depth: int = 2, width: int = 80) -> str:
    """A short description of a modelled value for a message: bounded in depth and length
    (a pickle can nest a value 100 000 levels deep, which ``repr`` cannot print)."""
    if isinstance(value, Global):
        return f"{value.module}.{value.name}"
    if isinstance(value, Obj):
        return "<the result of a call>"
    if isinstance(value, tuple | list):
        if depth <= 0:
            return f"<{type(value).__name__} of {len(value)}>"
        inner = ", ".join(brief(v, depth - 1, width) for v in value[:5])
        more = ", ..." if len(value) > 5 else ""
        text = f"({inner}{more})"
    elif isinstance(value, DictV):
        text = f"<dict of {len(value.items)}>"
    else:
        text = repr(value) if isinstance(value, str | bytes | int | float | bool | None) \
            else f"<{type(value).__name__}>"
    return text if len(text) <= width else text[:width - 3] + "..."
