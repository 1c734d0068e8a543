"""The ledger tamper matrix: every column of every table (read from the live schema, so tables
and columns added later are covered without touching this file) and every field of every line
of an export is edited in turn. Each edit must either make verification fail, or leave what
any reader sees — the decoded records and the conformity report — exactly as it was.

Hypothesis then throws random edits at the database and at the export with the same rule."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifegate.core import LifegateError, Policy, load_policy
from lifegate.core.model import Finding, GateResult, Phase, RunContext, Verdict
from lifegate.evidence.keys import generate_keypair, load_public_key
from lifegate.evidence.ledger import open_ledger, read_export
from lifegate.evidence.statement import (
    PredicateType,
    attestation_statement,
    not_applicable_statement,
    revocation_statement,
    statement,
    system_subject,
)
from lifegate.evidence.verify import verify_records
from lifegate.reports.conformity import evaluate


def _seed(policy: Policy) -> None:
    """A ledger with one of each kind of record the report reads."""
    led = open_ledger(policy)
    ctx = RunContext(system="sys", system_version="1.0", phase=Phase.DESIGN)
    passed = GateResult(gate_id="LG-INV", verdict=Verdict.PASS, provisions=["5.2.1-1"])
    failed = GateResult(gate_id="LG-THREAT", verdict=Verdict.FAIL, provisions=["5.1.3-1.3"],
                        findings=[Finding(rule="THREAT-MISSING", message="no mitigation",
                                          provision="5.1.3-1.3")])
    led.record_gate_run(passed, ctx, policy, [])
    led.record_gate_run(failed, ctx, policy, [])
    led.append(attestation_statement(system="sys", version="1.0", provision="5.1.1-1",
                                     by="ada", role="developer", text="trained", expires=None),
               PredicateType.ATTESTATION)
    led.append(not_applicable_statement(system="sys", version="1.0", provision="5.1.1-2",
                                        by="ada", reason="no third parties work on it"),
               PredicateType.NOT_APPLICABLE)
    led.append(revocation_statement(system="sys", name="m", digest="cd" * 32, reason="leak",
                                    by="ada"), PredicateType.REVOCATION)
    led.append(statement([system_subject("sys", "1.0")], PredicateType.PLATFORM_EVENT,
                         {"system": "sys", "platform": "airflow", "event": "task-success",
                          "refs": {}, "detail": "", "at": "2026-12-01T00:00:00+00:00"}),
               PredicateType.PLATFORM_EVENT)
    led.close()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("matrix")
    keys = generate_keypair(root / "keys")
    (root / "lifegate.yaml").write_text(
        "version: 1\nsystem: {name: sys, version: '1.0'}\n"
        f"keys: {{signing_key: {keys.private}, trusted: [{{name: k, public_key: {keys.public}}}]}}"
        "\nledger: {url: 'sqlite:///ledger.db', checkpoints: [cp]}\n")
    _seed(load_policy(root / "lifegate.yaml"))
    return root


@pytest.fixture
def project(pristine: Path, tmp_path: Path) -> Path:
    proj = tmp_path / "p"
    shutil.copytree(pristine, proj)
    return proj


def _seen(policy: Policy) -> tuple[Any, ...] | None:
    """What readers see, or None when the ledger does not verify."""
    try:
        led = open_ledger(policy, write=False)
        checked = led.verify()
        entries = list(led.entries(stop=checked.head_seq))
        report = evaluate(entries, policy, ledger="x").model_dump(mode="json")
    except LifegateError:
        return None
    report.pop("generated_at")
    rows = [(e.seq, e.kind, e.statement, e.recorded_at.isoformat(), e.record_hash, e.signed)
            for e in entries]
    return rows, report


def _backup(db: Path, to: Path) -> None:
    """Copy the database with everything in it (its WAL folded in first)."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    shutil.copy(db, to)


def _restore(backup: Path, db: Path) -> None:
    for extra in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        extra.unlink(missing_ok=True)
    shutil.copy(backup, db)


def _cells(db: Path) -> Iterator[tuple[str, str, int]]:
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        for table in tables:
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            rowids = [r[0] for r in conn.execute(f"SELECT rowid FROM {table}")]
            for col in cols:
                for rowid in rowids:
                    yield table, col, rowid
    finally:
        conn.close()


def _mutations(value: object) -> list[object]:
    if value is None:
        return ["AAAA"]
    if isinstance(value, int):
        return [value + 1, value - 1]
    text = str(value)
    if not text:
        return ["x"]
    mid = len(text) // 2
    flipped = text[:mid] + ("0" if text[mid] != "0" else "1") + text[mid + 1:]
    return [flipped, "", None]


def _edit(db: Path, table: str, col: str, rowid: int, new: object) -> bool:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute(f"UPDATE {table} SET {col}=? WHERE rowid=?", (new, rowid))
        return True
    except sqlite3.DatabaseError:  # NOT NULL, UNIQUE ...: the database itself refuses it
        return False
    finally:
        conn.close()


def test_every_column_of_every_table(project: Path) -> None:
    policy = load_policy(project / "lifegate.yaml")
    db = project / "ledger.db"
    baseline = _seen(policy)
    assert baseline is not None and len(baseline[0]) == 6
    backup = project / "backup.db"
    _backup(db, backup)
    counts = {"detected": 0, "harmless": 0, "refused by the database": 0}
    missed = []
    for table, col, rowid in list(_cells(db)):
        conn = sqlite3.connect(db)
        value = conn.execute(f"SELECT {col} FROM {table} WHERE rowid=?", (rowid,)).fetchone()[0]
        conn.close()
        for new in _mutations(value):
            if not _edit(db, table, col, rowid, new):
                counts["refused by the database"] += 1
                continue
            seen = _seen(policy)
            if seen is None:
                counts["detected"] += 1
            elif seen == baseline:
                counts["harmless"] += 1
            else:
                missed.append(f"{table}.{col} rowid {rowid} := {new!r}")
            _restore(backup, db)
    print(f"ledger tamper matrix: {counts}")
    assert not missed, missed
    assert counts["detected"] > 60


def _export(project: Path) -> tuple[Path, Callable[[Path], tuple[Any, ...] | None]]:
    policy = load_policy(project / "lifegate.yaml")
    out = project / "export.jsonl"
    open_ledger(policy, write=False).export(out)
    pub = load_public_key(project / "keys" / "lifegate.pub")
    from lifegate.evidence.keys import fingerprint
    from lifegate.evidence.ledger import decode

    def seen(path: Path) -> tuple[Any, ...] | None:
        try:
            header, recs = read_export(path)
            records = list(recs)
            head = header["head"]
            verify_records(iter(records), known_keys={fingerprint(pub): pub},
                           trusted={fingerprint(pub)}, require_signatures=True,
                           head=(int(head["seq"]), str(head["record_hash"])))
            return tuple((e.seq, e.kind, json.dumps(e.statement, sort_keys=True),
                          e.recorded_at.isoformat()) for e in map(decode, records))
        except (LifegateError, KeyError, TypeError, ValueError):
            return None

    return out, seen


def test_every_field_of_every_export_line(project: Path) -> None:
    out, seen = _export(project)
    baseline = seen(out)
    assert baseline is not None
    lines = out.read_text().splitlines()
    missed, detected = [], 0
    for i, line in enumerate(lines):
        obj = json.loads(line)
        for key, value in obj.items():
            for new in [*_mutations(value), {"x": 1}]:
                edited = dict(obj, **{key: new})
                out.write_text("\n".join([*lines[:i], json.dumps(edited), *lines[i + 1:]]) + "\n")
                result = seen(out)
                if result is None:
                    detected += 1
                elif result != baseline:
                    missed.append(f"line {i + 1} {key} := {new!r}")
    print(f"export tamper matrix: {detected} edits detected over {len(lines)} lines")
    assert not missed, missed


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_edits_of_the_database(project: Path, data: st.DataObject) -> None:
    policy = load_policy(project / "lifegate.yaml")
    db = project / "ledger.db"
    backup = project / "hyp-backup.db"
    if not backup.exists():
        _backup(db, backup)
    baseline = _seen(policy)
    table, col, rowid = data.draw(st.sampled_from(list(_cells(db))))
    new = data.draw(st.one_of(st.none(), st.integers(-3, 10**6), st.text(max_size=80),
                              st.sampled_from(["gate-run", "attestation", "note", "0" * 64])))
    try:
        if _edit(db, table, col, rowid, new):
            seen = _seen(policy)
            assert seen is None or seen == baseline, (table, col, rowid, new)
    finally:
        _restore(backup, db)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_edits_of_the_export(project: Path, data: st.DataObject) -> None:
    out, seen = _export(project)
    baseline = seen(out)
    text = out.read_text()
    pos = data.draw(st.integers(0, len(text) - 1))
    new = data.draw(st.text(min_size=0, max_size=3))
    out.write_text(text[:pos] + new + text[pos + 1:])
    result = seen(out)
    assert result is None or result == baseline, (pos, new)
