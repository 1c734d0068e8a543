"""The stack half of the pickle walker: the unpickler's stack, marks and memo, modelled.

Values are descriptions (:mod:`lifegate.gates._scan_values`), never objects built from the
stream. The rules follow CPython's ``_pickle.c``: a MARK fences the stack (nothing below it
can be popped), POP on an empty fence drops the mark, MEMOIZE stores at the count of memo
entries. Wherever the real unpickler would fail, so does the model (:class:`CorruptError`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from lifegate.gates._scan_common import CorruptError
from lifegate.gates._scan_values import UNKNOWN, DictV, Global

__all__ = ["DATA_HANDLERS", "Problem", "StackModel"]


@dataclass(frozen=True)
class Problem:
    rule: str
    message: str
    critical: bool = False


class StackModel:
    def __init__(self) -> None:
        self.stack: list[object] = []
        self.marks: list[int] = []
        self.memo: dict[object, object] = {}
        self.problems: list[Problem] = []

    def _problem(self, rule: str, message: str, *, critical: bool = False) -> None:
        self.problems.append(Problem(rule, message, critical))

    def _push(self, value: object) -> None:
        self.stack.append(value)

    def _pop(self, pos: int) -> object:
        if len(self.stack) <= (self.marks[-1] if self.marks else 0):
            raise CorruptError(f"stack underflow at offset {pos}")
        return self.stack.pop()

    def _top(self, pos: int) -> object:
        value = self._pop(pos)
        self.stack.append(value)
        return value

    def _pop_mark(self, pos: int) -> list[object]:
        if not self.marks:
            raise CorruptError(f"no MARK on the stack at offset {pos}")
        k = self.marks.pop()
        items = self.stack[k:]
        del self.stack[k:]
        return items

    def _target(self, target: object, opcode: str, pos: int) -> None:
        """Picklers only fill objects they just built; one that alters an imported global
        (a class, module or registry) patches the loading process."""
        if isinstance(target, Global):
            self._problem("SCAN-MUTATE-GLOBAL", f"{opcode} at offset {pos} changes the "
                          f"imported global {target.module}.{target.name} itself; loading "
                          "would patch it for the whole process")

    def op_mark(self, arg: object, pos: int) -> None:
        self.marks.append(len(self.stack))

    def op_pop(self, arg: object, pos: int) -> None:
        if len(self.stack) > (self.marks[-1] if self.marks else 0):
            self.stack.pop()
        elif self.marks:
            self.marks.pop()
        else:
            raise CorruptError(f"POP on an empty stack at offset {pos}")

    def op_pop_mark(self, arg: object, pos: int) -> None:
        self._pop_mark(pos)

    def op_dup(self, arg: object, pos: int) -> None:
        self._push(self._top(pos))

    def op_get(self, arg: object, pos: int) -> None:
        if arg not in self.memo:
            raise CorruptError(f"memo entry {arg!r} read at offset {pos} was never stored")
        self._push(self.memo[arg])

    def op_put(self, arg: object, pos: int) -> None:
        if not isinstance(arg, int) or arg < 0:
            raise CorruptError(f"bad memo index {arg!r} at offset {pos}")
        self.memo[arg] = self._top(pos)

    def op_memoize(self, arg: object, pos: int) -> None:
        self.memo[len(self.memo)] = self._top(pos)

    def op_tuple(self, arg: object, pos: int) -> None:
        self._push(tuple(self._pop_mark(pos)))

    def op_tuple_n(self, n: int, pos: int) -> None:
        items = [self._pop(pos) for _ in range(n)]
        self._push(tuple(reversed(items)))

    def op_empty_dict(self, arg: object, pos: int) -> None:
        self._push(DictV())

    def op_dict(self, arg: object, pos: int) -> None:
        d = DictV()
        self._set_items(d, self._pop_mark(pos), pos)
        self._push(d)

    def op_setitem(self, arg: object, pos: int) -> None:
        value, key = self._pop(pos), self._pop(pos)
        self._target(self._top(pos), "SETITEM", pos)
        self._set_items(self._top(pos), [key, value], pos)

    def op_setitems(self, arg: object, pos: int) -> None:
        items = self._pop_mark(pos)
        self._target(self._top(pos), "SETITEMS", pos)
        self._set_items(self._top(pos), items, pos)

    @staticmethod
    def _set_items(target: object, items: list[object], pos: int) -> None:
        if len(items) % 2:
            raise CorruptError(f"odd number of dict items at offset {pos}")
        if isinstance(target, DictV):
            for key, value in zip(items[::2], items[1::2], strict=True):
                if isinstance(key, str | int | bool | bytes | float | None):
                    target.items[key] = value

    def op_empty(self, arg: object, pos: int) -> None:  # EMPTY_LIST, EMPTY_SET
        self._push(UNKNOWN)

    def op_collect(self, arg: object, pos: int) -> None:  # LIST, FROZENSET
        self._pop_mark(pos)
        self._push(UNKNOWN)

    def op_append(self, arg: object, pos: int) -> None:
        self._pop(pos)
        self._target(self._top(pos), "APPEND", pos)

    def op_extend(self, arg: object, pos: int) -> None:  # APPENDS, ADDITEMS
        self._pop_mark(pos)
        self._target(self._top(pos), "APPENDS", pos)


_Handler = Callable[[StackModel, object, int], None]
DATA_HANDLERS: Final[dict[str, _Handler]] = {
    "MARK": StackModel.op_mark, "POP": StackModel.op_pop, "POP_MARK": StackModel.op_pop_mark,
    "DUP": StackModel.op_dup, "GET": StackModel.op_get, "BINGET": StackModel.op_get,
    "LONG_BINGET": StackModel.op_get, "PUT": StackModel.op_put, "BINPUT": StackModel.op_put,
    "LONG_BINPUT": StackModel.op_put, "MEMOIZE": StackModel.op_memoize,
    "TUPLE": StackModel.op_tuple, "TUPLE1": lambda m, a, p: m.op_tuple_n(1, p),
    "TUPLE2": lambda m, a, p: m.op_tuple_n(2, p), "TUPLE3": lambda m, a, p: m.op_tuple_n(3, p),
    "EMPTY_DICT": StackModel.op_empty_dict, "DICT": StackModel.op_dict,
    "SETITEM": StackModel.op_setitem, "SETITEMS": StackModel.op_setitems,
    "EMPTY_LIST": StackModel.op_empty, "EMPTY_SET": StackModel.op_empty,
    "LIST": StackModel.op_collect, "FROZENSET": StackModel.op_collect,
    "APPEND": StackModel.op_append, "APPENDS": StackModel.op_extend,
    "ADDITEMS": StackModel.op_extend,
}
