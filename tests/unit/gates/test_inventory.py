"""LG-INV against real files and a real SQLite ledger."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
import yaml

from lifegate.core import GateFailed, Policy, Verdict, run_gate_by_id
from lifegate.core.hashing import tree_digest
from lifegate.evidence.ledger import open_ledger

Make = Callable[..., Policy]


def test_digests_are_real_sha256(project: Path, make_policy: Make) -> None:
    policy = make_policy(**{"LG-INV": {"models": ["models/clf"], "datasets": ["data/train.csv"]}})
    run = run_gate_by_id("LG-INV", policy)
    assert run.result.verdict is Verdict.PASS
    manifest = run.result.details["manifest"]
    w = hashlib.sha256((project / "models/clf/weights.bin").read_bytes()).hexdigest()
    assert manifest["models/clf"]["models/clf/weights.bin"] == w
    subj = {s.name: s.sha256 for s in run.result.subjects}
    # a folder: the tree digest over paths relative to the folder; a file: its sha256
    assert subj["models/clf"] == tree_digest(
        (name.removeprefix("models/clf/"), d) for name, d in manifest["models/clf"].items())
    train = hashlib.sha256((project / "data/train.csv").read_bytes()).hexdigest()
    assert subj["data/train.csv"] == train
    assert run.result.details["kinds"] == {"models/clf": "model", "data/train.csv": "dataset"}
    assert run.result.metrics["files"] == 3
    entry = list(open_ledger(policy).entries())[-1]
    assert entry.seq == run.record.seq and entry.subjects == subj


def test_reports_changes_since_previous_run(project: Path, make_policy: Make) -> None:
    policy = make_policy(**{"LG-INV": {"models": ["models/clf"]}})
    run_gate_by_id("LG-INV", policy)
    (project / "models/clf/config.json").write_text('{"layers": 3}')
    (project / "models/clf/extra.pt").write_bytes(b"x")
    (project / "models/clf/weights.bin").unlink()
    run = run_gate_by_id("LG-INV", policy)
    rules = {(f.rule, f.location) for f in run.result.findings}
    assert ("INV-CHANGED", "models/clf/config.json") in rules
    assert ("INV-ADDED", "models/clf/extra.pt") in rules
    assert ("INV-REMOVED", "models/clf/weights.bin") in rules
    assert run.result.verdict is Verdict.PASS and run.result.metrics["changed"] == 3


def test_missing_asset_is_error_and_earlier_evidence_kept(project: Path,
                                                          make_policy: Make) -> None:
    policy = make_policy(**{"LG-INV": {"models": ["models/clf"]}})
    first = run_gate_by_id("LG-INV", policy)
    policy = make_policy(**{"LG-INV": {"models": ["models/clf"], "datasets": ["data/gone.csv"]}})
    with pytest.raises(GateFailed) as exc:
        run_gate_by_id("LG-INV", policy)
    assert exc.value.result.verdict is Verdict.ERROR
    assert "path not found" in str(exc.value) and "gone.csv" in str(exc.value)
    led = open_ledger(policy)
    entries = list(led.entries())
    assert entries[0].record_hash == first.record.record_hash and len(entries) == 2
    led.verify()


def test_symlink_is_refused(project: Path, make_policy: Make) -> None:
    os.symlink("/etc/passwd", project / "models/clf/link")
    policy = make_policy(**{"LG-INV": {"models": ["models/clf"]}})
    with pytest.raises(GateFailed, match="symlink"):
        run_gate_by_id("LG-INV", policy)


def test_no_assets_declared_fails(make_policy: Make) -> None:
    with pytest.raises(GateFailed, match="names no assets"):
        run_gate_by_id("LG-INV", make_policy(**{"LG-INV": {}}))


def test_empty_directory_fails(project: Path, make_policy: Make) -> None:
    (project / "empty").mkdir()
    with pytest.raises(GateFailed, match="contains no files") as exc:
        run_gate_by_id("LG-INV", make_policy(**{"LG-INV": {"models": ["empty"]}}))
    # no config or prompt named: the run claims nothing (the inventory lists no dependencies
    # of the assets, so it claims neither 5.2.1-1 nor 5.2.1-2)
    assert exc.value.result.provisions == [] and exc.value.result.provision_checks == {}


def test_claims_the_change_log_only_for_configs_and_prompts(project: Path,
                                                             make_policy: Make) -> None:
    run = run_gate_by_id("LG-INV", make_policy(**{"LG-INV": {"models": ["models/clf"]}}))
    assert run.result.verdict is Verdict.PASS and run.result.provisions == []
    policy = make_policy(**{"LG-INV": {"models": ["models/clf"],
                                       "configs": ["models/clf/config.json"]}})
    run = run_gate_by_id("LG-INV", policy)
    assert run.result.provisions == ["5.2.4-3"]
    assert run.result.provision_checks == {"5.2.4-3": "pass"}
    (project / "empty").mkdir()
    policy = make_policy(**{"LG-INV": {"models": ["empty"],
                                       "configs": ["models/clf/config.json"]}})
    with pytest.raises(GateFailed) as exc:
        run_gate_by_id("LG-INV", policy)
    # a finding that names no provision fails every provision of the run, as the report does
    assert exc.value.result.provision_checks == {"5.2.4-3": "fail"}


def test_unknown_setting_is_config_error(make_policy: Make) -> None:
    with pytest.raises(Exception, match=r"extra_forbidden|Extra inputs|colour"):
        run_gate_by_id("LG-INV", make_policy(**{"LG-INV": {"colour": "red"}}))


def test_parallel_hash_matches_sequential(tmp_path: Path) -> None:
    from lifegate.core.hashing import hash_files

    files = []
    for i in range(9):
        p = tmp_path / f"f{i}"
        p.write_bytes(os.urandom(100_000 + i))
        files.append(p)
    got = hash_files(files, workers=4)
    assert [d.sha256 for d in got] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in files]


def test_every_gate_names_and_digests_a_file_and_a_folder_alike(
        tmp_path: Path, signing_policy: Callable[..., Policy], model: Path) -> None:
    """LG-INV, LG-DATA, LG-DRIFT, LG-SCAN, LG-SBOM, LG-SIGN and LG-THREAT give the same file
    and the same folder the same subject name and digest: a file's sha256, a folder's tree
    digest (model_signing's root digest is LG-SIGN's extra subject under another name)."""
    from lifegate.core.hashing import sha256_file, subject_digest

    rows = "\n".join(f"{i},{i % 3}" for i in range(60))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text(f"a,b\n{rows}\n")
    (tmp_path / "threat_model.yaml").write_text(yaml.safe_dump({
        "system": "sys", "reviewed": date.today(), "reviewed_by": "alice",
        "threats": [{"id": "T1", "class": "evasion", "status": "open"}]}))
    policy = signing_policy(**{
        "LG-INV": {"models": ["models/clf"], "datasets": ["./data/../data/train.csv"],
                   "configs": ["models/clf/config.json", "threat_model.yaml"]},
        "LG-DATA": {"dataset": "data/train.csv",
                    "expectations": [{"type": "expect_column_to_exist",
                                      "kwargs": {"column": "a"}}]},
        "LG-DRIFT": {"reference": "data/train.csv", "current": "data/train.csv"},
        "LG-SCAN": {"paths": ["models/clf"], "allow_unknown_formats": True},
        "LG-SBOM": {"model": "models/clf", "environment": False, "release_manifest": False,
                    "datasets": [{"name": "train", "path": "data/train.csv"}]},
        "LG-SIGN": {"model": "models/clf", "release_manifest": False},
        "LG-THREAT": {}})
    by_gate = {}
    for gid in ("LG-SIGN", "LG-INV", "LG-DATA", "LG-DRIFT", "LG-SCAN", "LG-SBOM", "LG-THREAT"):
        run = run_gate_by_id(gid, policy, raise_on_block=False)
        assert run.result.verdict is not Verdict.ERROR, (gid, run.result.findings)
        by_gate[gid] = {s.name: s.sha256 for s in run.result.subjects}
    expected = {"models/clf": subject_digest(model),
                "data/train.csv": sha256_file(tmp_path / "data" / "train.csv"),
                "models/clf/config.json": sha256_file(model / "config.json"),
                "threat_model.yaml": sha256_file(tmp_path / "threat_model.yaml")}
    assert by_gate["LG-INV"] == expected
    names = {"LG-SIGN": ["models/clf"], "LG-DATA": ["data/train.csv"],
             "LG-DRIFT": ["data/train.csv"], "LG-SCAN": ["models/clf/config.json"],
             "LG-SBOM": ["models/clf", "data/train.csv"], "LG-THREAT": ["threat_model.yaml"]}
    for gid, wanted in names.items():
        for name in wanted:
            assert by_gate[gid].get(name) == expected[name], (gid, name)
    assert by_gate["LG-SIGN"][f"model:{model.name}"] != expected["models/clf"]  # root digest


def test_subject_name_and_digest_are_documented_and_fail_closed(tmp_path: Path) -> None:
    from lifegate.core.errors import EvidenceError
    from lifegate.core.hashing import sha256_file, subject_digest, subject_name

    folder = tmp_path / "m"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.bin").write_bytes(b"a")
    (folder / "sub" / "b.txt").write_bytes(b"b")
    assert subject_name(tmp_path / "m" / "." / "sub" / ".." / "a.bin", tmp_path) == "m/a.bin"
    assert subject_name(folder, tmp_path) == "m" and subject_name(tmp_path, tmp_path) == "."
    assert subject_name(Path("/elsewhere/x/../y"), tmp_path) == "/elsewhere/y"
    assert subject_digest(folder / "a.bin") == hashlib.sha256(b"a").hexdigest()
    lines = "".join(f"{rel}\0{hashlib.sha256(data).hexdigest()}\n"
                    for rel, data in (("a.bin", b"a"), ("sub/b.txt", b"b")))
    assert subject_digest(folder) == hashlib.sha256(lines.encode()).hexdigest()
    moved = tmp_path / "elsewhere" / "copy"
    moved.parent.mkdir()
    folder.rename(moved)
    assert subject_digest(moved) == hashlib.sha256(lines.encode()).hexdigest()  # location-free
    assert subject_digest(moved, {"a.bin": sha256_file(moved / "a.bin")}) == \
        subject_digest(moved)
    os.mkfifo(moved / "pipe")
    with pytest.raises(EvidenceError, match="not a regular file"):
        subject_digest(moved)
    (moved / "pipe").unlink()
    (moved / "link").symlink_to(moved / "a.bin")
    with pytest.raises(EvidenceError, match="symlink"):
        subject_digest(moved)
