"""Issue 16, "the ledger": nothing that changes the report may change without `ledger verify`
failing, run as a user runs it (the `lifegate` command in a real subprocess) and as an
attacker with write access to the database would attack it."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from lifegate.core import LedgerTamperedError, load_policy
from lifegate.evidence.keys import Signer, generate_keypair
from lifegate.evidence.ledger import Ledger, open_ledger, revocations
from lifegate.evidence.statement import (
    PredicateType,
    attestation_statement,
    revocation_statement,
    statement,
    system_subject,
)
from lifegate.evidence.store import record_hash


def lg(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LIFEGATE_")} | {"COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "lifegate.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """`lifegate init` + `keys generate` + two gate runs: the state a new user reaches."""
    proj = tmp_path / "proj"
    proj.mkdir()
    assert lg(proj, "init", "--name", "fraud").returncode == 0
    assert lg(proj, "keys", "generate").returncode == 0
    lg(proj, "threat-model", "check")  # fails: the starter threat model is incomplete
    lg(proj, "inventory")
    return proj


def _db(project: Path) -> sqlite3.Connection:
    return sqlite3.connect(project / ".lifegate" / "ledger.db", isolation_level=None)


def _verify_fails(project: Path, *needles: str) -> str:
    r = lg(project, "ledger", "verify")
    assert r.returncode != 0, r.stdout
    for needle in needles:
        assert needle in r.stderr, r.stderr
    rep = lg(project, "report", "--out", str(project / "rep"))
    assert rep.returncode not in (0, 1), rep.stdout  # no report from a ledger that fails
    return r.stderr


def test_fresh_project_verifies_against_its_own_checkpoint(project: Path) -> None:
    r = lg(project, "ledger", "verify")
    assert r.returncode == 0, r.stderr
    assert "2 records (2 signed)" in r.stdout and "checkpoint of #2" in r.stdout
    note = next((project / ".lifegate" / "checkpoints").rglob("checkpoint.000000000002"))
    origin, size, _root, blank, sig = note.read_text().split("\n")[:5]
    assert (origin, size, blank) == ("lifegate/fraud", "2", "")
    assert sig.startswith("\u2014 lifegate/fraud/")


def test_edited_kind_column_fails_verify_and_report(project: Path) -> None:
    """Today: UPDATE ... SET kind='note' on failed gate runs left verify at OK."""
    _db(project).execute("UPDATE lifegate_records SET kind='attestation' WHERE seq=1")
    _verify_fails(project, "record #1", "kind column was edited")


def test_edited_kind_in_export_fails_verify_file(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "ledger.jsonl"
    assert lg(project, "ledger", "export", str(out)).returncode == 0
    pub = project / ".lifegate" / "keys" / "lifegate.pub"
    assert lg(project, "ledger", "verify", "--file", str(out), "--public-key",
              str(pub)).returncode == 0
    out.write_text(out.read_text().replace('"kind": "gate-run"', '"kind": "note"', 1))
    r = lg(project, "ledger", "verify", "--file", str(out), "--public-key", str(pub))
    assert r.returncode != 0 and "kind column was edited" in r.stderr


def test_forged_unsigned_record_with_correct_hash_is_refused(project: Path) -> None:
    """Today: accepted as "10 records (9 signed)" and shown in the report as attested."""
    db = _db(project)
    seq, prev = db.execute("SELECT seq, record_hash FROM lifegate_head").fetchone()
    from lifegate.evidence.dsse import canonical, envelope

    stmt = attestation_statement(system="fraud", version="0.1.0", provision="5.1.1-1",
                                 by="mallory", role="developer", text="trained", expires=None)
    env = canonical(envelope(stmt, None)).decode()
    at = "2026-01-01T00:00:00+00:00"
    h = record_hash(seq + 1, prev, at, env)
    db.execute("INSERT INTO lifegate_records (seq, prev_hash, recorded_at, kind, envelope, "
               "record_hash) VALUES (?, ?, ?, 'attestation', ?, ?)", (seq + 1, prev, at, env, h))
    db.execute("UPDATE lifegate_head SET seq=?, record_hash=?", (seq + 1, h))
    _verify_fails(project, f"record #{seq + 1}", "not signed")


def test_rollback_to_an_older_copy_is_detected(project: Path, tmp_path: Path) -> None:
    db_file = project / ".lifegate" / "ledger.db"
    old = tmp_path / "old.db"
    shutil.copy(db_file, old)
    lg(project, "na", "5.1.1-2", "--reason", "no third-party staff work on the system")
    assert lg(project, "ledger", "verify").returncode == 0
    for extra in project.glob(".lifegate/ledger.db-*"):
        extra.unlink()
    shutil.copy(old, db_file)
    _verify_fails(project, "record #3 is missing", "rolled back")


def test_truncation_with_a_fixed_head_is_detected(project: Path) -> None:
    db = _db(project)
    h = db.execute("SELECT record_hash FROM lifegate_records WHERE seq=1").fetchone()[0]
    db.execute("DELETE FROM lifegate_records WHERE seq >= 2")
    db.execute("UPDATE lifegate_head SET seq=1, record_hash=?", (h,))
    _verify_fails(project, "record #2 is missing")


def test_a_checkpoint_location_that_cannot_be_read_fails_closed(project: Path) -> None:
    policy = project / "lifegate.yaml"
    text = policy.read_text().replace("checkpoints: [.lifegate/checkpoints]",
                                      "checkpoints: [.lifegate/checkpoints, /nonexistent/cp]")
    policy.write_text(text)
    r = lg(project, "ledger", "verify")
    assert r.returncode == 2 and "/nonexistent/cp does not exist" in r.stderr


def test_a_second_checkpoint_folder_catches_a_rollback_of_database_and_first_folder(
        project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "audit-share"
    policy = project / "lifegate.yaml"
    policy.write_text(policy.read_text().replace(
        "checkpoints: [.lifegate/checkpoints]", f"checkpoints: [.lifegate/checkpoints, {outside}]"))
    snapshot = tmp_path / "snap"
    shutil.copytree(project / ".lifegate", snapshot)
    r = lg(project, "na", "5.1.1-2", "--reason", "no third-party staff work here")
    assert r.returncode == 0, r.stderr
    assert list(outside.rglob("checkpoint.000000000003"))
    shutil.rmtree(project / ".lifegate")  # the attacker restores database AND local checkpoints
    shutil.copytree(snapshot, project / ".lifegate")
    _verify_fails(project, "record #3 is missing", str(outside))


def test_readers_need_no_private_key(project: Path) -> None:
    """Today: `ledger verify` refused without the signing key when signatures are required."""
    (project / ".lifegate" / "keys" / "lifegate.key").unlink()
    r = lg(project, "ledger", "verify")
    assert r.returncode == 0, r.stderr
    assert lg(project, "report", "--out", str(project / "rep")).returncode == 1  # failed gates
    assert lg(project, "ledger", "export", str(project / "x.jsonl")).returncode == 0
    assert lg(project, "ledger", "show").returncode == 0


def test_read_only_commands_create_nothing(project: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.db"
    r = lg(project, "ledger", "verify", "--ledger-url", f"sqlite:///{fresh}")
    assert r.returncode == 2 and "no evidence ledger" in r.stderr and not fresh.exists()
    r = lg(project, "report", "--ledger-url", f"sqlite:///{fresh}")
    assert r.returncode == 2 and not fresh.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in (("report",), ("ledger", "verify"), ("ledger", "show"),
                 ("ledger", "export", "x.jsonl")):
        r = lg(empty, *args)
        assert r.returncode == 2 and "no lifegate.yaml" in r.stderr, (args, r.stderr)
    assert list(empty.iterdir()) == []
    r = lg(empty, "report", "--policy", "/dev/null")
    assert r.returncode == 2 and not Path("/dev/.lifegate").exists()


def test_unsigned_records_of_an_old_ledger_are_accepted_only_up_to_a_named_record(
        tmp_path: Path) -> None:
    proj = tmp_path / "old"
    proj.mkdir()
    assert lg(proj, "init", "--name", "legacy").returncode == 0
    lg(proj, "threat-model", "check")  # written before any key existed: unsigned
    lg(proj, "inventory")
    assert lg(proj, "keys", "generate").returncode == 0
    r = lg(proj, "ledger", "verify")
    assert r.returncode != 0 and "record #1" in r.stderr and "accept_unsigned" in r.stderr
    policy = proj / "lifegate.yaml"
    original = policy.read_text()
    # set by hand in the policy, without its signed waiver in the ledger, it does not count
    policy.write_text(original.replace(
        "  require_signatures: true", "  require_signatures: true\n  accept_unsigned:\n"
        "    through_seq: 2\n    approver: ada\n    justification: ledger predates signing keys"))
    r = lg(proj, "ledger", "verify")
    assert r.returncode != 0 and "no signed waiver" in r.stderr
    policy.write_text(original)
    r = lg(proj, "ledger", "accept-unsigned", "--through", "1", "--approver", "ada",
           "--justification", "ledger predates signing keys")
    assert r.returncode != 0 and "record #2" in r.stderr  # #2 is unsigned too: refused
    r = lg(proj, "ledger", "accept-unsigned", "--through", "2", "--approver", "ada",
           "--justification", "ledger predates signing keys")
    assert r.returncode == 0, r.stderr
    assert "through_seq: 2" in policy.read_text()
    r = lg(proj, "ledger", "verify")
    assert r.returncode == 0, r.stderr
    assert "2 unsigned records up to #2, accepted by ada" in r.stdout
    # an unsigned record forged after the named one is still refused
    Ledger(open_ledger(load_policy(policy)).store).append(
        statement([system_subject("legacy", "0.1.0")], PredicateType.NOT_APPLICABLE, {}),
        PredicateType.NOT_APPLICABLE)
    r = lg(proj, "ledger", "verify")
    assert r.returncode != 0 and "record #4" in r.stderr


def test_a_platform_event_key_cannot_sign_other_records(project: Path, tmp_path: Path) -> None:
    events = generate_keypair(project / ".lifegate" / "keys", "events")
    policy = project / "lifegate.yaml"
    policy.write_text(policy.read_text().replace("  trusted:\n", (
        f"  trusted:\n  - name: events\n    public_key: {events.public}\n"
        "    scope: platform-events\n")))
    pol = load_policy(policy)
    led = open_ledger(pol, signer=Signer.from_file(events.private))
    led.append(statement([system_subject("fraud", "0.1.0")], PredicateType.PLATFORM_EVENT,
                         {"system": "fraud", "event": "task-success"}),
               PredicateType.PLATFORM_EVENT)
    led.close()
    assert lg(project, "ledger", "verify").returncode == 0
    led.append(attestation_statement(system="fraud", version="0.1.0", provision="5.1.1-1",
                                     by="x", role="developer", text="t", expires=None),
               PredicateType.ATTESTATION)
    led.close()
    r = lg(project, "ledger", "verify")
    assert r.returncode != 0 and "trusts for platform-events only" in r.stderr


def test_a_revocation_does_not_disappear_with_a_rollback(project: Path, tmp_path: Path) -> None:
    policy = load_policy(project / "lifegate.yaml")
    digest = "ab" * 32
    db_file = project / ".lifegate" / "ledger.db"
    before = tmp_path / "before.db"
    shutil.copy(db_file, before)
    led = open_ledger(policy)
    led.append(revocation_statement(system="fraud", name="models/clf", digest=digest,
                                    reason="weights leaked", by="ada"), PredicateType.REVOCATION)
    led.close()
    assert len(revocations(policy, digest)) == 1
    for extra in project.glob(".lifegate/ledger.db-*"):
        extra.unlink()
    shutil.copy(before, db_file)
    with pytest.raises(LedgerTamperedError, match="rolled back"):
        revocations(policy, digest)
    db_file.unlink()  # deleting the ledger altogether is no way out either
    with pytest.raises(LedgerTamperedError, match="is missing, but checkpoint"):
        revocations(policy, digest, missing_ok=True)


def test_init_ignores_keys_and_ledger_and_keys_refuse_a_git_tracked_folder(
        tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".dvc").mkdir()
    (repo / "lifegate.yaml").write_text("version: 1\n")
    r = lg(repo, "keys", "generate")
    assert r.returncode == 2 and "would be tracked by git" in r.stderr
    assert not (repo / ".lifegate" / "keys" / "lifegate.key").exists()
    (repo / "lifegate.yaml").unlink()
    assert lg(repo, "init").returncode == 0
    assert ".lifegate/keys/*.key" in (repo / ".gitignore").read_text()
    assert ".lifegate/ledger.db" in (repo / ".dvcignore").read_text()
    r = lg(repo, "keys", "generate")
    assert r.returncode == 0, r.stderr
    status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain",
                             "--untracked-files=all"], capture_output=True, text=True).stdout
    assert "lifegate.key" not in status and "lifegate.pub" in status


def test_rows_outside_the_chain_are_tampering(project: Path) -> None:
    db = _db(project)
    cols = "seq, prev_hash, recorded_at, kind, envelope, record_hash, chain_keyid, chain_sig"
    db.execute(f"INSERT INTO lifegate_records ({cols}) SELECT 99, 'p', recorded_at, kind, "
               f"envelope, 'h', chain_keyid, chain_sig FROM lifegate_records WHERE seq=1")
    _verify_fails(project, "outside the chain")


def test_verify_while_another_process_appends_sees_no_tampering(project: Path) -> None:
    """A reader racing a writer (the Airflow listener, a worker) checks the chain up to the
    head it read; records appended meanwhile are neither an error nor unverified input."""
    import threading

    policy = load_policy(project / "lifegate.yaml")
    stop = threading.Event()

    def writer() -> None:
        led = open_ledger(policy)
        while not stop.is_set():
            led.append(statement([system_subject("fraud", "0.1.0")],
                                 PredicateType.PLATFORM_EVENT, {"system": "fraud"}),
                       PredicateType.PLATFORM_EVENT)
        led.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(40):
            report = open_ledger(policy, write=False).verify()
            assert report.head_seq >= 2
    finally:
        stop.set()
        thread.join()
    assert open_ledger(policy, write=False).verify().head_seq > 2
