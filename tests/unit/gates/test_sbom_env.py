"""The environment scan of LG-SBOM against real dist-info folders."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sbom_helpers import synthetic_env, write_dist

from lifegate.core.hashing import tree_digest
from lifegate.gates._sbom_env import License, scan_environment


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return synthetic_env(tmp_path / "site")


def test_dist_digest_is_tree_digest_of_the_installed_files(site: Path) -> None:
    scan = scan_environment([str(site)])
    alpha = next(d for d in scan.dists if d.name == "alpha")
    info = site / "alpha-1.0.dist-info"
    files = {"alpha/__init__.py": site / "alpha/__init__.py",
             f"{info.name}/METADATA": info / "METADATA"}
    expected = tree_digest((rel, hashlib.sha256(p.read_bytes()).hexdigest())
                           for rel, p in files.items())
    assert alpha.sha256 == expected and alpha.record_files == 2


def test_requirements_evaluate_markers_and_leave_extras_out(site: Path) -> None:
    scan = scan_environment([str(site)])
    by = {d.name: d for d in scan.dists}
    assert by["alpha"].requires == ["beta", "gamma"]  # delta only with [docs], epsilon py2
    assert by["beta"].requires == ["gamma"]
    assert scan.missing_requirements == []


def test_missing_requirement_is_reported(tmp_path: Path) -> None:
    write_dist(tmp_path, "solo", "1", ["Requires-Dist: not-installed>=1"])
    scan = scan_environment([str(tmp_path)])
    assert scan.missing_requirements == [("solo", "not-installed")]
    assert scan.dists[0].requires == []


def test_licences_origins_and_urls(site: Path) -> None:
    by = {d.name: d for d in scan_environment([str(site)]).dists}
    assert by["alpha"].license == License("expression", "MIT OR Apache-2.0")
    assert by["beta"].license == License("id", "Apache-2.0")
    assert by["gamma"].license == License("id", "MIT")  # from the trove classifier
    assert by["alpha"].origin == "index" and by["gamma"].origin == "vcs"
    assert by["gamma"].origin_url == "https://github.com/example/gamma"
    assert ("vcs", "https://example.org/alpha") in by["alpha"].urls
    assert ("documentation", "https://docs.example.org/alpha") in by["alpha"].urls
    assert by["alpha"].purl == "pkg:pypi/alpha@1.0"


def test_no_installer_and_no_direct_url_is_unknown_origin(tmp_path: Path) -> None:
    write_dist(tmp_path, "stray", "0.1", installer=False)
    assert scan_environment([str(tmp_path)]).dists[0].origin == "unknown"


def test_missing_record_means_no_hash(tmp_path: Path) -> None:
    write_dist(tmp_path, "norecord", "1", record=False)
    dist = scan_environment([str(tmp_path)]).dists[0]
    assert dist.sha256 is None and dist.record_files == 0


@pytest.mark.parametrize(("damage", "why"), [
    (lambda i: (i / "METADATA").write_text("Metadata-Version: 2.1\nName: x\n\n"),
     "METADATA has no Version"),
    (lambda i: (i / "METADATA").write_bytes(b"Name: \xff\xfe\nVersion: 1\n"), "not UTF-8"),
    (lambda i: (i / "METADATA").unlink(), "METADATA is missing"),
    (lambda i: (i / "RECORD").write_text("a.py,sha256=!!!notbase64,3\n"), "not base64"),
    (lambda i: (i / "RECORD").write_text("a.py,sha256=AAAA,3\n"), "3 bytes, not 32"),
    (lambda i: (i / "RECORD").write_text("a.py\n"), "1 fields, not 3"),
    (lambda i: (i / "RECORD").write_text("a.py,md5,3\n"), "is not 'alg=value'"),
    (lambda i: (i / "direct_url.json").write_text("{not json"), "direct_url.json"),
])
def test_broken_metadata_is_reported_not_guessed(tmp_path: Path, damage, why: str) -> None:  # type: ignore[no-untyped-def]
    write_dist(tmp_path, "good", "1")
    info = write_dist(tmp_path, "bad", "1")
    damage(info)
    scan = scan_environment([str(tmp_path)])
    assert [d.name for d in scan.dists] == ["good"]
    assert len(scan.broken) == 1 and scan.broken[0][0] == str(info)
    assert why in scan.broken[0][1]


def test_first_distribution_of_a_name_wins(tmp_path: Path) -> None:
    write_dist(tmp_path / "a", "dup", "2.0")
    write_dist(tmp_path / "b", "Dup", "1.0")
    scan = scan_environment([str(tmp_path / "a"), str(tmp_path / "b")])
    assert [(d.name, d.version) for d in scan.dists] == [("dup", "2.0")]
    assert scan.shadowed == [(str(tmp_path / "b" / "Dup-1.0.dist-info"), "dup 2.0")]


def test_quoted_record_paths_with_commas(tmp_path: Path) -> None:
    info = write_dist(tmp_path, "commas", "1", files={"commas/a,b.txt": b"x"})
    text = (info / "RECORD").read_text().replace("commas/a,b.txt", '"commas/a,b.txt"')
    (info / "RECORD").write_text(text)
    dist = scan_environment([str(tmp_path)]).dists[0]
    assert dist.record_files == 2


def test_running_interpreter_is_the_default(site: Path) -> None:
    names = {d.key for d in scan_environment().dists}
    assert {"cyclonedx-python-lib", "pydantic", "lifegate"} <= names
