"""Policy checks on the environment: licences (SPDX allow/deny lists), unknown origin, and
known vulnerabilities from an offline directory of OSV advisories (no network, ever)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lifegate.core.errors import ConfigError
from lifegate.core.model import Finding, Severity
from lifegate.gates._sbom_env import Dist, License, canonical_name

__all__ = ["Advisory", "Rule", "license_findings", "load_advisories", "match_advisories",
           "origin_findings", "parse_expression"]

Rule = Literal["fail", "warn", "ignore"]
_TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z0-9.+:\-]+)")
_OSV_SEVERITY = {"CRITICAL": Severity.CRITICAL, "HIGH": Severity.HIGH,
                 "MODERATE": Severity.MEDIUM, "MEDIUM": Severity.MEDIUM, "LOW": Severity.LOW}


def parse_expression(expr: str) -> list[frozenset[str]]:
    """An SPDX licence expression as its alternatives: each a set of ids that must all hold.

    ``MIT OR (Apache-2.0 AND BSD-3-Clause)`` -> ``[{MIT}, {Apache-2.0, BSD-3-Clause}]``;
    ``X WITH exception`` counts as ``X``. Ids are lower-cased. ValueError when malformed.
    """
    tokens = _TOKEN.findall(expr)
    if "".join(tokens) != re.sub(r"\s+", "", expr) or not tokens:
        raise ValueError(f"not an SPDX expression: {expr!r}")
    pos, result = _or(tokens, 0)
    if pos != len(tokens):
        raise ValueError(f"unexpected {tokens[pos]!r} in {expr!r}")
    return result


def _or(t: list[str], pos: int) -> tuple[int, list[frozenset[str]]]:
    pos, alts = _and(t, pos)
    while pos < len(t) and t[pos].upper() == "OR":
        pos, more = _and(t, pos + 1)
        alts = alts + more
    return pos, alts


def _and(t: list[str], pos: int) -> tuple[int, list[frozenset[str]]]:
    pos, alts = _term(t, pos)
    while pos < len(t) and t[pos].upper() == "AND":
        pos, right = _term(t, pos + 1)
        alts = [a | b for a in alts for b in right]
    return pos, alts


def _term(t: list[str], pos: int) -> tuple[int, list[frozenset[str]]]:
    if pos >= len(t):
        raise ValueError("expression ends too early")
    if t[pos] == "(":
        pos, alts = _or(t, pos + 1)
        if pos >= len(t) or t[pos] != ")":
            raise ValueError("unbalanced parenthesis")
        return pos + 1, alts
    if t[pos].upper() in ("AND", "OR", "WITH", ")"):
        raise ValueError(f"unexpected {t[pos]!r}")
    ident = t[pos].lower()
    pos += 1
    if pos < len(t) and t[pos].upper() == "WITH":
        if pos + 1 >= len(t) or t[pos + 1] in ("(", ")"):
            raise ValueError("WITH needs an exception id")
        pos += 2  # the exception narrows the licence; the licence decides
    return pos, [frozenset({ident})]


def _alternatives(lic: License) -> list[frozenset[str]] | None:
    if lic.kind == "name":
        return None
    try:
        return parse_expression(lic.value)
    except ValueError:
        return None


def _finding(rule: str, dist: Dist, message: str, policy_rule: Rule,
             provision: str = "5.2.3-1") -> list[Finding]:
    if policy_rule == "ignore":
        return []
    return [Finding(rule=rule, message=message, provision=provision, location=dist.purl,
                    blocking=policy_rule == "fail",
                    severity=Severity.HIGH if policy_rule == "fail" else Severity.MEDIUM)]


def license_findings(dists: list[Dist], allow: list[str], deny: list[str],
                     unknown: Rule) -> list[Finding]:
    """Denied, not allowed, and unknown licences (per the rule for unknown)."""
    allow_l, deny_l = {a.lower() for a in allow}, {d.lower() for d in deny}
    out: list[Finding] = []
    for dist in dists:
        lic = dist.license
        if lic is None:
            out += _finding("SBOM-LICENSE-UNKNOWN", dist, f"{dist.name} {dist.version} "
                            "declares no licence", unknown)
            continue
        alts = _alternatives(lic)
        if alts is None:  # a free-text name: only an exact entry in a list can judge it
            name = lic.value.lower()
            if name in deny_l:
                out += _finding("SBOM-LICENSE-DENIED", dist, f"{dist.name} {dist.version}: "
                                f"licence {lic.value!r} is denied", "fail")
            elif allow_l and name not in allow_l:
                out += _finding("SBOM-LICENSE-UNKNOWN", dist, f"{dist.name} {dist.version}: "
                                f"licence {lic.value!r} is not an SPDX id, so it cannot be "
                                "shown to be allowed", unknown)
            continue
        if deny_l and all(alt & deny_l for alt in alts):
            out += _finding("SBOM-LICENSE-DENIED", dist, f"{dist.name} {dist.version}: "
                            f"licence {lic.value} is denied by the policy", "fail")
        elif allow_l and not any(alt <= allow_l for alt in alts):
            out += _finding("SBOM-LICENSE-NOT-ALLOWED", dist, f"{dist.name} {dist.version}: "
                            f"licence {lic.value} is not in the policy's allow list", "fail")
    return out


def origin_findings(dists: list[Dist], rule: Rule) -> list[Finding]:
    """Distributions whose origin cannot be told (no installer record, no direct URL)."""
    out: list[Finding] = []
    for dist in dists:
        if dist.origin == "unknown":
            out += _finding("SBOM-ORIGIN-UNKNOWN", dist, f"{dist.name} {dist.version} has no "
                            "installer record and no direct_url.json: where it came from is "
                            "unknown", rule)
    return out


@dataclass(frozen=True)
class Advisory:
    id: str
    summary: str
    aliases: tuple[str, ...]
    severity: Severity
    file: str
    affected: tuple[dict[str, Any], ...]  # the PyPI entries of ``affected``


def _bad(path: Path, why: str) -> ConfigError:
    return ConfigError(f"advisory {path.name} is not usable OSV JSON: {why}", where=str(path),
                       fix="repair or remove the file; the advisory directory must hold only "
                       "OSV JSON documents")


def load_advisories(folder: Path) -> dict[str, list[Advisory]]:
    """PyPI advisories under ``folder`` (recursively), by canonical package name."""
    if not folder.is_dir():
        raise ConfigError(f"advisory directory not found: {folder}", where=str(folder),
                          fix="point `advisories` at a folder of OSV JSON files")
    out: dict[str, list[Advisory]] = {}
    for path in sorted(folder.rglob("*.json")):
        adv = _read_advisory(path)
        if adv is None:
            continue
        for entry in adv.affected:
            out.setdefault(canonical_name(str(entry["package"]["name"])), []).append(adv)
    return out


def _read_advisory(path: Path) -> Advisory | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _bad(path, str(exc)) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
        raise _bad(path, "no 'id'")
    affected = doc.get("affected", [])
    if not isinstance(affected, list) or not all(isinstance(a, dict) for a in affected):
        raise _bad(path, "'affected' is not a list of objects")
    pypi = []
    for entry in affected:
        pkg = entry.get("package")
        if not isinstance(pkg, dict) or not isinstance(pkg.get("name"), str):
            raise _bad(path, "an 'affected' entry has no package name")
        if pkg.get("ecosystem") == "PyPI":
            _check_entry(entry, path)
            pypi.append(entry)
    if doc.get("withdrawn") or not pypi:
        return None
    sev = str((doc.get("database_specific") or {}).get("severity", "HIGH")).upper()
    return Advisory(doc["id"], str(doc.get("summary") or doc.get("details") or "")[:300],
                    tuple(str(a) for a in doc.get("aliases") or []),
                    _OSV_SEVERITY.get(sev, Severity.HIGH), str(path), tuple(pypi))


def _check_entry(entry: dict[str, Any], path: Path) -> None:
    from packaging.version import InvalidVersion, Version

    versions = entry.get("versions", [])
    ranges = entry.get("ranges", [])
    if not isinstance(versions, list) or not isinstance(ranges, list):
        raise _bad(path, "'versions' and 'ranges' must be lists")
    for rng in ranges:
        if not isinstance(rng, dict) or not isinstance(rng.get("events"), list):
            raise _bad(path, "a range has no 'events' list")
        if rng.get("type") != "ECOSYSTEM":
            continue
        for event in rng["events"]:
            if not isinstance(event, dict) or len(event) != 1:
                raise _bad(path, f"event {event!r} must have exactly one key")
            value = str(next(iter(event.values())))
            try:
                if value != "0":
                    Version(value)
            except InvalidVersion:
                raise _bad(path, f"{value!r} is not a PyPI version") from None


def _in_range(version: Any, events: list[dict[str, str]]) -> bool:
    """OSV's evaluation of one ECOSYSTEM range: events in version order."""
    from packaging.version import Version

    def key(event: dict[str, str]) -> Any:
        value = next(iter(event.values()))
        return Version("0") if value == "0" else Version(value)

    limits = [Version(e["limit"]) for e in events if "limit" in e]
    if any(version >= lim for lim in limits):
        return False
    affected = False
    for event in sorted((e for e in events if "limit" not in e), key=key):
        kind, value = next(iter(event.items()))
        bound = key(event)
        if kind == "introduced" and (value == "0" or version >= bound):
            affected = True
        elif kind == "fixed" and version >= bound:
            affected = False
        elif kind == "last_affected" and version > bound:
            affected = False
    return affected


def is_affected(dist: Dist, entry: dict[str, Any]) -> bool:
    from packaging.version import InvalidVersion, Version

    if dist.version in [str(v) for v in entry.get("versions", [])]:
        return True
    try:
        version = Version(dist.version)
    except InvalidVersion:
        return False  # not PEP 440: only the explicit version list can match
    return any(_in_range(version, r["events"]) for r in entry.get("ranges", [])
               if r.get("type") == "ECOSYSTEM")


def match_advisories(dists: list[Dist], advisories: dict[str, list[Advisory]],
                     ) -> list[tuple[Dist, Advisory]]:
    """Every (distribution, advisory) pair where the installed version is affected."""
    hits = []
    for dist in dists:
        for adv in advisories.get(dist.key, []):
            if any(canonical_name(e["package"]["name"]) == dist.key and is_affected(dist, e)
                   for e in adv.affected):
                hits.append((dist, adv))
    return hits


def vulnerability_findings(hits: list[tuple[Dist, Advisory]]) -> list[Finding]:
    return [Finding(rule="SBOM-VULNERABLE", provision="5.2.3-1", location=dist.purl,
                    severity=adv.severity,
                    message=f"{dist.name} {dist.version} is affected by {adv.id}"
                    + (f" ({', '.join(adv.aliases[:3])})" if adv.aliases else "")
                    + (f": {adv.summary}" if adv.summary else ""))
            for dist, adv in hits]
