"""The release manifest: one signed in-toto statement that binds a model's root digest to the
digests of the rest of its release evidence (signature, SBOM, disclosure, data validation,
approvals). Gates that produce release evidence add their entry with :func:`add_entry`; each
change re-signs the file and is recorded in the ledger, so "this release" stays one object.
"""

from __future__ import annotations

import base64
import contextlib
import glob
import json
import os
import secrets
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lifegate.core.errors import EvidenceError, LifegateError
from lifegate.core.hashing import sha256_bytes, sha256_file
from lifegate.evidence.dsse import envelope, read_signed
from lifegate.evidence.keys import Signer
from lifegate.evidence.statement import PredicateType, statement

if TYPE_CHECKING:
    from lifegate.evidence.ledger import Ledger

__all__ = ["MANIFEST_KIND", "SIGNATURE_KIND", "Aside", "ReleaseEntry", "ReleaseManifest",
           "add_entry", "append_release", "manifest_path", "manifest_statement", "read_manifest",
           "recorded",
           "release_record", "signed_manifest"]

MANIFEST_KIND = "release-manifest"
SIGNATURE_KIND = "model-signature"


class ReleaseEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    uri: str
    media_type: str = "application/octet-stream"
    added_at: datetime


class ReleaseManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system: str
    version: str
    model_name: str
    model_root_digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    hash_type: str
    signer: str = Field(description="fingerprint of the key that signed model and manifest")
    entries: dict[str, ReleaseEntry] = Field(default_factory=dict)

    def to_statement(self) -> dict[str, Any]:
        return statement([{"name": f"model:{self.model_name}",
                           "digest": {"sha256": self.model_root_digest}}],
                         PredicateType.RELEASE, self.model_dump(mode="json"))


def manifest_path(model: Path) -> Path:
    """Default location: beside the model, ``<model>.release.json``."""
    return model.parent / f"{model.name}.release.json"


def signed_manifest(manifest: ReleaseManifest, signer: Signer) -> bytes:
    """The bytes of the manifest file: a DSSE envelope over its statement."""
    return (json.dumps(envelope(manifest.to_statement(), signer), indent=2) + "\n").encode()


def release_record(manifest: ReleaseManifest, files: dict[str, tuple[str, str]]
                   ) -> dict[str, Any]:
    """The ledger statement of a release change: the manifest's statement, plus one subject
    ``<kind>:<file name>`` per file written (``files``: kind -> (file name, sha256))."""
    stmt = manifest.to_statement()
    stmt["subject"] += [{"name": f"{kind}:{name}", "digest": {"sha256": digest}}
                        for kind, (name, digest) in sorted(files.items())]
    return stmt


class Aside:
    """Files written beside their final place (same folder, hidden ``.part`` names), moved
    into place only by :meth:`commit`; whatever was not committed is removed on exit.

    Used so that a release file is in place only after the ledger recorded its digest: a
    failed append, or a process killed before the move, leaves the previous file untouched."""

    SUFFIX = ".lifegate-part"

    def __init__(self, *finals: Path) -> None:
        self.paths = {final: final.with_name(f".{final.name}.{secrets.token_hex(6)}"
                                             f"{self.SUFFIX}") for final in finals}

    def __enter__(self) -> Aside:
        for final in self.paths:
            final.parent.mkdir(parents=True, exist_ok=True)
            for old in final.parent.glob(f".{glob.escape(final.name)}.*{self.SUFFIX}"):
                if old.is_file() and not old.is_symlink():  # left by a killed run
                    old.unlink()
        return self

    def write(self, final: Path, data: bytes) -> None:
        fd = os.open(self.paths[final], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    def commit(self) -> None:
        for final, tmp in self.paths.items():
            os.replace(tmp, final)

    def __exit__(self, *exc: object) -> None:
        for tmp in self.paths.values():
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def append_release(ledger: Ledger, stmt: dict[str, Any], what: Path) -> int:
    """Record a release change; any failure is an EvidenceError saying nothing was replaced."""
    try:
        return ledger.append(stmt, PredicateType.RELEASE).seq
    except LifegateError:
        raise
    except Exception as exc:
        raise EvidenceError(f"could not record the new {what.name} in the ledger "
                            f"({type(exc).__name__}: {exc}); it was not put in place, and "
                            f"the previous {what.name}, if any, is untouched", where=str(what),
                            fix="check that the ledger is reachable and writable, then run "
                            "the command again") from exc


def read_manifest(path: Path, trusted: dict[str, ec.EllipticCurvePublicKey]) -> ReleaseManifest:
    """Read and verify: bad input is an EvidenceError, a bad signature a SignatureError."""
    with contextlib.suppress(FileNotFoundError):  # a missing file is reported by read_signed
        mode = os.lstat(path).st_mode
        if not stat.S_ISREG(mode):  # a link is not followed, a FIFO not read (it would hang)
            raise EvidenceError(f"{path} is not a regular file; a release manifest is one",
                                where=str(path), fix="sign the model again with `lifegate "
                                "sign`, which writes it")
    stmt = read_signed(path, trusted, PredicateType.RELEASE, "lifegate release manifest",
                       missing_fix="sign the model with `lifegate sign`, which writes it")
    try:
        return ReleaseManifest.model_validate(stmt["predicate"])
    except (KeyError, ValidationError) as exc:
        raise EvidenceError(f"{path} is not a lifegate release manifest: {exc}",
                            where=str(path)) from None


def manifest_statement(path: Path) -> dict[str, Any] | None:
    """The statement inside a manifest file, unverified (None when unreadable); compared with
    ledger records after :func:`read_manifest` has checked the signature."""
    try:
        env = json.loads(path.read_text())
        stmt = json.loads(base64.b64decode(env["payload"], validate=True))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return stmt if isinstance(stmt, dict) else None


def add_entry(path: Path, kind: str, artifact: Path, signer: Signer,
              trusted: dict[str, ec.EllipticCurvePublicKey], ledger: Ledger,
              media_type: str = "application/octet-stream") -> ReleaseManifest:
    """Add (or replace) the entry ``kind`` with the artifact's digest and re-sign. The new
    manifest is written aside, recorded in the ledger (its file digest named), then moved
    into place, so no manifest is ever in place without its record."""
    manifest = read_manifest(path, {**trusted, signer.keyid: signer.key.public_key()})
    manifest.entries[kind] = ReleaseEntry(sha256=sha256_file(artifact), uri=str(artifact),
                                          media_type=media_type, added_at=datetime.now(UTC))
    data = signed_manifest(manifest, signer)
    with Aside(path) as aside:
        aside.write(path, data)
        append_release(ledger, release_record(
            manifest, {MANIFEST_KIND: (path.name, sha256_bytes(data))}), path)
        aside.commit()
    return manifest


def recorded(ledger: Ledger, system: str, kind: str, sha256: str,
             trusted: dict[str, ec.EllipticCurvePublicKey], *, unsigned_through: int = 0,
             statement: dict[str, Any] | None = None) -> int | None:
    """The sequence number of the newest record of ``system`` that names the ``kind`` file
    (``model-signature``, ``release-manifest``) with digest ``sha256``, else None.

    A release record names it as subject ``<kind>:<name>`` (or, written before file digests
    were recorded, carries exactly ``statement``); a gate run (LG-SIGN, LG-SBOM, ...) names it
    as evidence. Only records signed by a ``trusted`` key count, except those numbered up to
    ``unsigned_through`` (records the policy accepts unsigned)."""
    from lifegate.evidence.dsse import signed_by_trusted
    from lifegate.evidence.ledger import decode

    for ptype in (PredicateType.RELEASE, PredicateType.GATE_RUN):
        for rec in ledger.store.newest(ptype.kind):
            stmt = decode(rec).statement
            if _names(stmt, ptype, system, kind, sha256, statement) and (
                    rec.seq <= unsigned_through
                    or signed_by_trusted(json.loads(rec.envelope), trusted)):
                return rec.seq
    return None


def _names(stmt: dict[str, Any], ptype: PredicateType, system: str, kind: str, sha256: str,
           legacy: dict[str, Any] | None) -> bool:
    pred = stmt.get("predicate") or {}
    if ptype is PredicateType.RELEASE:
        if pred.get("system") != system:
            return False
        return (legacy is not None and stmt == legacy) or any(
            str(s.get("name", "")).startswith(f"{kind}:")
            and (s.get("digest") or {}).get("sha256") == sha256
            for s in stmt.get("subject") or [])
    if (pred.get("context") or {}).get("system") != system:
        return False
    return any(e.get("kind") == kind and e.get("sha256") == sha256
               for e in (pred.get("result") or {}).get("evidence") or [])
