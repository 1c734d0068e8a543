"""Models of the release: LG-VERIFY's checks, fed with the digests the release check already
has, and the digests under which other gates may have recorded an output."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lifegate.core.errors import LifegateError
from lifegate.core.hashing import tree_digest
from lifegate.core.model import Finding, RunContext
from lifegate.core.policy import Policy
from lifegate.gates._modelsig import Bundle, Listing
from lifegate.gates.verify import VerifyGate, VerifySettings
from lifegate.plugins._dvc_digests import Digests
from lifegate.plugins._dvc_ledger import Target

__all__ = ["recheck", "target", "verify_model", "whole_digest"]


class _CachedVerify(VerifyGate):
    """LG-VERIFY, but SHA-256 file digests come from the release check's digest table."""

    def __init__(self, settings: VerifySettings, policy: Policy, digests: Digests) -> None:
        super().__init__(settings, policy)
        self.digests = digests

    def _hash(self, model: Path, listing: Listing, bundle: Bundle) -> dict[str, str]:
        root = self.digests.root
        known = {name: self.digests.facts.get(p.resolve().relative_to(root).as_posix())
                 for name, p in listing.files.items()}
        if bundle.hash_type == "sha256" and all(known.values()):
            return {name: f.sha256 for name, f in known.items() if f is not None}
        return super()._hash(model, listing, bundle)


def verify_model(policy: Policy, context: RunContext, model: str, digests: Digests,
                 entries: list[str]) -> list[Finding]:
    """LG-VERIFY's verdict on one model, its findings named after the model."""
    from lifegate.core._yamlio import validate

    raw = dict(policy.gate("LG-VERIFY").settings)
    raw["required_release_entries"] = sorted({*raw.get("required_release_entries", []),
                                              *entries})
    raw["require_release_manifest"] = True
    settings = validate(VerifySettings, raw, Path(f"{policy.source} (gates.LG-VERIFY)"))
    path = digests.root / model
    ctx = context.model_copy(update={"artifacts": {"model": str(path)}})
    try:
        result = _CachedVerify(settings, policy, digests).check(ctx)
    except LifegateError as exc:
        return [Finding(rule="RELEASE-UNSIGNED", location=model, provision="5.2.4-1.2",
                        message=f"model {model} cannot be verified: {exc.message}")]
    return [f.model_copy(update={"message": f"model {model}: {f.message}"})
            for f in result.findings]


def recheck(policy: Policy, context: RunContext, gate_id: str, path: Path,
            model: str) -> list[Finding]:
    """Run a gate's check again now for this model (not recorded on its own): its blocking
    findings, or why it could not run."""
    from lifegate.core.gate import load_gate

    ctx = context.model_copy(update={"artifacts": {"model": str(path)}})
    try:
        result = load_gate(gate_id, policy).check(ctx)
    except LifegateError as exc:
        return [Finding(rule="RELEASE-RECHECK", location=model, message=f"{gate_id} for "
                        f"model {model} cannot pass: {exc.message}")]
    return [f.model_copy(update={"message": f"{gate_id} for model {model}: {f.message}"})
            for f in result.blocking_findings()]


def target(gate: str, path: str, files: list[str], digests: Digests) -> Target:
    """Every digest under which a gate may have named this output: the file's sha256; for a
    folder the inventory's tree digest; the OpenSSF model root digest; or each file."""
    facts = [digests.facts[f] for f in files if f in digests.facts]
    shas = [f.sha256 for f in facts]
    whole = {hashlib.sha256(b"".join(bytes.fromhex(s) for s in shas)).hexdigest()}
    if files == [path]:
        whole |= set(shas)
    else:
        prefix = path.rstrip("/") + "/"
        whole.add(tree_digest((f, s) for f, s in zip(files, shas, strict=True)))
        whole.add(tree_digest((f.removeprefix(prefix), s)
                              for f, s in zip(files, shas, strict=True)))
    return Target(gate, path, frozenset(whole), frozenset(shas))


def whole_digest(path: str, files: list[str], digests: Digests) -> str:
    """One digest for an output: the file's sha256, or a folder's tree digest."""
    if files == [path]:
        return digests.facts[path].sha256
    prefix = path.rstrip("/") + "/"
    return tree_digest((f.removeprefix(prefix), digests.facts[f].sha256) for f in files)
