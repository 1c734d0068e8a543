"""The release manifest: one signed in-toto statement that binds a model's root digest to the
digests of the rest of its release evidence (signature, SBOM, disclosure, data validation,
approvals). Gates that produce release evidence add their entry with :func:`add_entry`; each
change re-signs the file and is recorded in the ledger, so "this release" stays one object.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lifegate.core.errors import EvidenceError
from lifegate.core.hashing import sha256_file
from lifegate.evidence.dsse import envelope, read_signed
from lifegate.evidence.keys import Signer
from lifegate.evidence.statement import PredicateType, statement

if TYPE_CHECKING:
    from lifegate.evidence.ledger import Ledger

__all__ = ["ReleaseEntry", "ReleaseManifest", "add_entry", "manifest_path", "read_manifest",
           "write_manifest"]


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


def write_manifest(path: Path, manifest: ReleaseManifest, signer: Signer) -> str:
    """Sign and write atomically; return the file's sha256."""
    env = envelope(manifest.to_statement(), signer)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(env, indent=2) + "\n")
    tmp.replace(path)
    return sha256_file(path)


def read_manifest(path: Path, trusted: dict[str, ec.EllipticCurvePublicKey]) -> ReleaseManifest:
    """Read and verify: bad input is an EvidenceError, a bad signature a SignatureError."""
    stmt = read_signed(path, trusted, PredicateType.RELEASE, "lifegate release manifest",
                       missing_fix="sign the model with `lifegate sign`, which writes it")
    try:
        return ReleaseManifest.model_validate(stmt["predicate"])
    except (KeyError, ValidationError) as exc:
        raise EvidenceError(f"{path} is not a lifegate release manifest: {exc}",
                            where=str(path)) from None


def add_entry(path: Path, kind: str, artifact: Path, signer: Signer,
              trusted: dict[str, ec.EllipticCurvePublicKey], ledger: Ledger | None = None,
              media_type: str = "application/octet-stream") -> ReleaseManifest:
    """Add (or replace) the entry ``kind`` with the artifact's digest; re-sign; record."""
    manifest = read_manifest(path, {**trusted, signer.keyid: signer.key.public_key()})
    manifest.entries[kind] = ReleaseEntry(sha256=sha256_file(artifact), uri=str(artifact),
                                          media_type=media_type, added_at=datetime.now(UTC))
    write_manifest(path, manifest, signer)
    if ledger is not None:
        ledger.append(manifest.to_statement(), PredicateType.RELEASE)
    return manifest

