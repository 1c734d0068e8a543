"""joblib's inline array format, as its loader reads it (joblib/numpy_pickle.py).

After BUILD on a ``NumpyArrayWrapper``, ``NumpyUnpickler.load_build`` reads the array from the
file itself: for object dtypes a nested ``pickle.load``; otherwise an optional padding byte
``p`` plus ``p`` bytes (when the wrapper has ``numpy_array_alignment_bytes``), then
``itemsize * prod(shape)`` raw bytes. The size is computed here from the wrapper's state as the
pickle describes it; whatever cannot be known exactly is a :class:`LayoutError`, because
guessing would let a crafted file hide opcodes from the scan.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final

from lifegate.gates._scan_values import DictV, Global, Obj, brief

__all__ = ["ArrayLayout", "LayoutError", "array_layout", "is_wrapper"]

WRAPPERS: Final = frozenset({("joblib.numpy_pickle", "NumpyArrayWrapper"),
                             ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper")})
_CLASS_FIRST: Final = frozenset({("copyreg", "_reconstructor"), ("copyreg", "__newobj__"),
                                 ("copyreg", "__newobj_ex__")})
_DTYPE: Final = ("numpy", "dtype")
_TYPESTR: Final = re.compile(r"([biufcmMOSUV])(\d*)")


class LayoutError(Exception):
    """The wrapper's state does not pin down the size of the array bytes."""


@dataclass(frozen=True)
class ArrayLayout:
    nbytes: int
    padded: bool
    has_object: bool


def is_wrapper(obj: Obj) -> bool:
    """Whether ``obj`` is a joblib array wrapper (built directly or via copyreg helpers)."""
    cls = obj.func
    if isinstance(cls, Global) and cls.key in _CLASS_FIRST:
        cls = obj.args[0] if isinstance(obj.args, tuple) and obj.args else None
    return isinstance(cls, Global) and cls.key in WRAPPERS


def array_layout(state: object) -> ArrayLayout:
    if not isinstance(state, DictV):
        raise LayoutError("its state is not a plain dict")
    shape = state.items.get("shape")
    if not isinstance(shape, tuple) or not all(
            type(d) is int and d >= 0 for d in shape):
        raise LayoutError(f"its shape {brief(shape)} is not a tuple of non-negative "
                          "integers")
    itemsize, has_object = _dtype_layout(state.items.get("dtype"))
    padded = state.items.get("numpy_array_alignment_bytes") is not None
    return ArrayLayout(math.prod(shape) * itemsize, padded, has_object)


def _dtype_layout(dtype: object) -> tuple[int, bool]:
    """(itemsize, has_object) of a pickled ``numpy.dtype(typestr, False, True)`` + state."""
    if not (isinstance(dtype, Obj) and isinstance(dtype.func, Global)
            and dtype.func.key == _DTYPE and isinstance(dtype.args, tuple) and dtype.args
            and isinstance(dtype.args[0], str)):
        raise LayoutError("its dtype is not a numpy.dtype built from a type string")
    match = _TYPESTR.fullmatch(dtype.args[0])
    if match is None:
        raise LayoutError(f"dtype {dtype.args[0]!r} is not a type string the scanner knows")
    kind, digits = match.group(1), match.group(2)
    if dtype.built and not isinstance(dtype.state, tuple):
        raise LayoutError("its dtype state is not a literal tuple")
    state = dtype.state if isinstance(dtype.state, tuple) else ()
    if any(type(v) is not int for v in state[5:6] + state[7:8]):
        raise LayoutError("its dtype state has an item size or flags that are not integers")
    flags = state[7] if len(state) > 7 else 0
    if kind == "O" or flags & 1:  # NPY_ITEM_HASOBJECT
        return 0, True
    elsize = state[5] if len(state) > 5 and state[5] > 0 else None
    size = 8 if kind in "mM" else int(digits) * (4 if kind == "U" else 1) if digits else None
    if kind == "V":
        size = elsize if size is None else size
    if size is None or (elsize is not None and elsize != size):
        raise LayoutError(f"the item size of dtype {dtype.args[0]!r} is not determined")
    return size, False
