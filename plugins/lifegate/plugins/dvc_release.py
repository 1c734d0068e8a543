"""LG-RELEASE: is this DVC workspace a releasable model?

Reads ``dvc.yaml``, ``dvc.lock`` and ``*.dvc`` files and checks that the workspace is what
the lock says (every stage ran with today's command and params, no dep or out changed), that
every model the policy names is signed and verifies with a complete release manifest, and
that the gates the policy requires passed for exactly these bytes. Outputs are matched by
SHA-256 computed from the files; DVC's MD5 only finds them and compares them with the lock.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from lifegate.core.gate import GATES, GateSettings
from lifegate.core.hashing import sha256_file
from lifegate.core.model import (
    Evidence,
    Finding,
    GateResult,
    Phase,
    PlatformRef,
    RunContext,
    Subject,
)
from lifegate.core.policy import Policy
from lifegate.plugins._dvc_checks import expand, lock_findings
from lifegate.plugins._dvc_digests import Digests
from lifegate.plugins._dvc_ledger import Found, Previous, Target, scan_ledger
from lifegate.plugins._dvc_models import recheck, target, verify_model, whole_digest
from lifegate.plugins._dvc_project import Project, read_project

__all__ = ["ReleaseCheckGate", "ReleaseSettings", "dvc_platform"]

log = logging.getLogger(__name__)
CHECK_COMMAND = "release-check"


class ReleaseSettings(GateSettings):
    dvc_root: str = Field(default=".", description="the DVC project, relative to the policy")
    pipelines: list[str] = Field(default_factory=lambda: ["dvc.yaml"])
    check_stage: str | None = Field(default=None, description="the stage that runs this "
                                    "check (default: stages whose command runs release-check)")
    models: list[str] = Field(default_factory=list, description="DVC outputs that are models: "
                              "each must be signed and verify")
    require: dict[str, list[str]] = Field(default_factory=dict, description="gate id -> DVC "
                                          "outputs its latest run must have passed on")
    release_entries: list[str] = Field(default_factory=lambda: ["sbom", "disclosure"],
                                       description="entries each model's signed release "
                                       "manifest must hold")
    recheck: list[str] = Field(default_factory=lambda: ["LG-APPROVE"], description="gates "
                               "whose check runs again now, for each model (approvals expire)")
    reuse_digests: bool = True
    report: str = ".lifegate/evidence/LG-RELEASE/release-report.json"


def _f(rule: str, message: str, location: str | None = None,
       provision: str | None = None) -> Finding:
    return Finding(rule=rule, message=message, location=location, provision=provision)


class ReleaseCheckGate:
    id: ClassVar[str] = "LG-RELEASE"
    title: ClassVar[str] = "DVC release check"
    phase: ClassVar[Phase] = Phase.DEPLOYMENT
    # 5.2.4-1.2: each model to release is signed and verifies with its release manifest (the
    # published hashes). Not 5.2.1-1 (dvc.lock is not checked to be a full inventory) nor
    # 5.2.1-2 (a workspace that matches its lock is neither authenticated nor protected); the
    # lock and coverage checks name no provision, so they fail the run's claim.
    provisions: ClassVar[tuple[str, ...]] = ("5.2.4-1.2",)
    Settings: ClassVar[type[ReleaseSettings]] = ReleaseSettings

    def __init__(self, settings: ReleaseSettings, policy: Policy) -> None:
        self.settings = settings
        self.policy = policy

    def _skip(self, project: Project) -> set[str]:
        if self.settings.check_stage:
            return {self.settings.check_stage}
        return {s.name for s in project.stages
                if CHECK_COMMAND in json.dumps(s.cmd or "") and "lifegate" in str(s.cmd)}

    def check(self, context: RunContext) -> GateResult:
        root = self.policy.resolve(context.artifacts.get("dvc_root") or self.settings.dvc_root)
        project = read_project(root, self.settings.pipelines)
        skip = self._skip(project)
        s = self.settings
        named = sorted({*s.models, *(p for ps in s.require.values() for p in ps)})
        findings = self._untracked(project, named)
        files, missing = expand(project, skip, named)
        findings += [_f("RELEASE-MISSING", f"{p} does not exist in the workspace", p)
                     for p in missing if p in named]
        _, previous = scan_ledger(self.policy, [], str(project.root), s.reuse_digests)
        digests = Digests(project.root, *(previous.files, previous.checked_at_ns)
                          if previous else ({}, 0))
        digests.digest(sorted({f for fs in files.values() for f in fs}), lambda rel: findings
                       .append(_f("RELEASE-SYMLINK", f"{rel} is a symlink; the release check "
                                  "hashes no links (use DVC's copy or reflink cache type)",
                                  rel)))
        findings += lock_findings(project, skip, files, digests)
        findings += self._models(context, files, digests)
        findings += self._coverage(project, files, digests)
        pushed = context.artifacts.get("git_commits")
        if pushed:
            from lifegate.plugins._dvc_git import push_findings

            findings += push_findings(project.root, pushed.split(","))
        return self._result(project, files, digests, findings, previous)

    def _models(self, context: RunContext, files: dict[str, list[str]],
                digests: Digests) -> list[Finding]:
        """Each model verifies with a complete release; the recheck gates pass for it now."""
        findings = []
        if not self.settings.models:
            findings.append(_f("RELEASE-NO-MODEL", "the policy names no model to release "
                               "(gates.LG-RELEASE.settings.models)", self.policy.source))
        for model in (m for m in self.settings.models if m in files):
            findings += verify_model(self.policy, context, model, digests,
                                     self.settings.release_entries)
            for gate in self.settings.recheck:
                findings += recheck(self.policy, context, gate, digests.root / model, model)
        return findings

    def _untracked(self, project: Project, named: list[str]) -> list[Finding]:
        return [_f("RELEASE-NOT-TRACKED", f"{p} is named in the policy but is not an output "
                   "of any DVC stage or .dvc file", p) for p in named
                if project.producer(p) is None]

    def _coverage(self, project: Project, files: dict[str, list[str]],
                  digests: Digests) -> list[Finding]:
        findings, targets = [], []
        for gate, paths in sorted(self.settings.require.items()):
            if gate not in GATES:
                findings.append(_f("RELEASE-UNKNOWN-GATE", f"the policy requires gate {gate}, "
                                   "which this lifegate does not have", self.policy.source))
                continue
            targets += [target(gate, p, files[p], digests) for p in paths if p in files]
        found, _ = scan_ledger(self.policy, targets, str(project.root), False)
        for t in targets:
            findings += self._covered(t, found.get((t.gate, t.path)))
        return findings

    @staticmethod
    def _covered(t: Target, hit: Found | None) -> list[Finding]:
        digest = sorted(t.files)[0][:12] if len(t.files) == 1 else f"{len(t.files)} files"
        if hit is None:
            return [_f("RELEASE-GATE-MISSING", f"no {t.gate} run is recorded for {t.path} as "
                       f"it is now (sha256 {digest}); run the {t.gate} stage on it", t.path)]
        if hit.verdict in ("pass", "waived"):
            return []
        why = "; ".join(hit.blocking[:3]) or "see the record"
        return [_f("RELEASE-GATE-FAILED", f"the latest {t.gate} run for {t.path} (ledger "
                   f"record #{hit.seq}) has verdict {hit.verdict}: {why}", t.path)]

    def _result(self, project: Project, files: dict[str, list[str]], digests: Digests,
                findings: list[Finding], previous: Previous | None) -> GateResult:
        subjects = [Subject(name=f"dvc:{p}", sha256=whole_digest(p, fs, digests))
                    for p, fs in sorted(files.items()) if all(f in digests.facts for f in fs)]
        if project.lock_file.is_file():
            subjects.insert(0, Subject(name="dvc.lock", sha256=sha256_file(project.lock_file)))
        result = GateResult.from_findings(
            self.id, findings, subjects=subjects,
            metrics={"files": float(len(digests.facts)), "hashed": float(digests.hashed),
                     "reused": float(digests.reused), "stages": float(len(project.stages))},
            details={"dvc_root": str(project.root), "checked_at_ns": digests.checked_at_ns,
                     "reused_from": previous.seq if previous else None,
                     "files": digests.as_details()})
        return self._report(result)

    def _report(self, result: GateResult) -> GateResult:
        path = self.policy.resolve(self.settings.report)
        path.parent.mkdir(parents=True, exist_ok=True)
        body: dict[str, Any] = result.model_dump(mode="json", exclude={"details"})
        path.write_text(json.dumps(body, indent=2) + "\n")
        evidence = Evidence(kind="release-check", uri=str(path), media_type="application/json",
                            sha256=sha256_file(path))
        return result.model_copy(update={"evidence": [evidence]})



def dvc_platform(root: Path) -> PlatformRef:
    """Where a run inside a DVC project happened: stage (DVC sets DVC_STAGE for commands),
    the lock's sha256 and the git commit."""
    import os

    from lifegate.plugins._dvc_git import git_head

    refs = {"dvc_root": str(root.resolve())}
    if os.environ.get("DVC_STAGE"):
        refs["stage"] = os.environ["DVC_STAGE"]
    lock = root / "dvc.lock"
    if lock.is_file():
        refs["lock_sha256"] = sha256_file(lock)
    return PlatformRef(name="dvc", refs=refs, git_commit=git_head(root))


def lineage_of(policy: Policy, dvc_root: Path | None = None,
               ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Formulation steps and dataset provenance of the project, for LG-SBOM."""
    from lifegate.core._yamlio import validate
    from lifegate.plugins._dvc_lineage import lineage

    s = validate(ReleaseSettings, policy.gate(ReleaseCheckGate.id).settings,
                 Path(f"{policy.source} (gates.LG-RELEASE.settings)"))
    project = read_project(dvc_root or policy.resolve(s.dvc_root), s.pipelines)
    _, previous = scan_ledger(policy, [], str(project.root), s.reuse_digests)
    digests = Digests(project.root, *(previous.files, previous.checked_at_ns)
                      if previous else ({}, 0))
    gate = ReleaseCheckGate(s, policy)
    return lineage(project, digests, set(s.models), gate._skip(project))
