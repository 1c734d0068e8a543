"""LG-INV against real files and a real SQLite ledger."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

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
    assert manifest["model:models/clf"]["models/clf/weights.bin"] == w
    subj = {s.name: s.sha256 for s in run.result.subjects}
    assert subj["model:models/clf"] == tree_digest(manifest["model:models/clf"].items())
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
    with pytest.raises(GateFailed, match="contains no files"):
        run_gate_by_id("LG-INV", make_policy(**{"LG-INV": {"models": ["empty"]}}))


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
