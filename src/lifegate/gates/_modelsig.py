"""The OpenSSF model-signing format (key mode), read and checked independently of the library.

Signing goes through the ``model_signing`` library; verification here re-implements the
format's checks (DSSE over an in-toto statement in a Sigstore bundle) so that every differing
file can be named, and the model is hashed only once, on all cores.
"""

from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
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
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
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


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file, opened without following a link and without blocking, so
    a FIFO, socket or device in its place is refused instead of read (a FIFO would hang)."""
    if path.is_symlink():
        raise OSError(errno.ELOOP, "it is a symlink")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, f"it is a {file_type(st.st_mode)}, not a regular file")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"{len(data)} bytes or more is far too large")
    return data


def file_type(mode: int) -> str:
    """What a non-regular file is, in words, for messages."""
    for test, name in ((stat.S_ISLNK, "symlink"), (stat.S_ISDIR, "folder"),
                       (stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "special file"


def read_bundle(path: Path) -> Bundle:
    """Parse a signature file; malformed input is an EvidenceError (bad input, not tampering)."""
    try:
        raw = read_regular(path, MAX_SIGNATURE_BYTES)
    except FileNotFoundError:
        raise EvidenceError(f"signature file not found: {path}", where=str(path),
                            fix="sign the model with `lifegate sign`, or pass --signature",
                            ) from None
    except OSError as exc:
        raise _bad(path, exc.strerror or str(exc)) from None
    try:
        doc = json.loads(raw)
        env = doc["dsseEnvelope"]
        if env["payloadType"] != PAYLOAD_TYPE:
            raise ValueError(f"DSSE payload type {env['payloadType']!r}")
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
    if st.get("_type") != STATEMENT_TYPE:
        raise ValueError(f"statement type {st.get('_type')!r}")
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
    """The files of a model as found on disk, relative to the model root. ``special`` holds
    FIFOs, sockets and devices (with what each is): never read, always refused."""

    files: dict[str, Path]
    symlinks: list[str]
    ignored: list[str]
    special: dict[str, str] = field(default_factory=dict)


def list_model(model: Path, ignore: list[str], signature: Path) -> Listing:
    """Walk the model (never following links); drop the signature and signed ignore paths."""
    try:
        mode = os.lstat(model).st_mode
    except FileNotFoundError:
        raise EvidenceError(f"model not found: {model}", where=str(model),
                            fix="check the model path") from None
    if stat.S_ISLNK(mode):
        return Listing({}, ["."], [])
    if stat.S_ISREG(mode):
        return Listing({".": model}, [], [])
    if not stat.S_ISDIR(mode):
        return Listing({}, [], [], {".": file_type(mode)})
    listing = Listing({}, [], [])
    sig = signature.resolve() if signature.exists() else None
    for dirpath, dirnames, filenames in os.walk(model, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames) + [d for d in dirnames
                                         if os.path.islink(os.path.join(dirpath, d))]:
            _classify(Path(dirpath) / name, model, ignore, sig, listing)
    listing.symlinks.sort()
    return listing


def _classify(p: Path, model: Path, ignore: list[str], sig: Path | None,
              listing: Listing) -> None:
    rel = p.relative_to(model).as_posix()
    mode = os.lstat(p).st_mode
    if stat.S_ISLNK(mode):
        listing.symlinks.append(rel)
    elif any(rel == i or rel.startswith(i.rstrip("/") + "/") for i in ignore):
        listing.ignored.append(rel)  # never read (a git fsmonitor socket lives in .git)
    elif not stat.S_ISREG(mode):
        listing.special[rel] = file_type(mode)
    elif sig is None or p.resolve() != sig:
        listing.files[rel] = p


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
