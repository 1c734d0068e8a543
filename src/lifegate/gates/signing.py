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
from lifegate.core.hashing import sha256_bytes, subject_digest, subject_name
from lifegate.core.model import Evidence, Finding, GateResult, Phase, RunContext, Subject
from lifegate.core.policy import Policy
from lifegate.evidence.keys import Signer
from lifegate.evidence.ledger import Ledger, open_ledger, revocations
from lifegate.evidence.release import (
    MANIFEST_KIND,
    SIGNATURE_KIND,
    Aside,
    ReleaseEntry,
    ReleaseManifest,
    append_release,
    manifest_path,
    release_record,
    signed_manifest,
)
from lifegate.gates._keysource import model_signing_key
from lifegate.gates._modelsig import (
    BUNDLE_MEDIA_TYPE as BUNDLE,
)
from lifegate.gates._modelsig import (
    Bundle,
    Listing,
    hash_listing,
    list_model,
    read_bundle,
)

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
    # 5.2.3-1: a signed release; 5.2.4-1.2: the signature carries every file's hash, for the
    # recipients to check. Not 5.2.1-2: signing authenticates the model, it neither tracks
    # the assets' versions nor protects them.
    provisions: ClassVar[tuple[str, ...]] = ("5.2.3-1", "5.2.4-1.2")
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
        refused = _refusals(model, listing)
        if refused:
            return GateResult.from_findings(self.id, refused)
        ledger = open_ledger(self.policy)  # before any work: an unreachable ledger fails fast
        with model_signing_key(self.policy, self.settings.private_key,
                               self.settings.private_key_env) as (signer, key_path):
            total = sum(p.stat().st_size for p in listing.files.values())
            loading = threading.Thread(target=_import_library, daemon=True)
            loading.start()  # on a free core while the files hash: they hold no GIL long
            with progress.task(f"signing {model.name}", total) as advance:
                digests = hash_listing(listing, self.settings.hash, advance)
            loading.join()
            release = manifest_path(model) if self.settings.release_manifest else None
            with Aside(*(p for p in (sig, release) if p)) as aside:
                _sign(model, aside.paths[sig], key_path, self.settings.hash, digests, ignored)
                bundle = read_bundle(aside.paths[sig])
                if not bundle.verify_with(signer.key.public_key()):
                    raise EvidenceError(f"the signature just written for {sig} does not verify")
                revoked = self._revoked(bundle)
                if revoked:
                    return GateResult.from_findings(self.id, revoked)
                evidence = self._record(ledger, aside, bundle, sig, release, signer)
                aside.commit()  # recorded first, then in place: never a signature without one
        log.info("LG-SIGN: %s signed, root %s", model, bundle.root_digest)
        return GateResult.from_findings(
            self.id, [], evidence=evidence,
            subjects=[Subject(name=f"model:{bundle.model_name}", sha256=bundle.root_digest),
                      Subject(name=subject_name(model, self.policy.base_dir),  # as all gates
                              sha256=subject_digest(model, digests if self.settings.hash
                                                    == "sha256" else None))],
            metrics={"files": float(len(bundle.resources)), "bytes": float(total)},
            details={"model": str(model), "signature": str(sig), "hash_type": bundle.hash_type,
                     "signer": signer.keyid, "manifest": bundle.resources,
                     "ignored_paths": [inside] if inside else []})

    def _revoked(self, bundle: Bundle) -> list[Finding]:
        """Signing revoked content again would make it look released; refuse it."""
        return [Finding(rule="SIGN-REVOKED", location=str(bundle.model_name),
                        message=f"release {bundle.root_digest[:12]} (these exact files) was "
                        f"revoked in ledger record #{e.seq} by {e.predicate.get('by')}: "
                        f"{e.predicate.get('reason')}; a revoked release is never signed "
                        "again (change the model, e.g. retrain or fix it, and sign that)")
                for e in revocations(self.policy, bundle.root_digest, missing_ok=True)]

    def _record(self, ledger: Ledger, aside: Aside, bundle: Bundle, sig: Path,
                release: Path | None, signer: Signer) -> list[Evidence]:
        """Write the release manifest aside and record both files' digests in the ledger."""
        manifest = ReleaseManifest(
            system=self.policy.system.name, version=self.policy.system.version,
            model_name=bundle.model_name, model_root_digest=bundle.root_digest,
            hash_type=bundle.hash_type, signer=signer.keyid)
        manifest.entries[SIGNATURE_KIND] = ReleaseEntry(
            sha256=bundle.sha256, uri=str(sig), added_at=datetime.now(UTC), media_type=BUNDLE)
        files = {SIGNATURE_KIND: (sig.name, bundle.sha256)}
        evidence = [Evidence(kind=SIGNATURE_KIND, uri=str(sig), sha256=bundle.sha256,
                             media_type=BUNDLE)]
        if release is not None:
            data = signed_manifest(manifest, signer)
            aside.write(release, data)
            files[MANIFEST_KIND] = (release.name, sha256_bytes(data))
            evidence.append(Evidence(kind=MANIFEST_KIND, uri=str(release),
                                     sha256=files[MANIFEST_KIND][1],
                                     media_type="application/vnd.in-toto+json"))
        append_release(ledger, release_record(manifest, files), sig)
        return evidence


def _refusals(model: Path, listing: Listing) -> list[Finding]:
    """Links and special files are never signed (nor read: a FIFO would hang the hashing)."""
    out = [Finding(rule="SIGN-SYMLINK", location=link,
                   message=f"{link} is a symlink; lifegate signs no links (replace it "
                   "with the file it points to)") for link in listing.symlinks]
    out += [Finding(rule="SIGN-SPECIAL", location=rel,
                    message=f"{rel} is a {what}; lifegate signs regular files only (remove "
                    "it from the model folder)") for rel, what in listing.special.items()]
    if not out and not listing.files:
        out.append(Finding(rule="SIGN-EMPTY", location=str(model),
                           message=f"{model} has no files to sign"))
    return out


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
    try:
        sign_ec_key.Signer(key).sign(payload).write(sig)
    except (ValueError, OSError) as exc:
        raise EvidenceError(f"model_signing could not sign {model}: {type(exc).__name__}",
                            where=str(model)) from None
