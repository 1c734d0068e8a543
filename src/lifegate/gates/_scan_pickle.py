"""Static analysis of one pickle stream: walk its opcodes and model the stack. Never unpickles.

Opcodes are read with the argument readers of :mod:`pickletools` (the tables that
``pickletools.genops`` uses), with one change: length-prefixed payloads are read here, so a
payload above :data:`LARGE` (a 1 GiB array in a protocol 5 pickle) is skipped in chunks
instead of being read into memory. Memory stays flat.

The stack model is what makes the allowlist sound: ``STACK_GLOBAL`` takes its module and
name from the stack, which the walker knows from string pushes and memo gets; anything else
there is reported, never guessed. Every callable a pickle can invoke comes from a global
(``GLOBAL``, ``STACK_GLOBAL``, ``INST`` or an extension code), so checking every global
checks every REDUCE / BUILD / OBJ / NEWOBJ chain.

joblib writes raw array bytes right after each ``NumpyArrayWrapper``'s BUILD, outside the
pickle format; :mod:`lifegate.gates._scan_joblib` works out how many, exactly as joblib's
loader does, or the stream is reported as unreadable.
"""

from __future__ import annotations

import io
import pickletools
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, cast

from lifegate.gates._scan_allow import effective
from lifegate.gates._scan_common import CorruptError, LimitError, Stream
from lifegate.gates._scan_joblib import LayoutError, array_layout, is_wrapper
from lifegate.gates._scan_stack import DATA_HANDLERS, Problem, StackModel
from lifegate.gates._scan_values import UNKNOWN, Global, Large, Obj, brief

__all__ = ["LARGE", "OPCODE_BYTES", "GlobalRef", "PersistentRef", "PickleResult", "PickleWalker",
           "Problem"]

LARGE: Final = 1 << 20
NAME_CAP: Final = 1 << 16
HIGHEST_PROTOCOL: Final = 5
OPS: Final = {op.code.encode("latin-1"): op for op in pickletools.opcodes}
OPCODE_BYTES: Final = frozenset(OPS)
_PREFIX: Final = {pickletools.TAKEN_FROM_ARGUMENT1: ("<B", 1),
                  pickletools.TAKEN_FROM_ARGUMENT4: ("<i", 4),
                  pickletools.TAKEN_FROM_ARGUMENT4U: ("<I", 4),
                  pickletools.TAKEN_FROM_ARGUMENT8U: ("<Q", 8)}
_PUSH_ARG: Final = frozenset({
    "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "STRING", "BINSTRING",
    "SHORT_BINSTRING", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8", "UNICODE",
    "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "FLOAT", "BINFLOAT"})
_CONST: Final[dict[str, object]] = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False,
                                    "EMPTY_TUPLE": ()}
_EMPTY_LINE_ARG: Final = {"STRING": b"S''\n", "UNICODE": b"V\n"}


@dataclass
class GlobalRef:
    """A global the stream imports: where first, how often, and the name as written."""

    module: str
    name: str
    opcode: str
    offset: int
    written: str | None = None
    count: int = 1


@dataclass(frozen=True)
class PersistentRef:
    """A persistent id (PERSID / BINPERSID): the value handed to the loader's
    ``persistent_load``, described as the stack model knows it."""

    opcode: str
    offset: int
    pid: object


@dataclass
class PickleResult:
    start: int
    end: int | None = None
    refs: dict[tuple[str, str], GlobalRef] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    error: str | None = None
    calls: int = 0
    opcodes: int = 0
    value: object = None
    normalized: bytes | None = None
    note: str | None = None
    limit_rule: str | None = None
    nested: list[PickleResult] = field(default_factory=list)
    persids: list[PersistentRef] = field(default_factory=list)


class PickleWalker(StackModel):
    """Walks one pickle stream from the stream's current position to its STOP opcode.

    ``joblib`` applies joblib's reading rules after a NumpyArrayWrapper is built.
    ``tee_limit`` keeps a normalised copy of the stream (at most that many bytes) for the
    second opinion: same opcodes, framing dropped, payloads above LARGE emptied, and the
    opcodes fickling 0.1.12 cannot parse rewritten to equivalents (BYTEARRAY8 as BINBYTES8,
    FLOAT as BINFLOAT, out-of-band buffers as None).
    """

    def __init__(self, stream: Stream, *, joblib: bool = True, tee_limit: int = 0) -> None:
        super().__init__()
        self.s = stream
        self.joblib = joblib
        self.tee_limit = tee_limit
        self.proto = 0
        self.result = PickleResult(start=stream.tell(), problems=self.problems)
        self._tee: bytearray | None = bytearray() if tee_limit > 0 else None
        self._op_start = 0
        self._frame_end: int | None = None

    def walk(self) -> PickleResult:
        try:
            self._loop()
        except LimitError as exc:  # keep what was found before the limit
            self.result.error, self.result.limit_rule = str(exc), exc.rule
        except CorruptError as exc:
            self.result.error = str(exc)
        except (ValueError, struct.error, UnicodeDecodeError) as exc:
            self.result.error = f"malformed opcode argument near offset {self.s.tell()}: {exc}"
        if self._tee is not None and self.result.error is None:
            self.result.normalized = bytes(self._tee)
        return self.result

    # -- reading ---------------------------------------------------------------------------

    def _read(self, n: int, what: str) -> bytes:
        data = self.s.read_exact(n, what)
        self._tee_add(data)
        return data

    def _tee_add(self, data: bytes) -> None:
        if self._tee is None:
            return
        self._tee += data
        if len(self._tee) > self.tee_limit:
            self._tee = None
            self.result.note = f"stream larger than {self.tee_limit} bytes"

    def _retee(self, replacement: bytes) -> None:
        if self._tee is not None:
            del self._tee[self._op_start:]
            self._tee_add(replacement)

    def _loop(self) -> None:
        while True:
            pos = self.s.tell()
            code = self.s.read(1)
            if not code:
                raise CorruptError(f"the pickle ends at offset {pos} before its STOP opcode")
            info = OPS.get(code)
            if info is None:
                raise CorruptError(f"unknown opcode {code!r} at offset {pos}")
            self._op_start = len(self._tee) if self._tee is not None else 0
            self._tee_add(code)
            arg = self._arg(info, pos)
            self._check_frame(info.name, pos)
            self.result.opcodes += 1
            self._dispatch(info.name, arg, pos)
            if info.name == "STOP":
                self.result.end = self.s.tell()
                return

    def _arg(self, info: pickletools.OpcodeInfo, pos: int) -> object:
        a = info.arg
        if a is None:
            return None
        if a.n >= 0:
            return a.reader(io.BytesIO(self._read(a.n, info.name)))
        if a.n == pickletools.UP_TO_NEWLINE:
            return self._line_arg(info, pos)
        return self._counted_arg(info, pos)

    def _line_arg(self, info: pickletools.OpcodeInfo, pos: int) -> object:
        if info.name in ("GLOBAL", "INST"):
            return self._name_line(info.name, pos), self._name_line(info.name, pos)
        line = self.s.readline(LARGE)
        if not line.endswith(b"\n"):
            if len(line) < LARGE:
                raise CorruptError(f"{info.name} argument at offset {pos} has no newline")
            if info.name not in _EMPTY_LINE_ARG:
                raise CorruptError(f"{info.name} argument at offset {pos} is longer than "
                                   f"{LARGE} bytes")
            size = len(line) + self.s.skip_line(info.name)
            self._retee(_EMPTY_LINE_ARG[info.name])
            return Large(size)
        self._tee_add(line)
        assert info.arg is not None
        return info.arg.reader(io.BytesIO(line))

    def _name_line(self, opcode: str, pos: int) -> str:
        line = self.s.readline(NAME_CAP)
        if not line.endswith(b"\n"):
            raise CorruptError(f"{opcode} at offset {pos}: module or name line is missing its "
                               f"newline or longer than {NAME_CAP} bytes")
        self._tee_add(line)
        return line[:-1].decode("utf-8")

    def _counted_arg(self, info: pickletools.OpcodeInfo, pos: int) -> object:
        assert info.arg is not None
        fmt, width = _PREFIX[info.arg.n]
        prefix = self._read(width, f"{info.name} length")
        (n,) = struct.unpack(fmt, prefix)
        if n < 0:
            raise CorruptError(f"{info.name} at offset {pos} has a negative length")
        if n > LARGE:
            self.s.skip(n, f"{info.name} payload")
            self._retee(info.code.encode("latin-1") + bytes(width))
            return Large(n)
        data = self._read(n, f"{info.name} payload")
        kind = info.arg.name
        if kind in ("long1", "long4"):
            return int.from_bytes(data, "little", signed=True)
        if kind.startswith("unicodestring"):
            return data.decode("utf-8", "surrogatepass")
        if kind.startswith("string"):
            return data.decode("latin-1")
        return data

    # -- the calls and imports half of the model ----------------------------------------

    def _dispatch(self, name: str, arg: object, pos: int) -> None:
        if name in _PUSH_ARG:
            self._push(arg)
            self._normalize(name, arg)
        elif name in _CONST:
            self._push(_CONST[name])
        else:
            _HANDLERS[name](self, arg, pos)

    def _normalize(self, name: str, arg: object) -> None:
        if name == "FLOAT" and isinstance(arg, float):
            self._retee(b"G" + struct.pack(">d", arg))
        elif name == "BYTEARRAY8" and isinstance(arg, bytes):
            self._retee(b"\x8e" + struct.pack("<Q", len(arg)) + arg)
        elif name == "BYTEARRAY8":
            self._retee(b"\x8e" + bytes(8))

    def _global(self, module: str, name: str, opcode: str, pos: int) -> Global:
        eff = effective(module, name, self.proto)
        ref = self.result.refs.get(eff)
        if ref is not None:
            ref.count += 1
        else:
            written = f"{module}.{name}" if eff != (module, name) else None
            self.result.refs[eff] = GlobalRef(eff[0], eff[1], opcode, pos, written)
        return Global(*eff)

    # -- opcode handlers (one per opcode that is not a plain push) -------------------------

    def op_global(self, arg: object, pos: int) -> None:
        module, name = cast(tuple[str, str], arg)
        self._push(self._global(module, name, "GLOBAL", pos))

    def op_stack_global(self, arg: object, pos: int) -> None:
        name, module = self._pop(pos), self._pop(pos)
        if isinstance(module, str) and isinstance(name, str):
            self._push(self._global(module, name, "STACK_GLOBAL", pos))
            return
        self._problem("SCAN-GLOBAL-UNRESOLVED", f"STACK_GLOBAL at offset {pos} takes its module "
                      f"and name from values that are not plain strings ({brief(module)}, "
                      f"{brief(name)}); "
                      "no pickler writes that, it hides which global is imported",
                      critical=True)
        self._push(UNKNOWN)

    def op_inst(self, arg: object, pos: int) -> None:
        module, name = cast(tuple[str, str], arg)
        args = tuple(self._pop_mark(pos))
        self.result.calls += 1
        self._push(Obj(self._global(module, name, "INST", pos), args))

    def op_ext(self, arg: object, pos: int) -> None:
        self._problem("SCAN-EXT", f"extension code {arg} at offset {pos} imports a global from "
                      "the copyreg extension registry, which cannot be checked statically")
        self._push(UNKNOWN)

    def op_reduce(self, arg: object, pos: int) -> None:
        args = self._pop(pos)
        func = self._pop(pos)
        self.result.calls += 1
        self._push(Obj(func, args))

    def op_obj(self, arg: object, pos: int) -> None:
        items = self._pop_mark(pos)
        if not items:
            raise CorruptError(f"OBJ at offset {pos} has no class on the stack")
        self.result.calls += 1
        self._push(Obj(items[0], tuple(items[1:])))

    def op_newobj(self, arg: object, pos: int) -> None:
        args = self._pop(pos)
        cls = self._pop(pos)
        self.result.calls += 1
        self._push(Obj(cls, args))

    def op_newobj_ex(self, arg: object, pos: int) -> None:
        self._pop(pos)  # kwargs
        self.op_newobj(arg, pos)

    def op_build(self, arg: object, pos: int) -> None:
        state = self._pop(pos)
        obj = self._top(pos)
        self.result.calls += 1
        self._target(obj, "BUILD", pos)
        if isinstance(obj, Obj):
            obj.state, obj.built = state, True
            if self.joblib and is_wrapper(obj):
                self._joblib_array(obj, pos)
                self.stack[-1] = UNKNOWN  # joblib replaces the wrapper by the array

    def _joblib_array(self, wrapper: Obj, pos: int) -> None:
        try:
            layout = array_layout(wrapper.state)
        except LayoutError as exc:
            raise CorruptError(f"joblib array wrapper built at offset {pos}: {exc}; the size "
                               "of the array bytes that follow cannot be known, so the rest "
                               "of the stream cannot be read safely") from None
        if layout.has_object:
            nested = PickleWalker(self.s, joblib=False, tee_limit=self.tee_limit).walk()
            self.result.nested.append(nested)
            if nested.error:
                raise CorruptError(f"object array pickle after offset {pos}: {nested.error}")
            return
        first = self.s.peek(1)
        if (layout.padded or layout.nbytes) and first in OPCODE_BYTES:
            self._problem("SCAN-JOBLIB-AMBIGUOUS", f"the joblib array bytes after offset {pos} "
                          f"start with {first!r}, a pickle opcode: pickle.load (not joblib) "
                          "would run them as code; re-save the file with joblib >= 1.2")
        if layout.padded:
            self.s.skip(self.s.read_exact(1, "joblib padding length")[0], "joblib padding")
        self.s.skip(layout.nbytes, "joblib array data")

    def op_stop(self, arg: object, pos: int) -> None:
        self.result.value = self._pop(pos)

    def op_proto(self, arg: object, pos: int) -> None:
        if not isinstance(arg, int) or arg > HIGHEST_PROTOCOL:
            raise CorruptError(f"unsupported pickle protocol {arg!r} at offset {pos}")
        self.proto = arg

    def _check_frame(self, name: str, pos: int) -> None:
        """An opcode must end inside the FRAME it starts in. CPython's unpicklers disagree on
        one that runs past the end (pickle.load of a file reads on and may run opcodes hidden
        in what pickle.loads and this walker read as a payload), so it is never guessed."""
        end = self._frame_end
        if end is None or pos >= end:
            self._frame_end = None
            return
        if self.s.tell() > end:
            raise CorruptError(f"{name} at offset {pos} runs past the end of its frame at "
                               f"offset {end}; pickle.load and pickle.loads read such a "
                               "stream differently, so what it runs cannot be known")
        if self.s.tell() == end:
            self._frame_end = None

    def op_frame(self, arg: object, pos: int) -> None:
        if self._frame_end is not None:
            raise CorruptError(f"FRAME at offset {pos} begins before the frame around it "
                               f"ends (offset {self._frame_end}); loaders disagree on it")
        if not isinstance(arg, int) or arg < 0:
            raise CorruptError(f"bad frame length {arg!r} at offset {pos}")
        self._frame_end = self.s.tell() + arg if arg else None
        self._retee(b"")

    def op_persid(self, arg: object, pos: int) -> None:
        self.result.persids.append(PersistentRef("PERSID", pos, arg))
        self.result.calls += 1
        self._push(UNKNOWN)

    def op_binpersid(self, arg: object, pos: int) -> None:
        self.result.persids.append(PersistentRef("BINPERSID", pos, self._pop(pos)))
        self.result.calls += 1
        self._push(UNKNOWN)

    def op_next_buffer(self, arg: object, pos: int) -> None:
        self._retee(b"N")
        self._push(UNKNOWN)

    def op_readonly_buffer(self, arg: object, pos: int) -> None:
        self._retee(b"")
        self._top(pos)


_Handler = Callable[[PickleWalker, object, int], None]
_HANDLERS: Final[dict[str, _Handler]] = {
    **DATA_HANDLERS,
    "GLOBAL": PickleWalker.op_global, "STACK_GLOBAL": PickleWalker.op_stack_global,
    "INST": PickleWalker.op_inst, "EXT1": PickleWalker.op_ext, "EXT2": PickleWalker.op_ext,
    "EXT4": PickleWalker.op_ext, "REDUCE": PickleWalker.op_reduce, "OBJ": PickleWalker.op_obj,
    "NEWOBJ": PickleWalker.op_newobj, "NEWOBJ_EX": PickleWalker.op_newobj_ex,
    "BUILD": PickleWalker.op_build, "STOP": PickleWalker.op_stop,
    "PROTO": PickleWalker.op_proto, "FRAME": PickleWalker.op_frame,
    "PERSID": PickleWalker.op_persid, "BINPERSID": PickleWalker.op_binpersid,
    "NEXT_BUFFER": PickleWalker.op_next_buffer,
    "READONLY_BUFFER": PickleWalker.op_readonly_buffer,
}
_UNHANDLED = {op.name for op in pickletools.opcodes} - set(_HANDLERS) - _PUSH_ARG - set(_CONST)
assert not _UNHANDLED, f"opcodes without a handler: {_UNHANDLED}"
