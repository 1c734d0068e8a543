"""LG-SCAN allowlist profiles: named, vetted sets of the globals one library's files need.

A policy selects profiles in ``gates.LG-SCAN.settings.profiles`` (default: every profile,
:data:`DEFAULT_PROFILES`; a policy narrows it to what its models need). A profile lists
reconstructors: the classes and helper functions a library's own ``__reduce__`` methods name,
found by pickling that library's objects and reading the globals the pickles reference
(``tests/security/scan_corpus.py`` does it again on every test run and fails when a profile
entry is never used). Nothing that reads files, opens sockets, starts processes, imports
modules or reaches attributes by name is on any of them. docs/scanning.md explains each
profile and what it cannot promise.

A profile may require others (pandas frames hold numpy arrays); selecting it selects them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = ["BASE", "DEFAULT_PROFILES", "PROFILES", "Profile", "ProfileSpec", "expand"]


class Profile(StrEnum):
    NUMPY = "numpy"
    SCIPY = "scipy"
    SKLEARN = "sklearn"
    TORCH = "torch"
    PANDAS = "pandas"


@dataclass(frozen=True)
class ProfileSpec:
    exact: frozenset[str]
    packages: tuple[str, ...] = ()
    requires: tuple[Profile, ...] = ()


# Always allowed: type constructors of plain data. Deliberately absent: eval, exec, compile,
# open, getattr, setattr, delattr, __import__, globals, locals, vars, input, breakpoint,
# type (builds classes), memoryview.
_BUILTINS: Final = ("object", "bool", "int", "float", "complex", "str", "bytes", "bytearray",
                    "list", "tuple", "dict", "set", "frozenset", "slice", "range")
BASE: Final = frozenset({
    *(f"builtins.{n}" for n in _BUILTINS),
    "collections.OrderedDict", "collections.defaultdict",
    # Protocol 0/1 instances: _reconstructor(cls, base, state) calls base.__new__(cls);
    # cls and base are globals of their own and must pass the allowlist too.
    "copyreg._reconstructor",
    # Protocol 0-2 write bytes as _codecs.encode(str, "latin1"). Harmless on its own:
    # codec lookup only imports modules inside the `encodings` package.
    "_codecs.encode",
})

_NUMPY_SCALARS: Final = (
    "bool", "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "intp", "uintp", "float16", "float32", "float64", "longdouble", "complex64", "complex128",
    "clongdouble", "str_", "bytes_", "void", "object_", "datetime64", "timedelta64",
)
_NUMPY_RANDOM: Final = (
    # What numpy.random.RandomState / Generator / BitGenerator objects pickle to (sklearn keeps
    # them as random_state_): constructors that look a bit generator up by name in a dict.
    "numpy.random._pickle.__randomstate_ctor", "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random._pickle.__generator_ctor", "numpy.random.__RandomState_ctor",
    "numpy.random.mtrand.RandomState", "numpy.random._mt19937.MT19937",
    "numpy.random._pcg64.PCG64", "numpy.random._pcg64.PCG64DXSM",
    "numpy.random._philox.Philox", "numpy.random._sfc64.SFC64",
    "numpy.random.bit_generator.SeedSequence",
    "numpy.random.bit_generator.__pyx_unpickle_SeedSequence",
)
_NUMPY: Final = frozenset({
    # Not numpy.memmap: memmap(filename, mode="w+") creates and truncates files.
    "numpy.ndarray", "numpy.dtype", "numpy.matrix",
    *(f"{core}.{f}" for core in ("numpy.core", "numpy._core")
      for f in ("multiarray._reconstruct", "multiarray.scalar", "numeric._frombuffer")),
    *(f"numpy.{n}" for n in _NUMPY_SCALARS), *_NUMPY_RANDOM,
    # The array wrapper that joblib writes for every numpy array (the scanner knows its
    # format and skips the raw array bytes that follow it). NOT joblib's NDArrayWrapper
    # (joblib < 0.10): it makes joblib np.load(allow_pickle=True) a companion file whose
    # name comes from inside the pickle, a file this scan may never have seen.
    "joblib.numpy_pickle.NumpyArrayWrapper",
})
_SPARSE: Final = frozenset(
    f"{module}.{fmt}_{kind}"
    for fmt in ("csr", "csc", "coo", "bsr", "dia", "dok", "lil") for kind in ("matrix", "array")
    for module in (f"scipy.sparse._{fmt}", f"scipy.sparse.{fmt}", "scipy.sparse"))
_TORCH_STORAGES: Final = ("Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char",
                          "Byte", "Bool", "ComplexFloat", "ComplexDouble", "QUInt8", "QInt8",
                          "QInt32", "QUInt4x2", "QUInt2x4", "Untyped")
_TORCH_DTYPES: Final = ("float16", "float32", "float64", "bfloat16", "complex64", "complex128",
                        "int8", "int16", "int32", "int64", "uint8", "bool")
_TORCH: Final = frozenset({
    "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
    "torch._tensor._rebuild_from_type_v2", "torch.device", "torch.Size",
    *(f"torch.{s}Storage" for s in _TORCH_STORAGES), *(f"torch.{d}" for d in _TORCH_DTYPES),
})

# pandas 3.1 (with pyarrow installed), pickled at protocols 0-5: DataFrame, Series, every
# Index kind, Categorical, datetime / timedelta / period / interval data and scalars, the
# nullable and sparse arrays, the string dtypes and every offset in pandas.tseries.offsets.
_PANDAS_PUBLIC: Final = (
    "DataFrame", "Series", "Index", "RangeIndex", "MultiIndex", "CategoricalIndex",
    "DatetimeIndex", "TimedeltaIndex", "PeriodIndex", "IntervalIndex", "Categorical",
    "CategoricalDtype", "DatetimeTZDtype", "PeriodDtype", "IntervalDtype", "SparseDtype",
    "StringDtype", "BooleanDtype", "Int64Dtype", "UInt8Dtype", "Float64Dtype", "Interval",
    "Period", "DateOffset", "NA",
)
_PANDAS_ARRAYS: Final = (
    "ArrowStringArray", "StringArray", "BooleanArray", "IntegerArray", "FloatingArray",
    "DatetimeArray", "TimedeltaArray", "PeriodArray", "IntervalArray", "SparseArray",
)
_PANDAS_OFFSETS: Final = (
    "Day", "Hour", "Minute", "Second", "Milli", "Micro", "Nano", "Week", "WeekOfMonth",
    "LastWeekOfMonth", "MonthBegin", "MonthEnd", "SemiMonthBegin", "SemiMonthEnd",
    "QuarterBegin", "QuarterEnd", "HalfYearBegin", "HalfYearEnd", "YearBegin", "YearEnd",
    "BusinessDay", "BusinessHour", "BusinessMonthBegin", "BusinessMonthEnd", "BQuarterBegin",
    "BQuarterEnd", "BHalfYearBegin", "BHalfYearEnd", "BYearBegin", "BYearEnd",
    "CustomBusinessDay", "CustomBusinessHour", "CustomBusinessMonthBegin",
    "CustomBusinessMonthEnd", "Easter", "FY5253", "FY5253Quarter",
)
_PANDAS: Final = frozenset({
    *(f"pandas.{n}" for n in _PANDAS_PUBLIC), *(f"pandas.arrays.{n}" for n in _PANDAS_ARRAYS),
    *(f"pandas._libs.tslibs.offsets.{n}" for n in _PANDAS_OFFSETS),
    "pandas._libs.arrays.__pyx_unpickle_NDArrayBacked",
    "pandas._libs.interval.__pyx_unpickle_IntervalMixin",
    "pandas._libs.internals._unpickle_block", "pandas._libs.sparse.IntIndex",
    "pandas._libs.tslibs.nattype._nat_unpickle",
    "pandas._libs.tslibs.timedeltas._timedelta_unpickle",
    "pandas._libs.tslibs.timestamps._unpickle_timestamp",
    "pandas.core.indexes.base._new_Index", "pandas.core.indexes.datetimes._new_DatetimeIndex",
    "pandas.core.indexes.interval._new_IntervalIndex",
    "pandas.core.indexes.timedeltas._new_TimedeltaIndex",
    "pandas.core.internals.managers.BlockManager",
    "pandas.core.internals.managers.SingleBlockManager",
    # Arrow-backed strings (pandas' default string storage when pyarrow is installed, also
    # used for column labels). pyarrow does not check restored buffers against the array
    # length: see docs/scanning.md, "What the pandas profile cannot promise".
    "pyarrow.lib._restore_array", "pyarrow.lib.py_buffer", "pyarrow.lib.type_for_alias",
    # Time zones with a fixed offset, business-hour times and DateOffset(months=...).
    "datetime.time", "datetime.timedelta", "datetime.timezone",
    "dateutil.relativedelta.relativedelta",
})

PROFILES: Final[dict[Profile, ProfileSpec]] = {
    Profile.NUMPY: ProfileSpec(_NUMPY),
    Profile.SCIPY: ProfileSpec(_SPARSE, requires=(Profile.NUMPY,)),
    # Whole package: scikit-learn models are made of hundreds of estimator, tree, loss and
    # splitter classes from private modules; the carve-outs are in _scan_allow.
    Profile.SKLEARN: ProfileSpec(frozenset(), ("sklearn",), (Profile.NUMPY, Profile.SCIPY)),
    Profile.TORCH: ProfileSpec(_TORCH),
    Profile.PANDAS: ProfileSpec(_PANDAS, requires=(Profile.NUMPY,)),
}
DEFAULT_PROFILES: Final = (Profile.NUMPY, Profile.SCIPY, Profile.SKLEARN, Profile.TORCH,
                           Profile.PANDAS)


def expand(selected: tuple[Profile, ...] | list[Profile]) -> tuple[Profile, ...]:
    """The selected profiles plus the ones they require, in the order of :class:`Profile`."""
    todo, seen = list(selected), set()
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo.extend(PROFILES[p].requires)
    return tuple(p for p in Profile if p in seen)
