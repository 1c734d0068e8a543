"""The OpenSSF model-signing format (key mode), read and checked independently of the library.

Signing goes through the ``model_signing`` library; verification here re-implements the
format's checks (DSSE over an in-toto statement in a Sigstore bundle) so that every differing
file can be named, and the model is hashed only once, on all cores.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from lifegate.core.errors import EvidenceError
from lifegate.core.hashing import hash_files
from lifegate.evidence.dsse import pae
from lifegate.evidence.keys import verify_signature

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
MAX_SIGNATURE_BYTES = 64 << 20
HASH_TYPES = ("sha256", "blake3", "blake2b")


def key_hint(key: ec.EllipticCurvePublicKey) -> str:
    """How a bundle names its key: sha256 of the PEM SubjectPublicKeyInfo."""
    pem = key.public_bytes(serialization.Encoding.PEM,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(pem).hexdigest()


@dataclass(frozen=True)
class Bundle:
    """A parsed, not yet verified, model signature."""

    path: Path
    sha256: str
    hint: str
    payload: bytes
    payload_type: str
    signature: bytes
    statement: dict[str, Any]

    @property
    def model_name(self) -> str:
        return str(self.statement["subject"][0]["name"])

    @property
    def root_digest(self) -> str:
        return str(self.statement["subject"][0]["digest"]["sha256"])

    @property
    def serialization(self) -> dict[str, Any]:
        s: dict[str, Any] = self.statement["predicate"]["serialization"]
        return s

    @property
    def resources(self) -> dict[str, str]:
        return {r["name"]: r["digest"] for r in self.statement["predicate"]["resources"]}

    @property
    def hash_type(self) -> str:
        return str(self.serialization.get("hash_type", "sha256"))

    def verify_with(self, key: ec.EllipticCurvePublicKey) -> bool:
        return verify_signature(key, self.signature, pae(self.payload_type, self.payload))

    def root_is_consistent(self) -> bool:
        """The subject digest is sha256 over the resource digests, in manifest order."""
        h = hashlib.sha256()
        for r in self.statement["predicate"]["resources"]:
            h.update(bytes.fromhex(r["digest"]))
        return h.hexdigest() == self.root_digest


def _bad(path: Path, why: str) -> EvidenceError:
    return EvidenceError(f"{path} is not a usable model signature: {why}", where=str(path),
                         fix="sign the model again with `lifegate sign` (or model_signing)")


def read_bundle(path: Path) -> Bundle:
    """Parse a signature file; malformed input is an EvidenceError (bad input, not tampering)."""
    try:
        if path.is_symlink():
            raise _bad(path, "it is a symlink")
        size = path.stat().st_size
        if size > MAX_SIGNATURE_BYTES:
            raise _bad(path, f"{size} bytes is far too large for a signature")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise EvidenceError(f"signature file not found: {path}", where=str(path),
                            fix="sign the model with `lifegate sign`, or pass --signature",
                            ) from None
    except OSError as exc:
        raise _bad(path, exc.strerror or str(exc)) from None
    try:
        doc = json.loads(raw)
        env = doc["dsseEnvelope"]
        payload = base64.b64decode(env["payload"], validate=True)
        sig = base64.b64decode(env["signatures"][0]["sig"], validate=True)
        statement = json.loads(payload)
        hint = str(doc.get("verificationMaterial", {}).get("publicKey", {}).get("hint", ""))
        _check_statement(statement)
    except (ValueError, KeyError, IndexError, TypeError, binascii.Error) as exc:
        raise _bad(path, f"{type(exc).__name__}: {exc}") from None
    if doc.get("mediaType") != BUNDLE_MEDIA_TYPE:
        raise _bad(path, f"media type {doc.get('mediaType')!r}")
    return Bundle(path, hashlib.sha256(raw).hexdigest(), hint, payload,
                  str(env["payloadType"]), sig, statement)


def _check_statement(st: dict[str, Any]) -> None:
    if st.get("predicateType") != PREDICATE_TYPE:
        raise ValueError(f"predicate type {st.get('predicateType')!r}")
    if len(st["subject"]) != 1:
        raise ValueError("expected exactly one subject")
    ser = st["predicate"]["serialization"]
    if ser.get("method") != "files":
        raise ValueError(f"serialization method {ser.get('method')!r} (only 'files' is read)")
    if ser.get("hash_type", "sha256") not in HASH_TYPES:
        raise ValueError(f"hash type {ser.get('hash_type')!r}")
    for r in st["predicate"]["resources"]:
        if not isinstance(r["name"], str) or not isinstance(r["digest"], str):
            raise ValueError("malformed resource")


@dataclass(frozen=True)
class Listing:
    """The files of a model as found on disk, relative to the model root."""

    files: dict[str, Path]
    symlinks: list[str]
    ignored: list[str]


def list_model(model: Path, ignore: list[str], signature: Path) -> Listing:
    """Walk the model (never following links); drop the signature and signed ignore paths."""
    if model.is_symlink():
        return Listing({}, ["."], [])
    if model.is_file():
        return Listing({".": model}, [], [])
    if not model.is_dir():
        raise EvidenceError(f"model not found: {model}", where=str(model),
                            fix="check the model path")
    files: dict[str, Path] = {}
    links: list[str] = []
    ignored: list[str] = []
    sig = signature.resolve() if signature.exists() else None
    for p in sorted(model.rglob("*")):
        rel = p.relative_to(model).as_posix()
        if p.is_symlink():
            links.append(rel)
        elif p.is_file():
            if sig is not None and p.resolve() == sig:
                continue
            if any(rel == i or rel.startswith(i.rstrip("/") + "/") for i in ignore):
                ignored.append(rel)
            else:
                files[rel] = p
    return Listing(files, links, ignored)


def hash_listing(listing: Listing, hash_type: str, progress: Any = None) -> dict[str, str]:
    """Digest of each listed file with the algorithm the signature used."""
    names = sorted(listing.files)
    paths = [listing.files[n] for n in names]
    if hash_type == "sha256":
        digests: list[str] = [d.sha256 for d in hash_files(paths, progress=progress)]
    else:
        digests = [_other_hash(p, hash_type, progress) for p in paths]
    return dict(zip(names, digests, strict=True))


def _other_hash(path: Path, hash_type: str, progress: Any) -> str:
    if hash_type == "blake3":
        try:
            import blake3
        except ImportError:
            raise EvidenceError("this signature uses BLAKE3, which needs the blake3 package",
                                fix="pip install 'lifegate[signing]'") from None
        h = blake3.blake3(max_threads=blake3.blake3.AUTO)
        with path.open("rb") as f:  # chunked, not mmap: memory stays flat whatever the size
            while chunk := f.read(16 << 20):
                h.update(chunk)
        digest: str = h.hexdigest()
    else:
        hb = hashlib.blake2b()
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                hb.update(chunk)
        digest = hb.hexdigest()
    if progress:
        progress(path.stat().st_size)
    return digest


def diff(expected: dict[str, str], actual: dict[str, str]) -> list[tuple[str, str, str]]:
    """(rule, file, message) for every file that differs: changed, added, missing, renamed."""
    out = []
    added = {f for f in actual if f not in expected}
    missing = {f for f in expected if f not in actual}
    by_digest = {actual[f]: f for f in added}
    for f in sorted(missing):
        if expected[f] in by_digest:
            new = by_digest.pop(expected[f])
            added.discard(new)
            out.append(("VERIFY-RENAMED", new, f"{f} was renamed to {new}"))
        else:
            out.append(("VERIFY-MISSING", f, f"{f} is signed but missing"))
    out.extend(("VERIFY-ADDED", f, f"{f} was added after signing (not signed)")
               for f in sorted(added))
    out.extend(("VERIFY-CHANGED", f, f"{f} changed since signing (digest "
                f"{actual[f][:12]}, signed {expected[f][:12]})")
               for f in sorted(expected.keys() & actual.keys()) if expected[f] != actual[f])
    return out
