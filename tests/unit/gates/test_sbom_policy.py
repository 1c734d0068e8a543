"""LG-SBOM policy checks: SPDX licence expressions, allow/deny lists, origin, OSV advisories."""

from __future__ import annotations

from pathlib import Path

import pytest
from sbom_helpers import advisory, osv, write_dist

from lifegate.core.errors import ConfigError
from lifegate.gates._sbom_env import Dist, License, scan_environment
from lifegate.gates._sbom_policy import (
    license_findings,
    load_advisories,
    match_advisories,
    origin_findings,
    parse_expression,
)


@pytest.mark.parametrize(("expr", "alts"), [
    ("MIT", [{"mit"}]),
    ("MIT OR Apache-2.0", [{"mit"}, {"apache-2.0"}]),
    ("MIT AND (Apache-2.0 OR BSD-3-Clause)", [{"mit", "apache-2.0"}, {"mit", "bsd-3-clause"}]),
    ("GPL-2.0-or-later WITH Classpath-exception-2.0 OR MIT", [{"gpl-2.0-or-later"}, {"mit"}]),
    ("(MIT)", [{"mit"}]),
    ("LicenseRef-Proprietary", [{"licenseref-proprietary"}]),
])
def test_expressions(expr: str, alts: list[set[str]]) -> None:
    assert parse_expression(expr) == [frozenset(a) for a in alts]


@pytest.mark.parametrize("bad", ["", "MIT OR", "(MIT", "MIT)", "AND MIT", "MIT WITH",
                                 "MIT / Apache", "MIT Apache-2.0"])
def test_malformed_expressions(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_expression(bad)


def dist(lic: License | None, name: str = "pkg") -> Dist:
    return Dist(name=name, version="1.0", location="/x", license=lic, origin="index")


def rules(findings: list) -> list[tuple[str, bool]]:  # type: ignore[type-arg]
    return [(f.rule, f.blocking) for f in findings]


def test_deny_needs_every_alternative_denied() -> None:
    deny = ["GPL-3.0-only"]
    assert rules(license_findings([dist(License("id", "GPL-3.0-only"))], [], deny, "warn")) \
        == [("SBOM-LICENSE-DENIED", True)]
    assert license_findings([dist(License("expression", "GPL-3.0-only OR MIT"))], [], deny,
                            "warn") == []
    assert rules(license_findings([dist(License("expression", "GPL-3.0-only AND MIT"))], [],
                                  deny, "warn")) == [("SBOM-LICENSE-DENIED", True)]


def test_allow_list_needs_one_alternative_fully_allowed() -> None:
    allow = ["MIT", "apache-2.0"]
    ok = [dist(License("id", "MIT")), dist(License("expression", "MIT AND Apache-2.0")),
          dist(License("expression", "BSD-3-Clause OR MIT"))]
    assert license_findings(ok, allow, [], "warn") == []
    bad = license_findings([dist(License("expression", "MIT AND BSD-3-Clause"))], allow, [],
                           "warn")
    assert rules(bad) == [("SBOM-LICENSE-NOT-ALLOWED", True)]


def test_unknown_and_free_text_licences_follow_the_rule() -> None:
    none, name = dist(None, "a"), dist(License("name", "Artistic License"), "b")
    assert rules(license_findings([none], [], [], "warn")) == [("SBOM-LICENSE-UNKNOWN", False)]
    assert rules(license_findings([none], [], [], "fail")) == [("SBOM-LICENSE-UNKNOWN", True)]
    assert license_findings([none], [], [], "ignore") == []
    assert license_findings([name], [], [], "fail") == []  # no list to judge it against
    assert rules(license_findings([name], ["MIT"], [], "fail")) == \
        [("SBOM-LICENSE-UNKNOWN", True)]
    assert license_findings([name], ["artistic license"], [], "fail") == []


def test_unknown_origin() -> None:
    d = dist(License("id", "MIT"))
    d.origin = "unknown"
    assert rules(origin_findings([d], "fail")) == [("SBOM-ORIGIN-UNKNOWN", True)]
    assert rules(origin_findings([d], "warn")) == [("SBOM-ORIGIN-UNKNOWN", False)]
    d.origin = "vcs"
    assert origin_findings([d], "fail") == []


@pytest.fixture
def env(tmp_path: Path) -> list[Dist]:
    site = tmp_path / "site"
    write_dist(site, "vulnerable", "1.2.0")
    write_dist(site, "patched", "2.0.1")
    write_dist(site, "listed", "0.9")
    write_dist(site, "newer", "5.0")
    return scan_environment([str(site)]).dists


def test_advisory_finds_planted_version_and_ignores_fixed_one(tmp_path: Path,
                                                              env: list[Dist]) -> None:
    adv = tmp_path / "osv"
    osv(adv, "PYSEC-2025-0001", advisory("PYSEC-2025-0001", "Vulnerable",
                                         [{"introduced": "0"}, {"fixed": "1.3.0"}]))
    osv(adv, "PYSEC-2025-0002", advisory("PYSEC-2025-0002", "patched",
                                         [{"introduced": "2.0"}, {"fixed": "2.0.1"}]))
    osv(adv / "nested", "GHSA-0003", advisory("GHSA-xxxx-0003", "listed", [], ["0.9", "0.8"]))
    osv(adv, "PYSEC-2025-0004", advisory("PYSEC-2025-0004", "newer",
                                         [{"introduced": "1.0"}, {"last_affected": "4.9"}]))
    hits = match_advisories(env, load_advisories(adv))
    assert sorted((d.name, a.id) for d, a in hits) == [
        ("listed", "GHSA-xxxx-0003"), ("vulnerable", "PYSEC-2025-0001")]


def test_withdrawn_and_other_ecosystems_are_ignored(tmp_path: Path, env: list[Dist]) -> None:
    doc = advisory("PYSEC-2025-0005", "vulnerable", [{"introduced": "0"}])
    osv(tmp_path / "osv", "w", {**doc, "withdrawn": "2025-02-01T00:00:00Z"})
    npm = advisory("GHSA-npm-0006", "vulnerable", [{"introduced": "0"}])
    npm["affected"][0]["package"]["ecosystem"] = "npm"
    osv(tmp_path / "osv", "npm", npm)
    assert match_advisories(env, load_advisories(tmp_path / "osv")) == []


def test_limit_event_bounds_the_range(tmp_path: Path, env: list[Dist]) -> None:
    osv(tmp_path / "osv", "l", advisory("PYSEC-2025-0007", "newer",
                                        [{"introduced": "0"}, {"limit": "5.0"}]))
    assert match_advisories(env, load_advisories(tmp_path / "osv")) == []


@pytest.mark.parametrize(("content", "why"), [
    ("{not json", "Expecting"),
    ('["a list"]', "no 'id'"),
    ('{"id": "X", "affected": {"package": 1}}', "not a list of objects"),
    ('{"id": "X", "affected": [{"package": {"ecosystem": "PyPI"}}]}', "no package name"),
    ('{"id": "X", "affected": [{"package": {"ecosystem": "PyPI", "name": "a"}, '
     '"ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": "not a version!"}]}]}]}',
     "not a PyPI version"),
    ('{"id": "X", "affected": [{"package": {"ecosystem": "PyPI", "name": "a"}, '
     '"ranges": [{"type": "ECOSYSTEM"}]}]}', "no 'events'"),
])
def test_malformed_advisory_is_a_config_error(tmp_path: Path, content: str, why: str) -> None:
    (tmp_path / "osv").mkdir()
    (tmp_path / "osv" / "bad.json").write_text(content)
    with pytest.raises(ConfigError, match=why) as exc:
        load_advisories(tmp_path / "osv")
    assert exc.value.where == str(tmp_path / "osv" / "bad.json")


def test_missing_advisory_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="advisory directory not found"):
        load_advisories(tmp_path / "nope")
