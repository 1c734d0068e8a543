"""LG-INV: asset inventory. SHA-256 of every model, dataset, config and prompt the policy
names, streamed and hashed on all cores, with what changed since the previous run.

Each declared path is one subject, named and digested as every gate names and digests it
(:func:`lifegate.core.hashing.subject_name`, :func:`~lifegate.core.hashing.subject_digest`):
a file by the SHA-256 of its bytes, a folder by its tree digest."""

from __future__ import annotations

import logging
from typing import ClassVar

from pydantic import Field

from lifegate.core import progress
from lifegate.core.gate import GateSettings
from lifegate.core.hashing import hash_files, regular_files, subject_digest, subject_name
from lifegate.core.model import Finding, GateResult, Phase, RunContext, Severity, Subject
from lifegate.core.policy import Policy

log = logging.getLogger(__name__)

ASSET_KINDS = ("models", "datasets", "configs", "prompts")
# 5.2.4-3: every run records the digest of each config and prompt file, and what changed
# since the previous run, in the signed ledger: a log of the edits that reached a run. Claimed
# only when the policy names configs or prompts. Not 5.2.1-1 (the inventory has no
# interdependencies of the assets) nor 5.2.1-2 (digests neither authenticate nor protect).
P_PROMPTS = "5.2.4-3"
# What fails each provision's own checks (see lifegate.core.model.provision_checks).
CHECKED: dict[str, tuple[str, ...]] = {P_PROMPTS: ()}


class InventorySettings(GateSettings):
    models: list[str] = Field(default_factory=list)
    datasets: list[str] = Field(default_factory=list)
    configs: list[str] = Field(default_factory=list)
    prompts: list[str] = Field(default_factory=list)
    allow_empty: bool = False


class InventoryGate:
    id: ClassVar[str] = "LG-INV"
    title: ClassVar[str] = "Asset inventory"
    phase: ClassVar[Phase] = Phase.DEVELOPMENT
    provisions: ClassVar[tuple[str, ...]] = (P_PROMPTS,)
    Settings: ClassVar[type[InventorySettings]] = InventorySettings

    def __init__(self, settings: InventorySettings, policy: Policy) -> None:
        self.settings = settings
        self.policy = policy

    def _assets(self) -> list[tuple[str, str]]:
        return [(kind, p) for kind in ASSET_KINDS for p in getattr(self.settings, kind)]

    def check(self, context: RunContext) -> GateResult:
        assets = self._assets()
        if not assets:
            return GateResult.from_findings(self.id, [Finding(
                rule="INV-EMPTY-POLICY", message="the policy names no assets to inventory",
                location=f"{self.policy.source}: gates.LG-INV.settings")])
        base = self.policy.base_dir
        roots = [(kind, declared, self.policy.resolve(declared)) for kind, declared in assets]
        listed = [(i, p) for i, (_, _, root) in enumerate(roots) for p in regular_files(root)]
        total_bytes = sum(p.stat().st_size for _, p in listed)
        with progress.task("hashing assets", total_bytes) as advance:
            digests = hash_files([p for _, p in listed], progress=advance)  # one pool for all
        per_root: list[dict[str, str]] = [{} for _ in roots]
        known: list[dict[str, str]] = [{} for _ in roots]  # by path relative to the root
        for (i, _), d in zip(listed, digests, strict=True):
            per_root[i][subject_name(d.path, base)] = d.sha256
            known[i][d.path.relative_to(roots[i][2]).as_posix()] = d.sha256
        manifest: dict[str, dict[str, str]] = {}
        kinds: dict[str, str] = {}
        subjects, findings = [], []
        for (kind, declared, root), entries, done in zip(roots, per_root, known, strict=True):
            if not entries and not self.settings.allow_empty:
                findings.append(Finding(rule="INV-EMPTY-ASSET", location=declared,
                                        provision=P_PROMPTS if kind in ("configs", "prompts")
                                        else None,
                                        message=f"{kind[:-1]} {declared} contains no files"))
            name = subject_name(root, base)
            manifest[name], kinds[name] = entries, kind[:-1]
            subjects.append(Subject(name=name, sha256=subject_digest(root, done)))
        total = sum(d.size for d in digests)
        log.info("LG-INV: %d files, %d bytes hashed", len(digests), total)
        changes = self._changes(manifest)
        findings.extend(changes)
        claimed = [P_PROMPTS] if self.settings.configs or self.settings.prompts else []
        return GateResult.from_findings(
            self.id, findings, subjects=subjects, provisions=claimed,
            checked={p: CHECKED[p] for p in claimed},
            metrics={"files": float(sum(len(v) for v in manifest.values())),
                     "bytes": float(total), "changed": float(len(changes))},
            details={"manifest": manifest, "kinds": kinds},
        )

    def _changes(self, manifest: dict[str, dict[str, str]]) -> list[Finding]:
        from lifegate.evidence.ledger import latest_result

        prev_entry = latest_result(self.policy, self.id)
        if prev_entry is None:
            return []
        prev: dict[str, dict[str, str]] = prev_entry.predicate["result"]["details"].get(
            "manifest", {})
        out = []
        old = {f: d for files in prev.values() for f, d in files.items()}
        new = {f: d for files in manifest.values() for f, d in files.items()}
        for f in sorted(old.keys() | new.keys()):
            how = ("added" if f not in old else "removed" if f not in new
                   else "changed" if old[f] != new[f] else None)
            if how:
                out.append(Finding(rule=f"INV-{how.upper()}", severity=Severity.INFO,
                                   blocking=False, location=f,
                                   message=f"{f} {how} since record #{prev_entry.seq}"))
        return out

