"""Read back what the release check needs from the ledger: which gate runs speak about the
exact bytes of each output, and the previous signed LG-RELEASE record's file digests."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from lifegate.core.policy import Policy
from lifegate.evidence.dsse import pae
from lifegate.evidence.keys import Signer, verify_signature
from lifegate.evidence.ledger import open_ledger, trusted_keys
from lifegate.evidence.statement import PredicateType
from lifegate.evidence.store import Record

__all__ = ["Found", "Previous", "Target", "scan_ledger"]

GATE_ID = "LG-RELEASE"


@dataclass(frozen=True)
class Target:
    """An output as a gate may name it: one digest of the whole, or each file's sha256."""

    gate: str
    path: str
    whole: frozenset[str]
    files: frozenset[str]

    def covered_by(self, digests: set[str]) -> bool:
        return bool(self.whole & digests) or (bool(self.files) and self.files <= digests)


@dataclass(frozen=True)
class Found:
    seq: int
    verdict: str
    blocking: list[str]


@dataclass
class Previous:
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    checked_at_ns: int = 0
    seq: int = 0


def _keys(policy: Policy) -> dict[str, ec.EllipticCurvePublicKey]:
    keys = dict(trusted_keys(policy))
    if policy.keys.signing_key:
        signer = Signer.from_file(policy.resolve(policy.keys.signing_key))
        keys[signer.keyid] = signer.key.public_key()
    return keys


def _signed_by(env: dict[str, Any], keys: dict[str, ec.EllipticCurvePublicKey]) -> bool:
    body = pae(str(env["payloadType"]), base64.b64decode(env["payload"]))
    for sig in env.get("signatures") or []:
        key = keys.get(str(sig.get("keyid")))
        if key is not None and verify_signature(key, base64.b64decode(sig.get("sig", "")),
                                                body):
            return True
    return False


def _previous(rec: Record, env: dict[str, Any], pred: dict[str, Any],
              keys: dict[str, ec.EllipticCurvePublicKey], root: str) -> Previous | None:
    details = pred.get("result", {}).get("details", {})
    if details.get("dvc_root") != root or not _signed_by(env, keys):
        return None
    files = details.get("files")
    if not isinstance(files, dict):
        return None
    return Previous(files, int(details.get("checked_at_ns", 0)), rec.seq)


def scan_ledger(policy: Policy, targets: list[Target], root: str, want_previous: bool,
                ) -> tuple[dict[tuple[str, str], Found], Previous | None]:
    """Newest first: for each target the latest run of its gate that covers it, and the
    latest LG-RELEASE record of this project signed by a key the policy trusts."""
    open_targets = list(targets)
    found: dict[tuple[str, str], Found] = {}
    previous: Previous | None = None
    keys = _keys(policy) if want_previous else {}
    look_for_previous = want_previous and bool(keys)
    gates = {t.gate for t in targets}
    ledger = open_ledger(policy, write=False)
    ledger.verify()  # a hidden, edited or rolled-back record must not decide a release
    for rec in ledger.store.newest(PredicateType.GATE_RUN.kind):
        if not open_targets and not look_for_previous:
            break
        env = json.loads(rec.envelope)
        stmt = json.loads(base64.b64decode(env["payload"]))
        pred = stmt.get("predicate", {})
        gate = pred.get("result", {}).get("gate_id")
        if pred.get("context", {}).get("system") != policy.system.name:
            continue
        if gate == GATE_ID and look_for_previous:
            previous = _previous(rec, env, pred, keys, root)
            look_for_previous = previous is None
        if gate not in gates:
            continue
        digests = {s["digest"]["sha256"] for s in stmt.get("subject", [])}
        for t in [t for t in open_targets if t.gate == gate and t.covered_by(digests)]:
            result = pred["result"]
            blocking = [f["message"] for f in result.get("findings", [])
                        if f.get("blocking") and not f.get("waived_by")]
            found[(t.gate, t.path)] = Found(rec.seq, str(result.get("verdict")), blocking)
            open_targets.remove(t)
    return found, previous
