"""The LG-SCAN allowlist: which globals a pickle may reference, and how bad the others are.

Allowlist first: a pickle passes only when every global it names is listed here or in the
policy's ``allowed_globals``. The built-in list is a small base of plain-data constructors plus
the profiles the policy selects (:mod:`lifegate.gates._scan_profiles`: numpy, SciPy sparse,
scikit-learn, PyTorch, pandas), and nothing that reads files, opens sockets, starts
processes, imports modules or reaches attributes by name.

Matching rules (both deliberately strict):

- an exact entry ``"module.name"`` matches when ``f"{module}.{name}"`` equals it;
- a package entry ``"pkg.*"`` matches a module equal to ``pkg`` or under ``pkg.``, but only a
  plain name: no dots and no dunder (Cython's ``__pyx_unpickle_<Class>`` helpers excepted).
  Protocol 4 resolves dotted names attribute by attribute, so ``("sklearn.base",
  "os.system")`` would otherwise reach ``os.system`` through a module that happens to
  ``import os``.

Python 2 names are mapped the way the unpickler maps them for protocols 0-2
(``__builtin__.eval`` is ``builtins.eval``), so the mapped name is what is checked.
"""

from __future__ import annotations

import _compat_pickle
import re
from collections.abc import Iterable
from typing import Final

from lifegate.core.model import Severity
from lifegate.gates._scan_profiles import BASE, DEFAULT_PROFILES, PROFILES, Profile, expand

__all__ = ["ENTRY", "Allowlist", "danger", "effective"]

ENTRY: Final = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*\.(\*|[A-Za-z_]\w*)")

# scikit-learn (the sklearn profile) is trusted as a whole package: every plain-named class and
# function in it may be called while loading. Sub-packages that download or write files are
# carved out below and stay blocked.
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
    # Run code or files given as arguments, or reach any attribute or module by name.
    "bdb", "cProfile", "profile", "trace", "pydoc", "pip", "ensurepip", "venv", "idlelib",
    "doctest", "pkgutil", "operator", "functools", "io", "_io", "linecache", "imaplib",
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
    """A name a package entry may match: no dots, no dunder, except the helpers Cython
    generates to unpickle its extension types (``__pyx_unpickle_<Class>``: they check a
    checksum, call ``<Class>.__new__`` on a subtype and set typed fields)."""
    return name.isidentifier() and (not name.startswith("__")
                                    or name.startswith("__pyx_unpickle_"))


class Allowlist:
    """The base entries, the selected profiles and the policy's ``allowed_globals``."""

    def __init__(self, extra: Iterable[str] = (),
                 profiles: Iterable[Profile] = DEFAULT_PROFILES) -> None:
        extra = list(extra)
        self.profiles = expand(tuple(profiles))
        self.policy_exact = frozenset(e for e in extra if not e.endswith(".*"))
        specs = [PROFILES[p] for p in self.profiles]
        self.exact = BASE.union(*(s.exact for s in specs)) | self.policy_exact
        self.packages = tuple(p for s in specs for p in s.packages) + \
            tuple(e[:-2] for e in extra if e.endswith(".*"))
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

    def unselected_profile(self, module: str, name: str) -> Profile | None:
        """A profile the policy did not select that would allow this global, if any."""
        full = f"{module}.{name}"
        for profile, spec in PROFILES.items():
            if profile in self.profiles:
                continue
            if full in spec.exact or (_plain(name) and any(_under(module, p)
                                                           for p in spec.packages)):
                return profile
        return None
