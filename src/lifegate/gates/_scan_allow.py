"""The LG-SCAN allowlist: which globals a pickle may reference, and how bad the others are.

Allowlist first: a pickle passes only when every global it names is listed here or in the
policy's ``allowed_globals``. The built-in list is what benign numpy / joblib / PyTorch /
scikit-learn / SciPy-sparse models need, and nothing that reads files, opens sockets, starts
processes, imports modules or reaches attributes by name.

Matching rules (both deliberately strict):

- an exact entry ``"module.name"`` matches when ``f"{module}.{name}"`` equals it;
- a package entry ``"pkg.*"`` matches a module equal to ``pkg`` or under ``pkg.``, but only a
  plain name: no dots and no dunder. Protocol 4 resolves dotted names attribute by attribute,
  so ``("sklearn.base", "os.system")`` would otherwise reach ``os.system`` through a module
  that happens to ``import os``.

Python 2 names are mapped the way the unpickler maps them for protocols 0-2
(``__builtin__.eval`` is ``builtins.eval``), so the mapped name is what is checked.
"""

from __future__ import annotations

import _compat_pickle
import re
from collections.abc import Iterable
from typing import Final

from lifegate.core.model import Severity

__all__ = ["BUILTIN_ALLOWED", "BUILTIN_PACKAGES", "ENTRY", "Allowlist", "danger", "effective"]

ENTRY: Final = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*\.(\*|[A-Za-z_]\w*)")

_BUILTINS = (
    # Type constructors only: they build plain data. Deliberately absent: eval, exec, compile,
    # open, getattr, setattr, delattr, __import__, globals, locals, vars, input, breakpoint,
    # type (builds classes), memoryview.
    "object", "bool", "int", "float", "complex", "str", "bytes", "bytearray", "list", "tuple",
    "dict", "set", "frozenset", "slice", "range",
)
_NUMPY_SCALARS = (
    "bool", "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "intp", "uintp", "float16", "float32", "float64", "longdouble", "complex64", "complex128",
    "clongdouble", "str_", "bytes_", "void", "object_", "datetime64", "timedelta64",
)
_NUMPY_CORE = ("numpy.core", "numpy._core")
_NUMPY_RANDOM = (
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
_TORCH_STORAGES = ("Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char",
                   "Byte", "Bool", "ComplexFloat", "ComplexDouble", "QUInt8", "QInt8",
                   "QInt32", "QUInt4x2", "QUInt2x4", "Untyped")
_TORCH_DTYPES = ("float16", "float32", "float64", "bfloat16", "complex64", "complex128",
                 "int8", "int16", "int32", "int64", "uint8", "bool")
_SPARSE_FORMATS = ("csr", "csc", "coo", "bsr", "dia", "dok", "lil")


def _builtin_allowed() -> frozenset[str]:
    names = {f"builtins.{n}" for n in _BUILTINS}
    names |= {
        "collections.OrderedDict", "collections.defaultdict",
        # Protocol 0/1 instances: _reconstructor(cls, base, state) calls base.__new__(cls);
        # cls and base are globals of their own and must pass this list too.
        "copyreg._reconstructor",
        # Protocol 0-2 write bytes as _codecs.encode(str, "latin1"). Harmless on its own:
        # codec lookup only imports modules inside the `encodings` package.
        "_codecs.encode",
        # Not numpy.memmap: memmap(filename, mode="w+") creates and truncates files.
        "numpy.ndarray", "numpy.dtype", "numpy.matrix",
        # The array wrapper that joblib writes for every numpy array (the scanner knows its
        # format and skips the raw array bytes that follow it). NOT joblib's NDArrayWrapper
        # (joblib < 0.10): it makes joblib np.load(allow_pickle=True) a companion file whose
        # name comes from inside the pickle, a file this scan may never have seen.
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
        "torch._tensor._rebuild_from_type_v2", "torch.device", "torch.Size",
    }
    for core in _NUMPY_CORE:
        names |= {f"{core}.multiarray._reconstruct", f"{core}.multiarray.scalar",
                  f"{core}.numeric._frombuffer"}
    names |= {f"numpy.{n}" for n in _NUMPY_SCALARS}
    names |= set(_NUMPY_RANDOM)
    names |= {f"torch.{s}Storage" for s in _TORCH_STORAGES}
    names |= {f"torch.{d}" for d in _TORCH_DTYPES}
    for fmt in _SPARSE_FORMATS:
        for kind in ("matrix", "array"):
            for module in (f"scipy.sparse._{fmt}", f"scipy.sparse.{fmt}", "scipy.sparse"):
                names.add(f"{module}.{fmt}_{kind}")
    return frozenset(names)


BUILTIN_ALLOWED: Final = _builtin_allowed()

# Whole packages trusted by default. Trusting a package is a policy choice: every plain-named
# class and function in it may be called while loading. scikit-learn models are made of
# hundreds of estimator, tree, loss and splitter classes from private modules, so listing them
# one by one would break with every release. Sub-packages that download or write files are
# carved out below and stay blocked.
BUILTIN_PACKAGES: Final = ("sklearn",)
BUILTIN_DENIED_PACKAGES: Final = (
    "sklearn.datasets",  # fetch_* download and write files; load_* read arbitrary paths
    "sklearn.externals",  # vendored third-party code, including an old joblib (load/dump)
    "sklearn.utils._joblib",  # re-exports joblib.load: unpickles a file named in the pickle
    "sklearn.utils.parallel",  # starts worker processes
    "sklearn.utils._testing",  # runs Python scripts in subprocesses
)
# Test code is never part of a model, and test helpers run subprocesses and write files.
_DENIED_COMPONENTS: Final = frozenset({"tests", "conftest", "_testing"})

# Modules whose globals are a known code-execution, file-system or network primitive: a
# reference to one of them is CRITICAL; any other unlisted global is HIGH.
_DANGEROUS_MODULES: Final = frozenset({
    "os", "posix", "nt", "subprocess", "_posixsubprocess", "importlib", "runpy", "socket",
    "shutil", "pty", "sys", "marshal", "types", "code", "codeop", "ctypes", "_ctypes",
    "pickle", "_pickle", "dill", "cloudpickle", "webbrowser", "pdb", "timeit",
    "multiprocessing", "asyncio", "urllib", "http", "ftplib", "telnetlib", "requests",
})
_DANGEROUS_BUILTINS: Final = frozenset({
    "eval", "exec", "compile", "open", "getattr", "setattr", "delattr", "__import__",
    "globals", "locals", "vars", "input", "breakpoint", "__loader__", "__spec__",
})


def effective(module: str, name: str, proto: int) -> tuple[str, str]:
    """The (module, name) the unpickler really imports (Python 2 names mapped below 3)."""
    if proto < 3:
        if (module, name) in _compat_pickle.NAME_MAPPING:
            mapped: tuple[str, str] = _compat_pickle.NAME_MAPPING[(module, name)]
            return mapped
        return _compat_pickle.IMPORT_MAPPING.get(module, module), name
    return module, name


def danger(module: str, name: str) -> Severity:
    """CRITICAL for known-dangerous modules and builtins (also when reached through a dotted
    name such as ``sklearn.base`` + ``os.system``), HIGH for any other global."""
    top = module.split(".", 1)[0]
    through = name.split(".")[:-1]
    if top == "builtins" and name.split(".", 1)[0] in _DANGEROUS_BUILTINS:
        return Severity.CRITICAL
    if top in _DANGEROUS_MODULES or _DANGEROUS_MODULES.intersection(through):
        return Severity.CRITICAL
    return Severity.HIGH


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _plain(name: str) -> bool:
    return name.isidentifier() and not name.startswith("__")


class Allowlist:
    """Built-in entries plus the policy's ``allowed_globals``."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        extra = list(extra)
        self.policy_exact = frozenset(e for e in extra if not e.endswith(".*"))
        self.exact = BUILTIN_ALLOWED | self.policy_exact
        self.packages = BUILTIN_PACKAGES + tuple(e[:-2] for e in extra if e.endswith(".*"))
        # A policy may trust a carved-out package explicitly (e.g. "sklearn.datasets.*").
        self.denied = tuple(d for d in BUILTIN_DENIED_PACKAGES if d not in self.packages)

    def allows(self, module: str, name: str) -> bool:
        if f"{module}.{name}" in self.exact:
            return True
        if not _plain(name):
            return False
        if any(_under(module, d) for d in self.denied) or \
                _DENIED_COMPONENTS.intersection(module.split(".")):
            return False
        return any(_under(module, p) for p in self.packages)
