"""The second opinion: fickling's static analysis of each pickle stream the scan extracted.

Only two fickling calls are made, and neither deserialises: ``fickling.fickle.Pickled.load``
(an opcode parser over bytes in memory) and ``fickling.analysis.check_safety`` (a symbolic
interpreter that rebuilds the pickle as a Python AST and inspects it). ``fickling.load`` /
``loads``, its pickle hooks and its ML unpickler are never used: they unpickle.

Threshold: a stream is blocked when fickling rates it ``LIKELY_OVERTLY_MALICIOUS`` or above.
Lower ratings are noise for models: fickling rates every import outside the standard library
``LIKELY_UNSAFE`` and every call to one (``numpy.dtype(...)``) as well, so any numpy pickle
would fail. Even at the threshold fickling flags two benign families because a module path
component matches a name on its list (``_pickle`` in ``numpy.random._pickle``, ``joblib`` in
``joblib.numpy_pickle``); its import findings on exactly those globals, and on exact entries
of the policy's ``allowed_globals``, are recorded but do not block.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["KNOWN_FALSE_POSITIVES", "THRESHOLD", "Opinion", "second_opinions"]

THRESHOLD: Final = "LIKELY_OVERTLY_MALICIOUS"
KNOWN_FALSE_POSITIVES: Final = frozenset({
    "numpy.random._pickle.__randomstate_ctor", "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random._pickle.__generator_ctor", "joblib.numpy_pickle.NumpyArrayWrapper",
})
_IMPORT_ANALYSES: Final = frozenset({"UnsafeImports", "UnsafeImportsML", "NonStandardImports"})
_FROM_IMPORT: Final = re.compile(r"from (\S+) import (.+)")


@dataclass(frozen=True)
class Opinion:
    where: str
    verdict: str
    blocking: str | None = None  # why fickling's rating blocks, when it does


def _reconciled(result: Any, trusted: frozenset[str]) -> bool:
    """A fickling import finding on globals the allowlist trusts by name."""
    match = _FROM_IMPORT.fullmatch(str(result.trigger or ""))
    if result.analysis_name not in _IMPORT_ANALYSES or match is None:
        return False
    names = [n.strip() for n in match.group(2).split(",")]
    return all(f"{match.group(1)}.{n}" in trusted for n in names)


def _one(where: str, data: bytes, trusted: frozenset[str], api: tuple[Any, Any, Any]) -> Opinion:
    pickled_cls, check_safety, severity = api
    try:
        results = check_safety(pickled_cls.load(data))
    except Exception as exc:  # a second opinion that cannot read the stream is not a verdict
        return Opinion(where, f"error: {type(exc).__name__}: {exc}"[:300])
    threshold = severity[THRESHOLD]
    over = [r for r in results.results if r.severity >= threshold]
    blocking = [r for r in over if not _reconciled(r, trusted)]
    verdict = results.severity.name
    if over and not blocking:
        verdict += " (only on allowlisted globals)"
    if not blocking:
        return Opinion(where, verdict)
    worst = max(blocking, key=lambda r: r.severity.severity)
    return Opinion(where, verdict, f"second opinion: fickling rates {where} as "
                   f"{worst.severity.message.lower()} ({worst.analysis_name}: {worst})")


def second_opinions(streams: Iterable[tuple[str, bytes | None, str | None]],
                    trusted: frozenset[str]) -> list[Opinion]:
    """fickling's verdict on each (where, normalised bytes, note) stream."""
    streams = list(streams)
    try:  # fickling ships no type information: its API is used as Any
        analysis = importlib.import_module("fickling.analysis")
        fickle = importlib.import_module("fickling.fickle")
    except ImportError:
        return [Opinion(where, "unavailable") for where, _, _ in streams]
    api = (fickle.Pickled, analysis.check_safety, analysis.Severity)
    trusted = KNOWN_FALSE_POSITIVES | trusted
    out = []
    for where, data, note in streams:
        if data is None:
            out.append(Opinion(where, f"skipped: {note or 'the pickle is not complete'}"))
        else:
            out.append(_one(where, data, trusted, api))
    return out
