"""DSSE envelopes around in-toto Statements v1, and canonical JSON."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from lifegate.core.errors import EvidenceError, LedgerTamperedError, SignatureError
from lifegate.evidence.keys import Signer, verify_signature

__all__ = ["PAYLOAD_TYPE", "canonical", "decode_payload", "envelope", "pae", "read_signed",
           "signed_by_trusted"]

PAYLOAD_TYPE = "application/vnd.in-toto+json"


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def envelope(statement: dict[str, Any], signer: Signer | None) -> dict[str, Any]:
    body = canonical(statement)
    sigs = []
    if signer is not None:
        sigs.append({"keyid": signer.keyid, "sig": signer.sign_b64(pae(PAYLOAD_TYPE, body))})
    return {"payloadType": PAYLOAD_TYPE, "payload": base64.b64encode(body).decode(),
            "signatures": sigs}


def decode_payload(env: dict[str, Any], where: str) -> dict[str, Any]:
    try:
        if env["payloadType"] != PAYLOAD_TYPE:
            raise ValueError(f"payloadType {env['payloadType']!r}")
        data = json.loads(base64.b64decode(env["payload"], validate=True))
        if not isinstance(data, dict):
            raise ValueError("payload is not a JSON object")
        return data
    except (KeyError, TypeError, ValueError) as exc:
        raise LedgerTamperedError(f"envelope of {where} cannot be decoded: {exc}",
                                  where=where) from None


def signed_by_trusted(env: dict[str, Any], trusted: dict[str, ec.EllipticCurvePublicKey]) -> bool:
    """Does any signature of ``env`` verify under a trusted key? Garbage is simply no."""
    try:
        message = pae(env["payloadType"], base64.b64decode(env["payload"], validate=True))
        sigs = [(trusted.get(str(s.get("keyid"))), base64.b64decode(s.get("sig", ""),
                                                                    validate=True))
                for s in env.get("signatures") or []]
    except (KeyError, TypeError, ValueError, AttributeError):
        return False
    return any(key is not None and verify_signature(key, sig, message) for key, sig in sigs)


def read_signed(path: Path, trusted: dict[str, ec.EllipticCurvePublicKey], predicate_type: str,
                what: str, missing_fix: str | None = None) -> dict[str, Any]:
    """The statement in a DSSE file, if it is a ``what`` signed by a trusted key. Unreadable
    or foreign input is an EvidenceError; a missing or wrong signature a SignatureError."""
    try:
        env = json.loads(path.read_text())
        stmt = decode_payload(env, str(path))
    except FileNotFoundError:
        raise EvidenceError(f"{what} not found: {path}", where=str(path),
                            fix=missing_fix) from None
    except (OSError, ValueError, TypeError) as exc:
        raise EvidenceError(f"{path} is not a {what}: {exc}", where=str(path)) from None
    if stmt.get("predicateType") != predicate_type:
        raise EvidenceError(f"{path} is not a {what}", where=str(path))
    if not signed_by_trusted(env, trusted):
        raise SignatureError(f"{what} {path} is not signed by a trusted key", where=str(path),
                             fix="it was altered, or signed with a key the policy does not "
                             "trust")
    return stmt
