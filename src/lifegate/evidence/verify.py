"""Verification of a record sequence: order, chain, content hashes, signatures, head, anchors.

The same code checks the database and an exported JSONL file.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec

from lifegate.core.errors import LedgerTamperedError, SignatureError
from lifegate.evidence.dsse import decode_payload, pae
from lifegate.evidence.keys import verify_signature
from lifegate.evidence.store import GENESIS, Record, record_hash

__all__ = ["Anchor", "VerifyReport", "verify_records"]


@dataclass(frozen=True)
class Anchor:
    """A point the ledger must still contain: (seq, record_hash), e.g. a signed checkpoint."""

    seq: int
    record_hash: str
    source: str


@dataclass
class VerifyReport:
    records: int = 0
    signed: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    keyids: set[str] = field(default_factory=set)
    unsigned_accepted: int = 0  # unsigned records let through by keys.accept_unsigned
    checkpoint: Anchor | None = None  # the newest checkpoint the ledger was checked against
    warnings: list[str] = field(default_factory=list)


_UNSIGNED_FIX = ("a forged record, or one written before signatures were required: restore "
                 "the ledger, or accept the old unsigned records up to a named record with "
                 "keys.accept_unsigned (through_seq, approver, justification) in the policy")

# Keys whose scope is not "all" may sign only these record kinds.
SCOPED_KINDS = {"platform-events": frozenset({"platform-event"})}


def record_kind(statement: dict[str, object], where: str, seq: int) -> str:
    """The kind a record must be stored under, derived from its signed predicate type."""
    from lifegate.evidence.statement import PredicateType

    try:
        return PredicateType(str(statement.get("predicateType"))).kind
    except ValueError:
        raise LedgerTamperedError(f"{where}: unknown predicate type "
                                  f"{statement.get('predicateType')!r}", seq=seq,
                                  where=where) from None


@dataclass
class _Keys:
    known: dict[str, ec.EllipticCurvePublicKey]
    trusted: set[str] | None
    require: bool
    scopes: dict[str, str] = field(default_factory=dict)
    unsigned_through: int = 0

    def check(self, keyid: str, sig_b64: str, message: bytes, what: str, seq: int,
              kind: str | None = None) -> None:
        scope = self.scopes.get(keyid, "all")
        if kind is not None and scope != "all" and kind not in SCOPED_KINDS.get(scope, ()):
            raise SignatureError(f"record #{seq}: a {kind} record is signed by key "
                                 f"{keyid[:16]}, which the policy trusts for {scope} only",
                                 where=f"record #{seq}", fix="the record was forged with a "
                                 "narrowly trusted key; restore the ledger from a trusted copy")
        key = self.known.get(keyid)
        if key is None:
            raise SignatureError(f"record #{seq}: {what} is signed by unknown key {keyid[:16]}",
                                 where=f"record #{seq}",
                                 fix="pass the signer's public key with --public-key")
        if self.trusted is not None and keyid not in self.trusted:
            raise SignatureError(f"record #{seq}: {what} is signed by key {keyid[:16]}, "
                                 "which is not trusted", where=f"record #{seq}",
                                 fix="trust the key in the policy (keys.trusted) or pass it")
        try:
            sig = base64.b64decode(sig_b64, validate=True)
        except (binascii.Error, ValueError):
            sig = b""
        if not verify_signature(key, sig, message):
            raise SignatureError(f"record #{seq}: {what} signature does not verify "
                                 f"(key {keyid[:16]})", where=f"record #{seq}",
                                 fix="the record was altered or forged; restore the ledger "
                                 "from a trusted copy")


def _check_envelope(rec: Record, keys: _Keys) -> int:
    """Signatures, statement type and the stored kind; returns the number of signatures."""
    where = f"record #{rec.seq}"
    try:
        env = json.loads(rec.envelope)
    except ValueError:
        raise LedgerTamperedError(f"{where}: envelope is not JSON", seq=rec.seq,
                                  where=where) from None
    if not isinstance(env, dict):
        raise LedgerTamperedError(f"{where}: envelope is not a DSSE envelope", seq=rec.seq,
                                  where=where)
    statement = decode_payload(env, where)
    kind = record_kind(statement, where, rec.seq)
    if rec.kind != kind:
        raise LedgerTamperedError(f"{where} is stored as {rec.kind!r}, but its signed statement "
                                  f"is a {kind!r} (the kind column was edited)", seq=rec.seq,
                                  where=where, fix="restore the ledger from a trusted copy")
    body = base64.b64decode(env["payload"])
    sigs = env.get("signatures") or []
    if not isinstance(sigs, list) or not all(isinstance(s, dict) for s in sigs):
        raise LedgerTamperedError(f"{where}: malformed signatures", seq=rec.seq, where=where)
    for sig in sigs:
        keys.check(str(sig.get("keyid", "")), str(sig.get("sig", "")),
                   pae(env["payloadType"], body), "statement", rec.seq, kind)
    if keys.require and not sigs and rec.seq > keys.unsigned_through:
        raise SignatureError(f"{where}: statement is not signed, but signatures are required",
                             where=where, fix=_UNSIGNED_FIX)
    if statement.get("_type") != "https://in-toto.io/Statement/v1":
        raise LedgerTamperedError(f"{where}: not an in-toto Statement v1", seq=rec.seq,
                                  where=where)
    return len(sigs)


def _check_types(rec: Record, expected_seq: int) -> None:
    """Each column holds what it must (an edit can store any type in SQLite)."""
    text = (rec.prev_hash, rec.recorded_at, rec.kind, rec.envelope, rec.record_hash)
    optional = (rec.chain_keyid, rec.chain_sig)
    if type(rec.seq) is not int or not all(isinstance(v, str) for v in text) or \
            not all(v is None or isinstance(v, str) for v in optional):
        raise LedgerTamperedError(f"record #{expected_seq} has a malformed column (a value of "
                                  "the wrong type was written into it)", seq=expected_seq,
                                  where=f"record #{expected_seq}",
                                  fix="restore the ledger from a trusted copy or export")


def _check_link(rec: Record, expected_seq: int, prev: str) -> None:
    _check_types(rec, expected_seq)
    where = f"record #{rec.seq}"
    if rec.seq > expected_seq:
        raise LedgerTamperedError(
            f"record #{expected_seq} is missing: the next stored record is #{rec.seq} "
            "(records were deleted)", seq=expected_seq, where=f"record #{expected_seq}",
            fix="restore the ledger from a trusted copy or export")
    if rec.seq < expected_seq:
        raise LedgerTamperedError(f"{where} appears after #{expected_seq - 1} (reordered or "
                                  "duplicated)", seq=rec.seq, where=where)
    if rec.prev_hash != prev:
        raise LedgerTamperedError(
            f"{where} does not link to record #{rec.seq - 1} (chain broken: a record was "
            "inserted, removed or reordered here)", seq=rec.seq, where=where,
            fix="restore the ledger from a trusted copy or export")
    if record_hash(rec.seq, rec.prev_hash, rec.recorded_at, rec.envelope) != rec.record_hash:
        raise LedgerTamperedError(f"{where} was edited: its content no longer matches its "
                                  "hash", seq=rec.seq, where=where,
                                  fix="restore the ledger from a trusted copy or export")


def verify_records(
    records: Iterable[Record], *, known_keys: dict[str, ec.EllipticCurvePublicKey],
    trusted: set[str] | None = None, require_signatures: bool = False,
    head: tuple[int, str] | None = None, anchors: Iterable[Anchor] = (),
    scopes: dict[str, str] | None = None, unsigned_through: int = 0,
) -> VerifyReport:
    """Raise LedgerTamperedError / SignatureError at the first bad record, else report.

    ``scopes`` narrows what a key may sign (fingerprint -> scope); ``unsigned_through``
    accepts unsigned records up to that record (records written before signatures were
    required, accepted by a named person in the policy)."""
    keys = _Keys(known_keys, trusted, require_signatures, scopes or {}, unsigned_through)
    report = VerifyReport()
    seen: dict[int, str] = {}
    wanted = {a.seq: a for a in anchors}
    for rec in records:
        _check_link(rec, report.head_seq + 1, report.head_hash)
        if rec.chain_sig and rec.chain_keyid:
            keys.check(rec.chain_keyid, rec.chain_sig, rec.record_hash.encode(), "chain",
                       rec.seq, rec.kind)
            report.keyids.add(rec.chain_keyid)
        elif require_signatures and rec.seq > unsigned_through:
            raise SignatureError(f"record #{rec.seq}: chain link is not signed, but "
                                 "signatures are required", where=f"record #{rec.seq}",
                                 fix=_UNSIGNED_FIX)
        n = _check_envelope(rec, keys)
        report.signed += 1 if n else 0
        if require_signatures and not n:
            report.unsigned_accepted += 1
        report.records += 1
        report.head_seq, report.head_hash = rec.seq, rec.record_hash
        if rec.seq in wanted:
            seen[rec.seq] = rec.record_hash
    if head is not None and head != (report.head_seq, report.head_hash):
        raise LedgerTamperedError(
            f"the ledger head names record #{head[0]}, but the last record is "
            f"#{report.head_seq}: records at the end were deleted or replaced",
            seq=report.head_seq + 1, where=f"record #{report.head_seq + 1}")
    for seq, anchor in sorted(wanted.items()):
        if seq == 0:
            continue  # a checkpoint of the empty ledger vouches for nothing
        if seen.get(seq) != anchor.record_hash:
            state = "is missing" if seq not in seen else "differs"
            raise LedgerTamperedError(
                f"record #{seq} {state}, but checkpoint {anchor.source} vouches for it "
                "(the ledger was rolled back, truncated or rewritten)", seq=seq,
                where=anchor.source,
                fix="restore the ledger from a trusted copy or export")
    return report
