"""LG-SIGN: sign a model in the OpenSSF model-signing format and start its release manifest."""

from __future__ import annotations

import contextlib
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import ClassVar, Literal

from lifegate.core import progress
from lifegate.core.errors import EvidenceError
from lifegate.core.gate import GateSettings
from lifegate.core.model import Evidence, Finding, GateResult, Phase, RunContext, Subject
from lifegate.core.policy import Policy
from lifegate.evidence.keys import Signer
from lifegate.evidence.release import ReleaseEntry, ReleaseManifest, manifest_path, write_manifest
from lifegate.gates._keysource import model_signing_key
from lifegate.gates._modelsig import Bundle, hash_listing, list_model, read_bundle

log = logging.getLogger(__name__)

# What the model_signing library always leaves out of a signature, recorded as ignore paths.
GIT_PATHS = (".git", ".gitattributes", ".github", ".gitignore")


class SignSettings(GateSettings):
    model: str | None = None
    signature: str | None = None
    private_key: str | None = None
    private_key_env: str = "LIFEGATE_MODEL_SIGNING_KEY"
    hash: Literal["sha256", "blake3"] = "sha256"
    release_manifest: bool = True


def model_path(context: RunContext, policy: Policy, configured: str | None) -> Path:
    """The model a gate is about: the run's ``model`` artifact, else the gate's setting."""
    value = context.artifacts.get("model") or configured
    if not value:
        raise EvidenceError("no model path given", fix="pass MODEL_PATH, or set the gate's "
                            "`model` setting in the policy")
    return policy.resolve(value)


def signature_path(model: Path, context: RunContext, policy: Policy,
                   configured: str | None) -> Path:
    """Default: beside the model, ``<model>.sig``."""
    value = context.artifacts.get("signature") or configured
    return policy.resolve(value) if value else model.parent / f"{model.name}.sig"


def _inside(path: Path, root: Path) -> str | None:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix() if root.is_dir() else None
    except ValueError:
        return None


class SignGate:
    id: ClassVar[str] = "LG-SIGN"
    title: ClassVar[str] = "Signed model release"
    phase: ClassVar[Phase] = Phase.DEVELOPMENT
    provisions: ClassVar[tuple[str, ...]] = ("5.2.1-2", "5.2.3-1", "5.2.4-1.2")
    Settings: ClassVar[type[SignSettings]] = SignSettings

    def __init__(self, settings: SignSettings, policy: Policy) -> None:
        self.settings = settings
        self.policy = policy

    def check(self, context: RunContext) -> GateResult:
        model = model_path(context, self.policy, self.settings.model)
        sig = signature_path(model, context, self.policy, self.settings.signature)
        inside = _inside(sig, model)
        ignored = sorted({*GIT_PATHS, *([inside] if inside else [])})
        listing = list_model(model, ignored, sig)
        if listing.symlinks:
            return GateResult.from_findings(self.id, [
                Finding(rule="SIGN-SYMLINK", location=link,
                        message=f"{link} is a symlink; lifegate signs no links (replace it "
                        "with the file it points to)") for link in listing.symlinks])
        if not listing.files:
            return GateResult.from_findings(self.id, [Finding(
                rule="SIGN-EMPTY", location=str(model), message=f"{model} has no files to sign")])
        with model_signing_key(self.policy, self.settings.private_key,
                               self.settings.private_key_env) as (signer, key_path):
            total = sum(p.stat().st_size for p in listing.files.values())
            loading = threading.Thread(target=_import_library, daemon=True)
            loading.start()  # on a free core while the files hash: they hold no GIL long
            with progress.task(f"signing {model.name}", total) as advance:
                digests = hash_listing(listing, self.settings.hash, advance)
            loading.join()
            _sign(model, sig, key_path, self.settings.hash, digests, ignored)
            bundle = read_bundle(sig)
            if not bundle.verify_with(signer.key.public_key()):
                raise EvidenceError(f"the signature just written to {sig} does not verify")
            evidence = [Evidence(kind="model-signature", uri=str(sig), sha256=bundle.sha256,
                                 media_type="application/vnd.dev.sigstore.bundle.v0.3+json")]
            if self.settings.release_manifest:
                evidence.append(self._release(model, bundle, signer))
        log.info("LG-SIGN: %s signed, root %s", model, bundle.root_digest)
        return GateResult.from_findings(
            self.id, [], evidence=evidence,
            subjects=[Subject(name=f"model:{bundle.model_name}", sha256=bundle.root_digest)],
            metrics={"files": float(len(bundle.resources)), "bytes": float(total)},
            details={"model": str(model), "signature": str(sig), "hash_type": bundle.hash_type,
                     "signer": signer.keyid, "manifest": bundle.resources,
                     "ignored_paths": [inside] if inside else []})

    def _release(self, model: Path, bundle: Bundle, signer: Signer) -> Evidence:
        """A fresh release manifest: this signature is its first entry."""
        manifest = ReleaseManifest(
            system=self.policy.system.name, version=self.policy.system.version,
            model_name=bundle.model_name, model_root_digest=bundle.root_digest,
            hash_type=bundle.hash_type, signer=signer.keyid)
        manifest.entries["model-signature"] = ReleaseEntry(
            sha256=bundle.sha256, uri=str(bundle.path), added_at=datetime.now(UTC),
            media_type="application/vnd.dev.sigstore.bundle.v0.3+json")
        path = manifest_path(model)
        digest = write_manifest(path, manifest, signer)
        return Evidence(kind="release-manifest", uri=str(path), sha256=digest,
                        media_type="application/vnd.in-toto+json")


def _import_library() -> None:
    """Import model_signing (about 0.3 s of one core, most of it sigstore, which its package
    imports whatever part is used). The hashing threads take the GIL once per mapped slice,
    so this import beside them costs them little. A missing library is reported by ``_sign``."""
    with contextlib.suppress(ImportError):
        from model_signing._signing import sign_ec_key  # noqa: F401


def _sign(model: Path, sig: Path, key: Path, hash_type: Literal["sha256", "blake3"],
          digests: dict[str, str], ignored: list[str]) -> None:
    """Sign the manifest of file digests through the model_signing library (key mode, offline).

    The files are hashed by lifegate (streamed, on all cores, flat memory); the library builds
    the in-toto payload from that manifest, signs it and writes the bundle, exactly as its own
    ``sign`` would after hashing the same files with the same ignore paths.
    """
    try:
        from model_signing import manifest as ms_manifest
        from model_signing._hashing import hashing as ms_hashing
        from model_signing._signing import sign_ec_key, signing
    except ImportError:
        from lifegate.core.errors import MissingExtraError

        raise MissingExtraError("signing", "model-signing") from None
    serialization = ms_manifest._FileSerialization(
        hash_type, allow_symlinks=False, ignore_paths=[Path(p) for p in ignored])
    items = [ms_manifest.FileManifestItem(
        path=PurePosixPath(name), digest=ms_hashing.Digest(hash_type, bytes.fromhex(digest)))
        for name, digest in digests.items()]
    name = model.name or model.resolve().name
    payload = signing.Payload(ms_manifest.Manifest(
        name, items, serialization))
    sig.parent.mkdir(parents=True, exist_ok=True)
    try:
        sign_ec_key.Signer(key).sign(payload).write(sig)
    except (ValueError, OSError) as exc:
        raise EvidenceError(f"model_signing could not sign {model}: {type(exc).__name__}",
                            where=str(model)) from None
