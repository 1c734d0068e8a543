"""Every kind of ledger tampering is detected and names the first bad record."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from lifegate.core import LedgerTamperedError, SignatureError
from lifegate.evidence.keys import KeyPair, Signer, generate_keypair
from lifegate.evidence.ledger import Ledger
from lifegate.evidence.store import record_hash


def test_untouched_ledger_verifies(ledger: Ledger) -> None:
    report = ledger.verify()
    assert (report.records, report.signed, report.head_seq) == (6, 6, 6)


def _payload(sql: sqlite3.Connection, seq: int) -> dict:  # type: ignore[type-arg]
    env = json.loads(sql.execute("select envelope from lifegate_records where seq=?",
                                 (seq,)).fetchone()[0])
    return env


def test_edited_byte_in_envelope(ledger: Ledger, sql: sqlite3.Connection) -> None:
    env = sql.execute("select envelope from lifegate_records where seq=3").fetchone()[0]
    i = env.index('"payload":"') + 20
    flipped = env[:i] + ("A" if env[i] != "A" else "B") + env[i + 1:]
    sql.execute("update lifegate_records set envelope=? where seq=3", (flipped,))
    with pytest.raises(LedgerTamperedError) as exc:
        ledger.verify()
    assert exc.value.seq == 3 and "record #3 was edited" in str(exc.value)


def test_edit_with_recomputed_hash_is_caught_by_signatures(ledger: Ledger,
                                                           sql: sqlite3.Connection) -> None:
    """An attacker who recomputes the hash chain still cannot forge signatures."""
    env = _payload(sql, 4)
    stmt = json.loads(base64.b64decode(env["payload"]))
    stmt["predicate"]["statement"] = "forged"
    env["payload"] = base64.b64encode(json.dumps(stmt).encode()).decode()
    text = json.dumps(env)
    row = sql.execute("select prev_hash, recorded_at from lifegate_records where seq=4").fetchone()
    new_hash = record_hash(4, row[0], row[1], text)
    sql.execute("update lifegate_records set envelope=?, record_hash=? where seq=4",
                (text, new_hash))
    with pytest.raises((SignatureError, LedgerTamperedError)) as exc:
        ledger.verify()
    assert "#4" in str(exc.value)


def test_deleted_record(ledger: Ledger, sql: sqlite3.Connection) -> None:
    sql.execute("delete from lifegate_records where seq=2")
    with pytest.raises(LedgerTamperedError) as exc:
        ledger.verify()
    assert exc.value.seq == 2 and "missing" in str(exc.value)


def test_reordered_records(ledger: Ledger, sql: sqlite3.Connection) -> None:
    sql.execute("update lifegate_records set seq=-1 where seq=2")
    sql.execute("update lifegate_records set seq=2 where seq=3")
    sql.execute("update lifegate_records set seq=3 where seq=-1")
    with pytest.raises(LedgerTamperedError) as exc:
        ledger.verify()
    assert exc.value.seq == 2


def test_inserted_record(ledger: Ledger, sql: sqlite3.Connection) -> None:
    cols = "seq, prev_hash, recorded_at, kind, envelope, record_hash, chain_keyid, chain_sig"
    sql.execute("update lifegate_records set seq = seq + 100 where seq >= 4")
    flip = "(case when substr({0},1,1)='f' then 'e' else 'f' end)||substr({0},2)"
    sql.execute(f"insert into lifegate_records ({cols}) select 4, {flip.format('prev_hash')}, "
                f"recorded_at, kind, envelope, {flip.format('record_hash')}, chain_keyid, "
                f"chain_sig from lifegate_records where seq=3")
    with pytest.raises(LedgerTamperedError) as exc:
        ledger.verify()
    assert exc.value.seq == 4


def test_truncated_tail_detected_by_head(ledger: Ledger, sql: sqlite3.Connection) -> None:
    sql.execute("delete from lifegate_records where seq >= 5")
    with pytest.raises(LedgerTamperedError) as exc:
        ledger.verify()
    assert exc.value.seq == 5 and "deleted" in str(exc.value)


def test_truncated_tail_and_head_detected_by_checkpoint(
        db: Path, keypair: KeyPair, ledger: Ledger, sql: sqlite3.Connection,
        tmp_path: Path, make_ledger: Callable[..., Ledger]) -> None:
    cp_dir = tmp_path / "checkpoints"
    led = make_ledger(db, keypair, cp_dir)
    led.checkpoint()
    h = sql.execute("select record_hash from lifegate_records where seq=4").fetchone()[0]
    sql.execute("delete from lifegate_records where seq >= 5")
    sql.execute("update lifegate_head set seq=4, record_hash=?", (h,))
    with pytest.raises(LedgerTamperedError) as exc:
        led.verify()
    assert exc.value.seq == 6 and "checkpoint" in str(exc.value)


def test_forged_checkpoint_rejected(db: Path, keypair: KeyPair, ledger: Ledger,
                                   tmp_path: Path, make_ledger: Callable[..., Ledger]) -> None:
    led = make_ledger(db, keypair, tmp_path / "cp")
    path = led.checkpoint()
    origin, size, rest = path.read_text().split("\n", 2)
    assert size == "6"
    path.write_text(f"{origin}\n3\n{rest}")  # claim a shorter ledger under the same signature
    with pytest.raises(SignatureError, match="does not verify"):
        led.verify()


def test_bad_chain_signature(ledger: Ledger, sql: sqlite3.Connection) -> None:
    other = sql.execute("select chain_sig from lifegate_records where seq=1").fetchone()[0]
    sql.execute("update lifegate_records set chain_sig=? where seq=5", (other,))
    with pytest.raises(SignatureError) as exc:
        ledger.verify()
    assert "record #5" in str(exc.value)


def test_record_signed_by_untrusted_key(db: Path, ledger: Ledger, tmp_path: Path) -> None:
    rogue = generate_keypair(tmp_path / "rogue")
    forger = Ledger(ledger.store, Signer.from_file(rogue.private))
    from lifegate.evidence.statement import PredicateType, statement, system_subject

    forger.append(statement([system_subject("sys", "1")], PredicateType.ATTESTATION, {}),
                  PredicateType.ATTESTATION)
    with pytest.raises(SignatureError) as exc:
        ledger.verify()
    assert "record #7" in str(exc.value) and "not trusted" in str(exc.value)


def test_unsigned_record_when_signatures_required(ledger: Ledger) -> None:
    from lifegate.evidence.statement import PredicateType, statement, system_subject

    Ledger(ledger.store).append(statement([system_subject("s", "1")],
                                          PredicateType.ATTESTATION, {}),
                                PredicateType.ATTESTATION)
    with pytest.raises(SignatureError) as exc:
        ledger.verify()
    assert "#7" in str(exc.value)


def test_export_verifies_without_database_and_detects_edits(ledger: Ledger, keypair: KeyPair,
                                                           tmp_path: Path) -> None:
    from lifegate.evidence.keys import load_public_key
    from lifegate.evidence.ledger import read_export
    from lifegate.evidence.verify import verify_records

    out = tmp_path / "export.jsonl"
    assert ledger.export(out) == 6
    pub = load_public_key(keypair.public)

    def check(path: Path) -> None:
        header, recs = read_export(path)
        verify_records(recs, known_keys={keypair.keyid: pub}, trusted={keypair.keyid},
                       require_signatures=True,
                       head=(header["head"]["seq"], header["head"]["record_hash"]))

    check(out)
    lines = out.read_text().splitlines()
    rec = json.loads(lines[3])
    rec["recorded_at"] = rec["recorded_at"].replace("20", "19", 1)
    lines[3] = json.dumps(rec)
    out.write_text("\n".join(lines) + "\n")
    with pytest.raises(LedgerTamperedError) as exc:
        check(out)
    assert exc.value.seq == 3


def test_export_with_wrong_public_key(ledger: Ledger, tmp_path: Path) -> None:
    from lifegate.evidence.keys import load_public_key
    from lifegate.evidence.ledger import read_export
    from lifegate.evidence.verify import verify_records

    out = tmp_path / "export.jsonl"
    ledger.export(out)
    wrong = generate_keypair(tmp_path / "wrong")
    _header, recs = read_export(out)
    with pytest.raises(SignatureError, match=r"not trusted|unknown key"):
        verify_records(recs, known_keys={wrong.keyid: load_public_key(wrong.public)},
                       trusted={wrong.keyid}, require_signatures=True)
