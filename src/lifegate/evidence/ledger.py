"""The evidence ledger: append signed statements to a hash chain; read, verify, export."""

from __future__ import annotations

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
from lifegate.core.errors import EvidenceError, KeyMaterialError, LedgerTamperedError
from lifegate.evidence.dsse import canonical, envelope
from lifegate.evidence.keys import (
    MODEL_CURVES,
    Signer,
    fingerprint,
    load_public_key,
    public_pem,
)
from lifegate.evidence.statement import PredicateType, gate_run_statement, waiver_statement
from lifegate.evidence.store import LedgerStore, Record, open_store, record_hash
from lifegate.evidence.verify import Anchor, VerifyReport, verify_records

if TYPE_CHECKING:
    from lifegate.core.model import GateResult, RunContext
    from lifegate.core.policy import Policy, Waiver

__all__ = ["Entry", "Ledger", "latest_result", "open_ledger", "read_export", "revocations",
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
    env = json.loads(rec.envelope)
    stmt = json.loads(base64.b64decode(env["payload"]))
    return Entry(rec.seq, datetime.fromisoformat(rec.recorded_at), rec.kind, stmt,
                 rec.record_hash, bool(env.get("signatures")))


class Ledger:
    """Implements :class:`lifegate.core.Recorder` on top of a :class:`LedgerStore`."""

    def __init__(self, store: LedgerStore, signer: Signer | None = None,
                 trusted: dict[str, ec.EllipticCurvePublicKey] | None = None,
                 require_signatures: bool = False, checkpoint_dir: Path | None = None) -> None:
        self.store = store
        self.signer = signer
        self.trusted = trusted or {}
        self.require_signatures = require_signatures
        self.checkpoint_dir = checkpoint_dir
        if signer is not None:
            store.put_key(signer.keyid, public_pem(signer.key.public_key()))

    @property
    def location(self) -> str:
        return self.store.location

    def append(self, stmt: dict[str, Any], kind: PredicateType) -> RecordRef:
        """Sign (outside the lock), then chain and store (inside it)."""
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
        return RecordRef(rec.seq, rec.record_hash, self.location)

    def record_gate_run(self, result: GateResult, context: RunContext, policy: Policy,
                        waivers: list[Waiver]) -> RecordRef:
        """The gate run, then one waiver statement per waiver it used (naming the run)."""
        ref = self.append(gate_run_statement(result, context, policy, waivers),
                          PredicateType.GATE_RUN)
        for w in waivers:
            self.append(waiver_statement(w, context, ref.seq, ref.record_hash),
                        PredicateType.WAIVER)
        return ref

    def entries(self, kind: PredicateType | None = None) -> Iterator[Entry]:
        for rec in self.store.records():
            if kind is None or rec.kind == kind.kind:
                yield decode(rec)

    def known_keys(self) -> dict[str, ec.EllipticCurvePublicKey]:
        known = {kid: load_public_key(pem) for kid, pem in self.store.keys().items()}
        known.update(self.trusted)
        return known

    def anchors(self) -> list[Anchor]:
        if self.checkpoint_dir is None or not self.checkpoint_dir.is_dir():
            return []
        return [read_checkpoint(p, self.known_keys()) for p in
                sorted(self.checkpoint_dir.glob("*.json"))]

    def verify(self, extra_anchors: list[Anchor] | None = None) -> VerifyReport:
        trusted = set(self.trusted) if self.trusted else None
        return verify_records(self.store.records(), known_keys=self.known_keys(),
                              trusted=trusted, require_signatures=self.require_signatures,
                              head=self.store.head(),
                              anchors=[*self.anchors(), *(extra_anchors or [])])

    def export(self, path: Path) -> int:
        """Write portable JSONL: a header line (format, keys, head), then one line per record."""
        seq, head = self.store.head()
        n = 0
        tmp = path.with_suffix(path.suffix + ".part")
        with tmp.open("w", encoding="utf-8") as f:
            f.write(json.dumps({"format": EXPORT_FORMAT, "keys": self.store.keys(),
                                "head": {"seq": seq, "record_hash": head}}) + "\n")
            for rec in self.store.records():
                f.write(json.dumps(rec.to_json(), sort_keys=True) + "\n")
                n += 1
        tmp.replace(path)
        return n

    def checkpoint(self, out: Path | None = None) -> Path:
        """Write a signed checkpoint of the current head; keep it away from the database."""
        if self.signer is None:
            raise KeyMaterialError("a checkpoint must be signed, and no signing key is set",
                                   fix="run `lifegate keys generate`")
        seq, head = self.store.head()
        body = {"seq": seq, "record_hash": head, "ledger": self.location,
                "at": datetime.now(UTC).isoformat()}
        env = envelope({"_type": "https://in-toto.io/Statement/v1",
                        "subject": [{"name": f"ledger#{seq}", "digest": {"sha256": head}}],
                        "predicateType": str(PredicateType.CHECKPOINT), "predicate": body},
                       self.signer)
        if out is None:
            if self.checkpoint_dir is None:
                raise EvidenceError("no checkpoint folder configured", fix="pass --out FILE")
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            out = self.checkpoint_dir / f"checkpoint-{seq:012d}.json"
        out.write_text(json.dumps(env, indent=2) + "\n")
        return out


def read_checkpoint(path: Path, keys: dict[str, ec.EllipticCurvePublicKey]) -> Anchor:
    from lifegate.evidence.dsse import decode_payload, pae
    from lifegate.evidence.verify import _Keys

    try:
        env = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EvidenceError(f"cannot read checkpoint {path}: {exc}", where=str(path)) from None
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


def open_ledger(policy: Policy, url: str | None = None) -> Ledger:
    signer = None
    if policy.keys.signing_key:
        signer = Signer.from_file(policy.resolve(policy.keys.signing_key))
    elif policy.keys.signatures_required:
        raise KeyMaterialError("the policy requires signatures but names no signing key",
                               where=policy.source, fix="run `lifegate keys generate`")
    store = open_store(url or policy.ledger_url())
    return Ledger(store, signer, trusted_keys(policy), policy.keys.signatures_required,
                  checkpoint_dir=policy.resolve(".lifegate/checkpoints"))


def latest_result(policy: Policy, gate_id: str) -> Entry | None:
    """The most recent recorded run of ``gate_id`` for the policy's system, if any."""
    for rec in open_ledger(policy).store.newest(PredicateType.GATE_RUN.kind):
        entry = decode(rec)
        pred = entry.predicate
        if pred.get("result", {}).get("gate_id") == gate_id and \
                pred.get("context", {}).get("system") == policy.system.name:
            return entry
    return None


def revocations(policy: Policy, digest: str) -> list[Entry]:
    """Revocation records of the policy's system that name ``digest``."""
    out = []
    for rec in open_ledger(policy).store.newest(PredicateType.REVOCATION.kind):
        entry = decode(rec)
        if entry.predicate.get("system") == policy.system.name and \
                digest in entry.subjects.values():
            out.append(entry)
    return out
