"""The evidence ledger: append signed statements to a hash chain; read, verify, export."""

from __future__ import annotations

import atexit
import base64
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import ec

from lifegate.core.engine import RecordRef
from lifegate.core.errors import (
    EvidenceError,
    KeyMaterialError,
    LedgerTamperedError,
    SignatureError,
)
from lifegate.evidence.checkpoint import (
    Checkpoint,
    CheckpointFolder,
    format_note,
    newest_of,
    origin_for,
    parse_note,
    sign_note,
)
from lifegate.evidence.dsse import canonical, decode_payload, envelope
from lifegate.evidence.keys import (
    MODEL_CURVES,
    Signer,
    fingerprint,
    load_public_key,
    public_pem,
)
from lifegate.evidence.statement import PredicateType, gate_run_statement, waiver_statement
from lifegate.evidence.store import LedgerStore, Record, open_store, record_hash
from lifegate.evidence.verify import Anchor, VerifyReport, record_kind, verify_records

if TYPE_CHECKING:
    from lifegate.core.model import GateResult, RunContext
    from lifegate.core.policy import Policy, Waiver

__all__ = ["Entry", "Ledger", "checkpoint_folders", "close_pending", "decode", "key_scopes",
           "latest_result", "open_ledger", "read_checkpoint", "read_export", "revocations",
           "trusted_fingerprints", "trusted_keys"]

log = logging.getLogger(__name__)
EXPORT_FORMAT = "lifegate-ledger-export/v1"


@dataclass(frozen=True)
class Entry:
    """A decoded ledger record."""

    seq: int
    recorded_at: datetime
    kind: str
    statement: dict[str, Any]
    record_hash: str
    signed: bool

    @property
    def predicate(self) -> dict[str, Any]:
        p: dict[str, Any] = self.statement.get("predicate", {})
        return p

    @property
    def subjects(self) -> dict[str, str]:
        return {s["name"]: s["digest"]["sha256"] for s in self.statement.get("subject", [])}


def decode(rec: Record) -> Entry:
    """A record as an Entry; its kind comes from the statement, and must match the column."""
    where = f"record #{rec.seq}"
    try:
        env = json.loads(rec.envelope)
        stmt = decode_payload(env, where)
        at = datetime.fromisoformat(rec.recorded_at)
    except (ValueError, TypeError, AttributeError):
        raise LedgerTamperedError(f"{where} cannot be decoded", seq=rec.seq,
                                  where=where) from None
    kind = record_kind(stmt, where, rec.seq)
    if kind != rec.kind:
        raise LedgerTamperedError(f"{where} is stored as {rec.kind!r}, but its statement is a "
                                  f"{kind!r} (the kind column was edited)", seq=rec.seq,
                                  where=where, fix="run `lifegate ledger verify`; restore the "
                                  "ledger from a trusted copy")
    return Entry(rec.seq, at, kind, stmt, rec.record_hash, bool(env.get("signatures")))


class Ledger:
    """Implements :class:`lifegate.core.Recorder` on top of a :class:`LedgerStore`.

    A writer signs what it appends and, when it is closed (or the process ends), writes one
    signed checkpoint of the head to every checkpoint folder. A reader (``read_only``) holds
    no private key, never writes, and checks the ledger against the newest checkpoint."""

    def __init__(self, store: LedgerStore, signer: Signer | None = None,
                 trusted: dict[str, ec.EllipticCurvePublicKey] | None = None,
                 require_signatures: bool = False, checkpoint_dir: Path | None = None, *,
                 checkpoints: list[CheckpointFolder] | None = None, origin: str = "",
                 scopes: dict[str, str] | None = None, unsigned_through: int = 0,
                 read_only: bool = False) -> None:
        self.store = store
        self.signer = signer
        self.trusted = trusted or {}
        self.require_signatures = require_signatures
        self.origin = origin or origin_for("ai-system")
        self.checkpoints = list(checkpoints or [])
        if checkpoint_dir is not None:
            self.checkpoints.append(CheckpointFolder(checkpoint_dir, self.origin))
        self.scopes = scopes or {}
        self.unsigned_through = unsigned_through
        self.read_only = read_only
        self._pending = False
        if signer is not None and not read_only:
            store.put_key(signer.keyid, public_pem(signer.key.public_key()))

    @property
    def location(self) -> str:
        return self.store.location

    def append(self, stmt: dict[str, Any], kind: PredicateType) -> RecordRef:
        """Sign (outside the lock), then chain and store (inside it)."""
        if self.read_only:
            raise EvidenceError("this ledger was opened read-only", where=self.location)
        env = canonical(envelope(stmt, self.signer)).decode()
        signer = self.signer

        def build(seq: int, prev: str) -> Record:
            at = datetime.now(UTC).isoformat()
            h = record_hash(seq, prev, at, env)
            if signer is None:
                return Record(seq, prev, at, kind.kind, env, h)
            return Record(seq, prev, at, kind.kind, env, h, signer.keyid,
                          signer.sign_b64(h.encode()))

        rec = self.store.append(build)
        if not self._pending and self.signer is not None and self.checkpoints:
            self._pending = True
            _PENDING.add(self)
        return RecordRef(rec.seq, rec.record_hash, self.location)

    def close(self) -> None:
        """End of an appending command: write the checkpoint of the head (once)."""
        if self._pending:
            self._pending = False
            _PENDING.discard(self)
            self.checkpoint()

    def record_gate_run(self, result: GateResult, context: RunContext, policy: Policy,
                        waivers: list[Waiver]) -> RecordRef:
        """The gate run, then one waiver statement per waiver it used (naming the run)."""
        ref = self.append(gate_run_statement(result, context, policy, waivers),
                          PredicateType.GATE_RUN)
        for w in waivers:
            self.append(waiver_statement(w, context, ref.seq, ref.record_hash),
                        PredicateType.WAIVER)
        return ref

    def entries(self, kind: PredicateType | None = None, stop: int | None = None,
                ) -> Iterator[Entry]:
        """Decoded records in order; ``stop``: only up to that record (a verified head)."""
        for rec in self.store.records(stop=stop):
            if kind is None or rec.kind == kind.kind:
                yield decode(rec)

    def known_keys(self) -> dict[str, ec.EllipticCurvePublicKey]:
        known = {kid: load_public_key(pem) for kid, pem in self.store.keys().items()}
        known.update(self.trusted)
        return known

    def newest_checkpoint(self) -> Checkpoint | None:
        """The newest valid checkpoint over every folder (legacy JSON ones included)."""
        keys = self.trusted or self.known_keys()
        found = [cp for cp in (newest_of(self.checkpoints, keys), *self._legacy(keys)) if cp]
        return max(found, key=lambda cp: cp.size, default=None)

    def _legacy(self, keys: dict[str, ec.EllipticCurvePublicKey]) -> list[Checkpoint]:
        """Checkpoints written by lifegate before the signed-note format (JSON DSSE)."""
        out = []
        for folder in self.checkpoints:
            if folder.path.is_dir():
                for p in sorted(folder.path.glob("checkpoint-*.json"))[-1:]:
                    a = read_checkpoint(p, keys)
                    out.append(Checkpoint(self.origin, a.seq, a.record_hash, a.source))
        return out

    def anchors(self) -> list[Anchor]:
        cp = self.newest_checkpoint()
        return [Anchor(cp.size, cp.root, cp.source)] if cp else []

    def check_not_rolled_back(self) -> None:
        """Cheap check for readers: the record the newest checkpoint vouches for is here."""
        for anchor in self.anchors():
            rec = self.store.get(anchor.seq) if anchor.seq else None
            if anchor.seq and (rec is None or rec.record_hash != anchor.record_hash):
                state = "is missing" if rec is None else "differs"
                raise LedgerTamperedError(
                    f"record #{anchor.seq} {state}, but checkpoint {anchor.source} vouches for "
                    "it (the ledger was rolled back, truncated or rewritten)", seq=anchor.seq,
                    where=anchor.source, fix="restore the ledger from a trusted copy or export")

    def verify(self, extra_anchors: list[Anchor] | None = None) -> VerifyReport:
        trusted = set(self.trusted) if self.trusted else None
        anchors = [*self.anchors(), *(extra_anchors or [])]
        head = self.store.head()  # records appended after this moment are not checked here
        report = verify_records(self.store.records(stop=head[0]),
                                known_keys=self.known_keys(), trusted=trusted,
                                require_signatures=self.require_signatures, head=head,
                                anchors=anchors, scopes=self.scopes,
                                unsigned_through=self.unsigned_through)
        self._check_nothing_beside_chain(head[0])
        if self.unsigned_through:
            self._check_unsigned_waiver()
        newest = max(anchors, key=lambda a: a.seq, default=None)
        report.checkpoint = newest
        if newest is None and report.records:
            report.warnings.append("no checkpoint found: a rollback of the ledger to an older "
                                   "copy would not be detected")
        if trusted is not None and not self.require_signatures:
            report.warnings.append("the policy does not require signatures (keys."
                                   "require_signatures: false): a forged unsigned record "
                                   "would be accepted")
        if trusted is None and report.signed:
            report.warnings.append("the policy trusts no key: signatures were checked against "
                                   "keys stored in the ledger itself")
        return report

    def _check_nothing_beside_chain(self, head_seq: int) -> None:
        """Rows that are not part of the chain (beyond the head, or with a seq that is no
        position) are tampering. Writers that appended since the head was read moved the
        head with their rows, in the same transaction, so they never count here."""
        rows = self.store.count()
        if rows > head_seq and rows > self.store.head()[0]:
            raise LedgerTamperedError(
                f"the ledger holds {rows} records, but its chain ends at #{head_seq}: records "
                "were added outside the chain", where=self.location, seq=head_seq + 1,
                fix="restore the ledger from a trusted copy or export")

    def _check_unsigned_waiver(self) -> None:
        """keys.accept_unsigned counts only with its signed waiver record in this ledger."""
        from lifegate.evidence.statement import UNSIGNED_WAIVER

        for rec in self.store.newest(PredicateType.WAIVER.kind):
            pred = decode(rec).predicate
            if pred.get("waiver", {}).get("id") == UNSIGNED_WAIVER and rec.seq > \
                    self.unsigned_through and rec.chain_sig and \
                    pred.get("appliedTo", {}).get("throughSeq") == self.unsigned_through:
                return
        raise SignatureError(
            f"keys.accept_unsigned accepts unsigned records up to #{self.unsigned_through}, "
            "but no signed waiver for it is recorded in the ledger", where=self.location,
            fix=f"run `lifegate ledger accept-unsigned --through {self.unsigned_through} "
            "--approver NAME --justification TEXT`")

    def accept_unsigned(self, through_seq: int, approver: str, justification: str,
                        system: str) -> RecordRef:
        """Record a named person's waiver for the unsigned records #1..#through_seq, after
        checking that the ledger verifies with them accepted (and with nothing more)."""
        from lifegate.evidence.statement import unsigned_waiver_statement

        rec = self.store.get(through_seq)
        if rec is None:
            raise EvidenceError(f"the ledger has no record #{through_seq}", where=self.location)
        verify_records(self.store.records(), known_keys=self.known_keys(),
                       trusted=set(self.trusted) or None, require_signatures=True,
                       head=self.store.head(), anchors=self.anchors(), scopes=self.scopes,
                       unsigned_through=through_seq)
        return self.append(unsigned_waiver_statement(
            system=system, through_seq=through_seq, through_hash=rec.record_hash,
            approver=approver, justification=justification), PredicateType.WAIVER)

    def export(self, path: Path) -> int:
        """Write portable JSONL: a header line (format, keys, head), then one line per record."""
        seq, head = self.store.head()
        n = 0
        tmp = path.with_suffix(path.suffix + ".part")
        with tmp.open("w", encoding="utf-8") as f:
            f.write(json.dumps({"format": EXPORT_FORMAT, "keys": self.store.keys(),
                                "origin": self.origin,
                                "head": {"seq": seq, "record_hash": head}}) + "\n")
            for rec in self.store.records():
                f.write(json.dumps(rec.to_json(), sort_keys=True) + "\n")
                n += 1
        tmp.replace(path)
        return n

    def checkpoint(self, out: Path | None = None) -> Path:
        """Write a signed checkpoint note of the current head to every checkpoint folder (or
        to ``out``); returns the first path written."""
        if self.signer is None:
            raise KeyMaterialError("a checkpoint must be signed, and no signing key is set",
                                   fix="run `lifegate keys generate`")
        seq, head = self.store.head()
        if out is not None:
            text = format_note(self.origin, seq, head)
            out.write_text(sign_note(text, self.signer, self.origin))
            return out
        if not self.checkpoints:
            raise EvidenceError("no checkpoint folder configured", fix="pass --out FILE, or "
                                "set ledger.checkpoints in the policy")
        written = [f.write(self.signer, seq, head) for f in self.checkpoints]
        return written[0]


# Writers that appended and have not written their checkpoint yet (closed at the end of the
# command, else at exit). Strong references: a ledger dropped right after its append (the
# usual `open_ledger(policy).append(...)`) must still be checkpointed.
_PENDING: set[Ledger] = set()


def close_pending() -> None:
    """Write the checkpoint of every ledger this process appended to (the end of a command)."""
    for led in list(_PENDING):
        led.close()


@atexit.register
def _flush_checkpoints() -> None:
    for led in list(_PENDING):
        path = getattr(led.store, "path", None)
        if path is not None and path != ":memory:" and not Path(path).exists():
            continue  # the ledger itself is gone (a temporary one): nothing to vouch for
        try:
            led.close()
        except Exception:  # the process is ending; say so, never mask its exit status
            log.exception("lifegate: could not write the ledger checkpoint of %s",
                          led.location)


def read_checkpoint(path: Path, keys: dict[str, ec.EllipticCurvePublicKey],
                    origin: str | None = None) -> Anchor:
    """A checkpoint file given by hand: a signed note, or a legacy JSON DSSE checkpoint."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvidenceError(f"cannot read checkpoint {path}: {exc}", where=str(path)) from None
    if not text.lstrip().startswith("{"):
        found = origin or text.split("\n", 1)[0]
        cp = parse_note(text, keys, origin=found, where=str(path))
        return Anchor(cp.size, cp.root, str(path))
    try:
        env = json.loads(text)
    except ValueError as exc:
        raise EvidenceError(f"cannot read checkpoint {path}: {exc}", where=str(path)) from None
    return _legacy_anchor(env, path, keys)


def _legacy_anchor(env: dict[str, Any], path: Path,
                   keys: dict[str, ec.EllipticCurvePublicKey]) -> Anchor:
    from lifegate.evidence.dsse import pae
    from lifegate.evidence.verify import _Keys

    stmt = decode_payload(env, str(path))
    sigs = env.get("signatures") or []
    if not sigs:
        raise LedgerTamperedError(f"checkpoint {path} is not signed", where=str(path))
    checker = _Keys(keys, None, True)
    for sig in sigs:
        checker.check(sig.get("keyid", ""), sig.get("sig", ""),
                      pae(env["payloadType"], base64.b64decode(env["payload"])),
                      "checkpoint", int(stmt["predicate"]["seq"]))
    pred = stmt["predicate"]
    return Anchor(int(pred["seq"]), str(pred["record_hash"]), str(path))


def read_export(path: Path) -> tuple[dict[str, Any], Iterator[Record]]:
    """Open an export; return its header and a lazy record iterator."""
    try:
        f = path.open(encoding="utf-8")
        header = json.loads(f.readline())
    except (OSError, ValueError) as exc:
        raise EvidenceError(f"cannot read ledger export {path}: {exc}", where=str(path)) from None
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        raise EvidenceError(f"{path} is not a lifegate ledger export", where=f"{path}:1")

    def rows() -> Iterator[Record]:
        with f:
            for lineno, line in enumerate(f, start=2):
                try:
                    yield Record(**json.loads(line))
                except (ValueError, TypeError) as exc:
                    raise LedgerTamperedError(f"{path}:{lineno} is not a ledger record: {exc}",
                                              where=f"{path}:{lineno}") from None
    return header, rows()


def trusted_fingerprints(policy: Policy) -> set[str]:
    """Every key the policy trusts, whether listed with its public key or by fingerprint."""
    return set(trusted_keys(policy)) | {e.fingerprint for e in policy.keys.trusted
                                        if e.fingerprint}


def trusted_keys(policy: Policy) -> dict[str, ec.EllipticCurvePublicKey]:
    """Public keys listed in the policy, by fingerprint (fingerprint-only entries excluded)."""
    out: dict[str, ec.EllipticCurvePublicKey] = {}
    for entry in policy.keys.trusted:
        if entry.public_key:
            key = load_public_key(policy.resolve(entry.public_key), MODEL_CURVES)
            fp = fingerprint(key)
            if entry.fingerprint and entry.fingerprint != fp:
                raise KeyMaterialError(f"trusted key {entry.name}: fingerprint in the policy "
                                       f"does not match {entry.public_key}",
                                       where=policy.source)
            out[fp] = key
    return out


def key_scopes(policy: Policy) -> dict[str, str]:
    """Fingerprint -> scope of every trusted key that is not trusted for everything."""
    out = {}
    for entry in policy.keys.trusted:
        if entry.scope.value == "all":
            continue
        fp = entry.fingerprint
        if entry.public_key:
            fp = fingerprint(load_public_key(policy.resolve(entry.public_key), MODEL_CURVES))
        if fp:
            out[fp] = entry.scope.value
    return out


def checkpoint_folders(policy: Policy) -> list[CheckpointFolder]:
    """The policy's checkpoint folders; any but the default must exist for readers."""
    from lifegate.core.policy import DEFAULT_CHECKPOINTS

    origin = origin_for(policy.system.name)
    return [CheckpointFolder(policy.resolve(d), origin, required=d != DEFAULT_CHECKPOINTS)
            for d in policy.ledger.checkpoints]


def open_ledger(policy: Policy, url: str | None = None, *, write: bool = True,
                signer: Signer | None = None) -> Ledger:
    """The policy's ledger. A writer (default) signs with ``signer`` or the policy's signing
    key and creates the ledger if needed; a reader (``write=False``) needs no private key,
    creates nothing, and fails when the ledger does not exist."""
    keys = policy.keys
    if write and signer is None and keys.signing_key:
        signer = Signer.from_file(policy.resolve(keys.signing_key))
    if write and signer is None and keys.signatures_required:
        raise KeyMaterialError("the policy requires signatures but names no signing key",
                               where=policy.source, fix="run `lifegate keys generate`, or set "
                               "keys.signing_key / LIFEGATE_SIGNING_KEY")
    store = open_store(url or policy.ledger_url(), create=write)
    accepted = keys.accept_unsigned.through_seq if keys.accept_unsigned else 0
    return Ledger(store, signer if write else None, trusted_keys(policy),
                  keys.signatures_required, checkpoints=checkpoint_folders(policy),
                  origin=origin_for(policy.system.name), scopes=key_scopes(policy),
                  unsigned_through=accepted, read_only=not write)


def latest_result(policy: Policy, gate_id: str) -> Entry | None:
    """The most recent recorded run of ``gate_id`` for the policy's system, if any."""
    led = _open_reader(policy)
    if led is None:
        return None
    led.check_not_rolled_back()
    for rec in led.store.newest(PredicateType.GATE_RUN.kind):
        entry = decode(rec)
        pred = entry.predicate
        if pred.get("result", {}).get("gate_id") == gate_id and \
                pred.get("context", {}).get("system") == policy.system.name:
            return entry
    return None


def revocations(policy: Policy, digest: str, *, missing_ok: bool = False) -> list[Entry]:
    """Revocation records of the policy's system that name ``digest``, read from a ledger
    that verifies in full (a hidden or rolled-back revocation is an error, not an absence).
    ``missing_ok``: a ledger that does not exist yet has none, unless a checkpoint shows that
    it existed (then it was deleted, which is an error)."""
    led = _open_reader(policy) if missing_ok else open_ledger(policy, write=False)
    if led is None:
        return []
    checked = led.verify()
    out = []
    for entry in led.entries(PredicateType.REVOCATION, stop=checked.head_seq):
        if entry.predicate.get("system") == policy.system.name and \
                digest in entry.subjects.values():
            out.append(entry)
    return out


def _open_reader(policy: Policy) -> Ledger | None:
    """The ledger for reading; None when it does not exist yet and no checkpoint shows that
    it ever did (a deleted ledger is an error, not an empty one)."""
    try:
        return open_ledger(policy, write=False)
    except EvidenceError:
        if not _url_missing(policy):
            raise
    cp = newest_of(checkpoint_folders(policy), trusted_keys(policy))
    if cp is not None and cp.size > 0:
        raise LedgerTamperedError(
            f"the ledger {policy.ledger_url()} is missing, but checkpoint {cp.source} "
            f"vouches for {cp.size} records", where=cp.source,
            fix="restore the ledger from a trusted copy") from None
    return None


def _url_missing(policy: Policy) -> bool:
    from lifegate.evidence.sqlite_store import sqlite_path

    path = sqlite_path(policy.ledger_url())
    return path is not None and path != ":memory:" and not Path(path).exists()
