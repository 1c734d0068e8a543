"""LG-VERIFY: before deploy, before load and on a schedule, a model must be byte for byte what
was released, signed by a key the policy trusts, not revoked, and with a complete release."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import Field

from lifegate.core import progress
from lifegate.core.errors import ConfigError, EvidenceError, LifegateError
from lifegate.core.gate import GateSettings
from lifegate.core.hashing import sha256_file, subject_digest, subject_name
from lifegate.core.model import Finding, GateResult, Phase, RunContext, Severity, Subject
from lifegate.core.policy import Policy
from lifegate.evidence.keys import MODEL_CURVES, fingerprint, load_public_key
from lifegate.evidence.ledger import revocations, trusted_fingerprints, trusted_keys
from lifegate.evidence.release import (
    MANIFEST_KIND,
    SIGNATURE_KIND,
    manifest_path,
    manifest_statement,
    read_manifest,
)
from lifegate.gates._modelsig import (
    Bundle,
    Listing,
    diff,
    hash_listing,
    key_hint,
    list_model,
    read_bundle,
)
from lifegate.gates.signing import model_path, signature_path


class VerifySettings(GateSettings):
    model: str | None = None
    signature: str | None = None
    public_keys: list[str] = Field(default_factory=list, description="PEM files of keys the "
                                   "policy lists by fingerprint only")
    allow_unsigned_files: bool = False
    require_recorded: bool = Field(default=True, description="refuse a signature or release "
                                   "manifest whose digest no record in the ledger names")
    require_release_manifest: bool = True
    required_release_entries: list[str] = Field(default_factory=list)


def _scoped(policy: Policy) -> set[str]:
    """Fingerprints of trusted keys limited to a scope (a scheduler's platform-event key)."""
    out = set()
    for entry in policy.keys.trusted:
        if entry.scope.value == "all":
            continue
        if entry.public_key:
            out.add(fingerprint(load_public_key(policy.resolve(entry.public_key), MODEL_CURVES)))
        if entry.fingerprint:
            out.add(entry.fingerprint)
    return out


def _f(rule: str, message: str, location: str | None = None, **kw: object) -> Finding:
    return Finding(rule=rule, message=message, location=location, **kw)  # type: ignore[arg-type]


class VerifyGate:
    id: ClassVar[str] = "LG-VERIFY"
    title: ClassVar[str] = "Verify before deploy or load"
    phase: ClassVar[Phase] = Phase.DEPLOYMENT
    # 5.2.3-1: the signature is verified before deploy or load. Not 5.2.1-2 (verifying one
    # model neither tracks nor protects the assets), 5.4.1-1 (it issues no security update)
    # or 5.5.1-2 (refusing a revoked model erases nothing).
    provisions: ClassVar[tuple[str, ...]] = ("5.2.3-1",)
    Settings: ClassVar[type[VerifySettings]] = VerifySettings

    def __init__(self, settings: VerifySettings, policy: Policy) -> None:
        self.settings = settings
        self.policy = policy

    def _trusted(self) -> dict[str, ec.EllipticCurvePublicKey]:
        """Keys we can verify with, limited to those the policy trusts for everything (a key
        trusted for platform events only never vouches for a model)."""
        keys = trusted_keys(self.policy)
        keys.update(self._given())
        allowed = trusted_fingerprints(self.policy) - _scoped(self.policy)
        return {fp: k for fp, k in keys.items() if fp in allowed}

    def _given(self) -> dict[str, ec.EllipticCurvePublicKey]:
        keys = {}
        for p in self.settings.public_keys:
            key = load_public_key(self.policy.resolve(p), MODEL_CURVES)
            keys[fingerprint(key)] = key
        return keys

    def _check_given(self, bundle: Bundle) -> None:
        """A public key passed in must be the one that signed the model: a wrong one is a
        mistake to report, not to ignore while another key verifies."""
        for p in self.settings.public_keys:
            key = load_public_key(self.policy.resolve(p), MODEL_CURVES)
            if key_hint(key) != bundle.hint:
                fp = fingerprint(key)
                raise ConfigError(
                    f"the public key {p} (fingerprint {fp[:12]}) did not sign {bundle.path}",
                    where=str(p), fix="pass the public key of the key that signed the model "
                    "with --public-key (settings.public_keys), or leave it out to use the "
                    "keys the policy trusts")

    def check(self, context: RunContext) -> GateResult:
        model = model_path(context, self.policy, self.settings.model)
        if not os.path.lexists(model):
            raise EvidenceError(f"model not found: {model}", where=str(model))
        sig = signature_path(model, context, self.policy, self.settings.signature)
        bundle = read_bundle(sig)
        self._check_given(bundle)
        key = next((k for k in self._trusted().values() if key_hint(k) == bundle.hint), None)
        if key is None:
            return self._result([_f("VERIFY-UNTRUSTED-KEY", f"{sig.name} is signed by a key "
                                    "the policy does not trust (or by no key it knows)",
                                    str(sig))], bundle, trusted=False)
        if not bundle.verify_with(key):
            return self._result([_f("VERIFY-BAD-SIGNATURE", f"the signature in {sig.name} does "
                                    "not verify: the signature file was altered or forged",
                                    str(sig))], bundle, trusted=False)
        if not bundle.root_is_consistent():
            return self._result([_f("VERIFY-INCONSISTENT", f"{sig.name}: the root digest does "
                                    "not match the signed file digests", str(sig))], bundle,
                                trusted=False)
        findings = self._unrecorded(SIGNATURE_KIND, sig, bundle.sha256)
        files, path_subject = self._files(model, sig, bundle)
        findings += files + self._revoked(bundle) + self._release(model, bundle)
        return self._result(findings, bundle, trusted=True, extra=path_subject)

    def _unrecorded(self, kind: str, path: Path, sha256: str,
                    legacy: dict[str, Any] | None = None) -> list[Finding]:
        """A signature or manifest counts only if the ledger recorded its exact bytes."""
        if not self.settings.require_recorded:
            return []
        from lifegate.evidence.ledger import open_ledger
        from lifegate.evidence.release import recorded

        keys = self.policy.keys
        through = (keys.accept_unsigned.through_seq if keys.accept_unsigned else 0) \
            if keys.signatures_required else 1 << 62
        seq = recorded(open_ledger(self.policy, write=False), self.policy.system.name, kind,
                       sha256, self._trusted(), unsigned_through=through, statement=legacy)
        if seq is not None:
            return []
        what = "signature" if kind == SIGNATURE_KIND else "release manifest"
        return [_f(f"VERIFY-UNRECORDED-{'SIGNATURE' if kind == SIGNATURE_KIND else 'RELEASE'}",
                   f"{path.name} (sha256 {sha256[:12]}) is not known to the ledger: no LG-SIGN "
                   f"or release record of {self.policy.system.name} names this {what}, so "
                   "it was not made by `lifegate sign` / `lifegate release add` with this "
                   "ledger (made by hand, copied from elsewhere, or its record was lost). Sign "
                   "the model again with `lifegate sign`", str(path))]

    def _files(self, model: Path, sig: Path, bundle: Bundle
               ) -> tuple[list[Finding], list[Subject]]:
        """Findings for every file that differs, and the model's path subject (the name and
        digest every gate records for it) when it holds only regular files."""
        listing = list_model(model, list(bundle.serialization.get("ignore_paths", [])), sig)
        findings = [_f("VERIFY-SYMLINK", f"{s} is a symlink; lifegate refuses links in a model",
                       s) for s in listing.symlinks]
        findings += [_f("VERIFY-SPECIAL", f"{rel} is a {what}; lifegate refuses anything but "
                        "regular files in a model (it is neither read nor signed)", rel)
                     for rel, what in listing.special.items()]
        actual = self._hash(model, listing, bundle)
        for rule, where, message in diff(bundle.resources, actual):
            unsigned_ok = rule == "VERIFY-ADDED" and self.settings.allow_unsigned_files
            findings.append(_f(rule, message, where, blocking=not unsigned_ok,
                               severity=Severity.MEDIUM if unsigned_ok else Severity.CRITICAL))
        if findings and bundle.model_name not in (model.name, "."):
            findings.append(_f("VERIFY-OTHER-MODEL", f"the signature was made for model "
                               f"'{bundle.model_name}', not '{model.name}'", str(sig)))
        if listing.symlinks or listing.special:
            return findings, []
        known = actual if bundle.hash_type == "sha256" else None
        return findings, [Subject(name=subject_name(model, self.policy.base_dir),
                                  sha256=subject_digest(model, known))]

    def _hash(self, model: Path, listing: Listing, bundle: Bundle) -> dict[str, str]:
        """The digest of every listed file under the bundle's hash (one pass, all cores);
        a subclass may supply digests it already has (the DVC release check does)."""
        total = sum(p.stat().st_size for p in listing.files.values())
        with progress.task(f"verifying {model.name}", total) as advance:
            return hash_listing(listing, bundle.hash_type, advance)

    def _revoked(self, bundle: Bundle) -> list[Finding]:
        return [_f("VERIFY-REVOKED", f"release {bundle.root_digest[:12]} was revoked in ledger "
                   f"record #{e.seq} by {e.predicate.get('by')}: {e.predicate.get('reason')}")
                for e in revocations(self.policy, bundle.root_digest)]

    def _release(self, model: Path, bundle: Bundle) -> list[Finding]:
        path = manifest_path(model)
        if not path.exists():
            return [_f("VERIFY-NO-RELEASE", f"no release manifest at {path}", str(path))] \
                if self.settings.require_release_manifest else []
        try:
            manifest = read_manifest(path, self._trusted())
        except LifegateError as exc:
            return [_f("VERIFY-RELEASE-INVALID", exc.message, str(path))]
        findings = self._unrecorded(MANIFEST_KIND, path, sha256_file(path),
                                    manifest_statement(path))
        if manifest.model_root_digest != bundle.root_digest:
            findings.append(_f("VERIFY-RELEASE-MISMATCH", f"{path.name} describes release "
                               f"{manifest.model_root_digest[:12]}, but the model is "
                               f"{bundle.root_digest[:12]}", str(path)))
        for kind in self.settings.required_release_entries:
            if kind not in manifest.entries:
                findings.append(_f("VERIFY-RELEASE-INCOMPLETE", f"the release has no {kind} "
                                   "entry, which the policy requires", str(path)))
        for kind, entry in manifest.entries.items():
            p = Path(entry.uri)
            if p.is_file() and sha256_file(p) != entry.sha256:
                findings.append(_f("VERIFY-RELEASE-EVIDENCE", f"{kind} at {p} changed after "
                                   "it was added to the release", str(p)))
        return findings

    def _result(self, findings: list[Finding], bundle: Bundle, *, trusted: bool,
                extra: list[Subject] | None = None) -> GateResult:
        subject = Subject(name=f"model:{bundle.model_name}", sha256=bundle.root_digest) \
            if trusted else Subject(name=f"signature:{bundle.path.name}", sha256=bundle.sha256)
        return GateResult.from_findings(
            self.id, findings, subjects=[subject, *(extra or [])],
            metrics={"files": float(len(bundle.resources))},
            details={"signature": str(bundle.path), "signature_sha256": bundle.sha256,
                     "hash_type": bundle.hash_type, "signed_model_name": bundle.model_name})
