"""Schema validation of the ML-BOM: the official CycloneDX schema with format checks, and the
fast IRI check agreeing with rfc3987-syntax."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from lifegate.gates._sbom_schema import is_iri, is_iri_reference, schema_errors

CASES = [
    "https://example.com/a/b?c=d#e", "http://exa mple.com", "", "a", "./x", "//host/p",
    "http://a%zz", "http://a%2F", "mailto:me@x.org", "urn:isbn:123", "file:///work/main",
    "http://example.com/ä/ü?q=é", "http://<x>", 'http://x/"q"', "x:", "1abc:def", "a:b:c",
    "http://x:80a/", "http://user:pw@host:8080/p", "http://x/{y}", "http://x/a|b",
    "http://x/a^b", "http://x/a`b", "?q", "#f", "http://x#a#b", "http://[v1.x]/",
    "git+https://github.com/x/y.git@abc", "C:\\path", "http://x/\u00a0", "https://x/\ue000?\ue000",
    "\t", "http://x/%", "../a/b", "a/b:c", "http://1.2.3.4/", "http://x/ y", "http://x/\ud7ff",
    "http://x/\ufdd0", "http://[v1.é]/", "é:x", "http://x/\x7f",
    "pkg:pypi/alpha@1.0", "https://x/path?q=a&b=c;d", "http://x/?\x01", "http://x/\ue000",
    "http://x:\u00e9/", "http://\u00e9x.org/\u00e9?\u00e9#\u00e9", "http://x/#\ue000",
]


@pytest.mark.parametrize("value", CASES)
def test_fast_iri_check_agrees_with_rfc3987_syntax(value: str) -> None:
    from rfc3987_syntax import is_valid_syntax

    assert is_iri_reference(value) == is_valid_syntax("iri_reference", value)
    assert is_iri(value) == is_valid_syntax("iri", value)


@pytest.mark.parametrize(("value", "ok"), [
    ("http://[::1]/", True), ("//[::1]:8080", True), ("http://x/\U0001f600", True),
    ("http://x/\U000e0001", False), ("http://[2001:db8::7]:80/x", True), ("http://[::1/", False),
    ("http://[::g]/", False), ("http://[fe80::1%25eth0]/", False), ("http://[1.2.3.4]/", False),
])
def test_where_rfc3987_syntax_is_wrong(value: str, ok: bool) -> None:
    # rfc3987-syntax rejects valid IPv6 short forms such as [::1] (ipaddress decides here) and
    # the ucschar ranges above U+FFFF that RFC 3987 allows
    assert is_iri_reference(value) is ok


def minimal(**extra: Any) -> dict[str, Any]:
    return {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, **extra}


MODEL: dict[str, Any] = {
    "type": "machine-learning-model", "name": "m", "bom-ref": "model:m",
    "modelCard": {"modelParameters": {"approach": {"type": "supervised"}, "task": "x"}}}


@pytest.mark.parametrize("spec", ["1.6", "1.7"])
def test_valid_model_card_passes(spec: str) -> None:
    assert schema_errors(minimal(specVersion=spec, components=[MODEL]), spec) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(("damage", "where"), [
    (lambda m: m["modelCard"]["modelParameters"]["approach"].update(type="vibes"), "approach"),
    (lambda m: m["modelCard"].update(notes="free text"), "modelCard"),
    (lambda m: m["modelCard"]["modelParameters"].update(task=["a", "list"]), "task"),
])
def test_broken_model_card_is_rejected(damage, where: str) -> None:  # type: ignore[no-untyped-def]
    model = copy.deepcopy(MODEL)
    damage(model)
    errors = schema_errors(minimal(components=[model]), "1.6")
    assert errors and "modelCard" in errors[0] and where in json.dumps(errors)


def test_formats_are_checked() -> None:
    bad_time = minimal(metadata={"timestamp": "not-a-date"})
    assert schema_errors(bad_time, "1.6") == [
        '$.metadata.timestamp: "not-a-date" is not a "date-time"']
    def with_url(url: str) -> dict[str, Any]:
        return minimal(components=[{"type": "library", "name": "a", "externalReferences": [
            {"type": "website", "url": url}]}])

    assert schema_errors(with_url("https://example.org/ä"), "1.6") == []
    errors = schema_errors(with_url("https://exa mple.org"), "1.6")
    assert errors and errors[0].startswith("$.components[0].externalReferences[0].url")


def test_duplicate_items_are_rejected() -> None:
    """uniqueItems with JSON equality: key order does not make two objects differ."""
    comp = {"type": "library", "name": "a", "bom-ref": "a"}
    errors = schema_errors(minimal(components=[comp, dict(reversed(comp.items()))]), "1.6")
    assert errors and errors[0].startswith("$.components: ") and "non-unique" in errors[0]
    assert schema_errors(minimal(components=[comp, {**comp, "bom-ref": "b"}]), "1.6") == []
