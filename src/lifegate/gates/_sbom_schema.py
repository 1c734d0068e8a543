"""Validate a CycloneDX JSON document against the official schema, format checks included.

The schemas are the ones bundled with cyclonedx-python-lib. Two things make this fast:

* ``iri`` and ``iri-reference`` are checked with :func:`is_iri_reference`, a compiled regular
  expression of the RFC 3987 grammar (IPv6 literals through :mod:`ipaddress`), instead of the
  ``rfc3987-syntax`` Earley parser (about 27 ms per URL). All other format checks (date-time,
  date, idn-email, uri ...) are jsonschema's own.
* ``rfc3987-syntax`` builds its parser when imported (1.3 s), and jsonschema imports it on its
  own import. When jsonschema is not imported yet, it is imported with that module held back,
  and jsonschema's ``iri`` checks are then registered again as lazy wrappers that import
  ``rfc3987-syntax`` on first use: code elsewhere in the process sees the same checks as before.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import ipaddress
import json
import re
import sys
import threading
from typing import Any, Literal

from lifegate.core.errors import MissingExtraError

__all__ = ["SpecVersion", "is_iri", "is_iri_reference", "schema_errors"]

SpecVersion = Literal["1.6", "1.7"]

# RFC 3987 section 2.2 over ASCII: before matching, each ucschar becomes "~" (an unreserved
# character allowed wherever ucschar is, but not in a scheme, port or IP literal) and each
# iprivate character becomes "\x01" (allowed in the query only). A small ASCII expression
# compiles in a millisecond; the same classes spelt with the Unicode ranges take 80 ms.
_UCS = ((0xA0, 0xD7FF), (0xF900, 0xFDCF), (0xFDF0, 0xFFEF),
        *((plane << 16, (plane << 16) + 0xFFFD) for plane in range(1, 14)), (0xE1000, 0xEFFFD))
_PRIVATE = ((0xE000, 0xF8FF), (0xF0000, 0xFFFFD), (0x100000, 0x10FFFD))
_UNRES = "A-Za-z0-9\\-._~"
_SUB = "!$&'()*+,;="
_PCT = "%[0-9A-Fa-f]{2}"
_PCHAR = f"(?:[{_UNRES}{_SUB}:@]|{_PCT})"
_SEG = f"{_PCHAR}*"
_SEG_NZ = f"{_PCHAR}+"
_SEG_NZ_NC = f"(?:[{_UNRES}{_SUB}@]|{_PCT})+"
_AUTH = (f"(?:(?:[{_UNRES}{_SUB}:]|{_PCT})*@)?"
         f"(?:\\[(?P<literal>[^\\]/?#@]*)\\]|(?:[{_UNRES}{_SUB}]|{_PCT})*)(?::[0-9]*)?")
_QUERY = f"(?:{_PCHAR}|[\x01/?])*"
_FRAG = f"(?:{_PCHAR}|[/?])*"
_TAIL = f"(?:\\?{_QUERY})?(?:#{_FRAG})?"
_HIER = f"(?://{_AUTH}(?:/{_SEG})*|/(?:{_SEG_NZ}(?:/{_SEG})*)?|{_SEG_NZ}(?:/{_SEG})*|)"
_REL = f"(?://{_AUTH}(?:/{_SEG})*|/(?:{_SEG_NZ}(?:/{_SEG})*)?|{_SEG_NZ_NC}(?:/{_SEG})*|)"
_SCHEME = "[A-Za-z][A-Za-z0-9+\\-.]*"
_IRI_RE = re.compile(f"{_SCHEME}:{_HIER}{_TAIL}")
_REL_RE = re.compile(f"{_REL}{_TAIL}")
_FUTURE_RE = re.compile(f"v[0-9A-Fa-f]+\\.[A-Za-z0-9\\-._~{_SUB}:]+")


def _ascii_form(value: str) -> str | None:
    """``value`` with ucschar and iprivate replaced as described above; None if any other
    non-ASCII character (or the placeholder itself) occurs."""
    if value.isascii():
        return None if "\x01" in value else value
    out = []
    for ch in value:
        code = ord(ch)
        if code < 0x80:
            if ch == "\x01":
                return None
            out.append(ch)
        elif any(lo <= code <= hi for lo, hi in _UCS):
            out.append("~")
        elif any(lo <= code <= hi for lo, hi in _PRIVATE):
            out.append("\x01")
        else:
            return None
    return "".join(out)


def _literal_ok(match: re.Match[str], original: str) -> bool:
    start, end = match.span("literal")
    if start < 0:
        return True
    literal = original[start:end]
    if not literal.isascii():
        return False
    if _FUTURE_RE.fullmatch(literal):
        return True
    try:
        ipaddress.IPv6Address(literal)
    except ValueError:
        return False
    return "%" not in literal  # zone ids are not part of RFC 3987


def is_iri(value: object) -> bool:
    """RFC 3987 ``IRI`` (absolute, with scheme); non-strings pass, as jsonschema expects."""
    if not isinstance(value, str):
        return True
    text = _ascii_form(value)
    match = _IRI_RE.fullmatch(text) if text is not None else None
    return match is not None and _literal_ok(match, value)


def is_iri_reference(value: object) -> bool:
    """RFC 3987 ``IRI-reference``: an IRI or a relative reference."""
    if not isinstance(value, str):
        return True
    text = _ascii_form(value)
    if text is None:
        return False
    match = _IRI_RE.fullmatch(text) or _REL_RE.fullmatch(text)
    return match is not None and _literal_ok(match, value)


_import_lock = threading.Lock()


def _import_jsonschema() -> Any:
    """Import jsonschema without paying for rfc3987-syntax's parser (see the module doc)."""
    with _import_lock:
        held_back = "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules
        if held_back:
            sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]
        try:
            jsonschema = importlib.import_module("jsonschema")
        except ImportError:
            raise MissingExtraError("sbom", "jsonschema") from None
        finally:
            if held_back:
                del sys.modules["rfc3987_syntax"]
        if held_back:
            _register_lazy_iri_checks(importlib.import_module("jsonschema._format"))
        return jsonschema


def _register_lazy_iri_checks(fmt: Any) -> None:
    """Give jsonschema back the ``iri`` checks it registers when rfc3987-syntax is importable."""
    if importlib.util.find_spec("rfc3987_syntax") is None:
        return

    def check(rule: str, value: object) -> bool:
        if not isinstance(value, str):
            return True
        return bool(importlib.import_module("rfc3987_syntax").is_valid_syntax(rule, value))

    for name, rule in (("iri", "iri"), ("iri-reference", "iri_reference")):
        fmt._checks_drafts(draft7=name, draft201909=name, draft202012=name,
                           raises=ValueError)(functools.partial(check, rule))


@functools.cache
def _validator(spec: SpecVersion) -> Any:
    jsonschema = _import_jsonschema()
    from importlib.resources import files

    from referencing import Registry
    from referencing.jsonschema import DRAFT7

    res = files("cyclonedx.schema") / "_res"

    def load(name: str) -> Any:
        return json.loads((res / name).read_text(encoding="utf-8"))

    prefix = "http://cyclonedx.org/schema/"
    registry: Any = Registry().with_resources([
        (prefix + name, DRAFT7.create_resource(load(name)))
        for name in ("spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json",
                     "cryptography-defs.SNAPSHOT.schema.json")])
    checker = jsonschema.FormatChecker(())
    checker.checkers = dict(jsonschema.Draft7Validator.FORMAT_CHECKER.checkers)
    if "date-time" not in checker.checkers:  # without it, bad timestamps would pass silently
        raise MissingExtraError("sbom", "rfc3339-validator")
    checker.checkers["iri"] = (is_iri, ())
    checker.checkers["iri-reference"] = (is_iri_reference, ())
    cls = jsonschema.validators.extend(jsonschema.Draft7Validator,
                                       {"uniqueItems": _unique_items(jsonschema)})
    return cls(load(f"bom-{spec}.SNAPSHOT.schema.json"), registry=registry,
               format_checker=checker)


def _canon(value: Any) -> Any:
    """A hashable form with JSON equality: 1 == 1.0, but true != 1, key order ignored."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, dict):
        return ("obj", frozenset((k, _canon(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("arr", tuple(_canon(v) for v in value))
    return value


def _unique_items(jsonschema: Any) -> Any:
    """``uniqueItems`` in O(n) by hashing, instead of jsonschema's pairwise deep compare (the
    arrays of components and dependencies made that the largest cost of validation)."""

    def unique_items(validator: Any, wanted: Any, instance: Any, schema: Any) -> Any:
        if not wanted or not validator.is_type(instance, "array"):
            return
        seen: set[Any] = set()
        for i, item in enumerate(instance):
            key = _canon(item)
            if key in seen:
                yield jsonschema.ValidationError(f"item {i} repeats an earlier item: "
                                                 f"{json.dumps(item)[:200]} (uniqueItems)")
                return
            seen.add(key)

    return unique_items


def schema_errors(doc: dict[str, Any], spec: SpecVersion, limit: int = 10) -> list[str]:
    """Schema violations of ``doc`` (empty when valid), each with its JSON path."""
    out = []
    for err in _validator(spec).iter_errors(doc):
        out.append(f"{err.json_path}: {err.message[:300]}")
        if len(out) >= limit:
            break
    return out
