"""LG-APPROVE: a named human takes responsibility for the exact release.

The gate passes only with valid, unexpired, approver-signed approvals for the current digests
(model root digest, SBOM, disclosure, ... as ``bind`` says, read from the signed release
manifest), from every required role, reaching the quorum, none by the person who requested
the release (separation of duties), and no standing rejection. The records themselves are made
by :mod:`lifegate.evidence.approvals`; :meth:`ApprovalGate.decide` is the call a front end
(the CLI, an Airflow human-in-the-loop task) makes after it has identified the person.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from lifegate.core.engine import RecordRef
from lifegate.core.errors import ConfigError, KeyMaterialError
from lifegate.core.gate import GateSettings
from lifegate.core.model import Finding, GateResult, Phase, RunContext, Subject
from lifegate.core.policy import Policy
from lifegate.evidence.approvals import (
    Approver,
    Decision,
    QuorumRules,
    approvals_for,
    check_quorum,
    latest_request,
    people_keys,
    record_decision,
    request_approval,
    write_approval_file,
)
from lifegate.evidence.keys import Signer, fingerprint, load_public_key
from lifegate.evidence.ledger import open_ledger, trusted_keys
from lifegate.evidence.release import add_entry, manifest_path, read_manifest
from lifegate.gates.disclosure import release_model


class ApproverConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    public_key: str = Field(description="path to the approver's PEM public key (P-256)")
    fingerprint: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class ApproveSettings(GateSettings):
    model: str | None = None
    bind: list[str] = Field(default_factory=lambda: ["model", "sbom", "disclosure"],
                            min_length=1, description="'model' and release manifest entries")
    required_roles: list[str] = Field(default_factory=lambda: ["system_operator"])
    quorum: int = Field(default=1, ge=1)
    separation_of_duties: bool = True
    max_validity_days: int = Field(default=30, gt=0)
    approvers: list[ApproverConfig] = Field(default_factory=list)
    roles: dict[str, list[str]] = Field(default_factory=dict,
                                        description="roles beyond policy.roles: role -> people")
    approvals_dir: str = ".lifegate/approvals"


# Every check here is about the effective oversight of this release (5.1.4-3): signed,
# unexpired approvals by the required roles for these exact digests block it until given.
# Not 5.1.4-1: approving a release is not an oversight capability built into the system.
CHECKED: dict[str, tuple[str, ...]] = {"5.1.4-3": ()}


def _f(rule: str, message: str, location: str | None = None) -> Finding:
    return Finding(rule=rule, message=message, location=location, provision="5.1.4-3")


class ApprovalGate:
    id: ClassVar[str] = "LG-APPROVE"
    title: ClassVar[str] = "Human approval of the exact release"
    phase: ClassVar[Phase] = Phase.DEPLOYMENT
    provisions: ClassVar[tuple[str, ...]] = ("5.1.4-3",)
    Settings: ClassVar[type[ApproveSettings]] = ApproveSettings

    def __init__(self, settings: ApproveSettings, policy: Policy) -> None:
        self.settings = settings
        self.policy = policy

    def rules(self) -> QuorumRules:
        s = self.settings
        return QuorumRules(tuple(s.required_roles), s.quorum, s.separation_of_duties,
                           timedelta(days=s.max_validity_days))

    def approvers(self) -> dict[str, Approver]:
        """Approvers with their keys and roles (policy.roles and settings.roles): the people
        the policy lists (``people``), and the gate's own ``approvers`` setting, which wins
        for a name in both."""
        keys = people_keys(self.policy)
        for a in self.settings.approvers:
            key = load_public_key(self.policy.resolve(a.public_key))
            if a.fingerprint and a.fingerprint != fingerprint(key):
                raise KeyMaterialError(f"approver {a.name}: the fingerprint in the policy does "
                                       f"not match {a.public_key}", where=self.policy.source)
            keys[a.name] = key
        out = {}
        for name, key in keys.items():
            roles = {*self.policy.roles.of(name),
                     *(r for r, people in self.settings.roles.items() if name in people)}
            out[name] = Approver(name, key, tuple(sorted(roles)))
        return out

    def release(self, context: RunContext | None = None) -> tuple[Path, dict[str, str],
                                                                  list[Finding]]:
        """The release manifest and the current digests of the bound subjects."""
        from lifegate.core.engine import make_context

        ctx = context or make_context(self.policy, self.phase)
        model = release_model(self.policy, ctx, self.settings.model)
        if model is None:
            raise ConfigError("no model given and no LG-SIGN run recorded",
                              fix="pass the model path, or sign the model first")
        path = manifest_path(model)
        manifest = read_manifest(path, trusted_keys(self.policy))
        subjects, findings = {}, []
        for kind in self.settings.bind:
            if kind == "model":
                subjects[kind] = manifest.model_root_digest
            elif kind in manifest.entries:
                subjects[kind] = manifest.entries[kind].sha256
            else:
                findings.append(_f("APPROVE-SUBJECT-MISSING", f"the release has no {kind} "
                                   f"entry to approve; produce it first, or remove '{kind}' "
                                   "from the gate's bind setting", str(path)))
        return path, subjects, findings

    def check(self, context: RunContext) -> GateResult:
        path, subjects, findings = self.release(context)
        result_subjects = [Subject(name=k, sha256=v) for k, v in sorted(subjects.items())]
        if findings:
            return GateResult.from_findings(self.id, findings, subjects=result_subjects,
                                            checked=CHECKED)
        ledger = open_ledger(self.policy)
        request = latest_request(self.policy, subjects, ledger)
        requester = str(request.predicate.get("requestedBy")) if request else None
        if request is None and self.settings.separation_of_duties:
            findings.append(_f("APPROVE-NO-REQUEST", "no approval request is recorded for "
                               "these digests, so separation of duties cannot be checked; "
                               "run `lifegate approval request`", str(path)))
        quorum = check_quorum(approvals_for(self.policy, subjects, ledger), subjects,
                              requester, self.approvers(), self.rules())
        counted = [{"approver": a.record.approver, "role": a.record.role, "seq": a.seq,
                    "expires": a.record.expires.isoformat()} for a in quorum.counted if a.record]
        return GateResult.from_findings(
            self.id, findings + quorum.findings, subjects=result_subjects, checked=CHECKED,
            metrics={"approvals_counted": float(len(counted)),
                     "quorum": float(self.settings.quorum)},
            details={"requested_by": requester, "approvals": counted,
                     "request_seq": request.seq if request else None})

    def request(self, requested_by: str, note: str = "",
                context: RunContext | None = None) -> tuple[RecordRef, dict[str, str]]:
        """Record a request to approve the current release (fails if it is incomplete)."""
        _, subjects, problems = self.release(context)
        _raise(problems)
        return request_approval(self.policy, subjects, requested_by, note), subjects

    def decide(self, *, approver: str, signer: Signer, decision: Decision, comment: str,
               role: str | None = None, valid_days: int | None = None,
               front_end: str = "cli", context: RunContext | None = None
               ) -> tuple[RecordRef, Path]:
        """Check the person, sign and record the decision, bind it to the release."""
        person = self._person(approver, signer)
        role = self._role(person, role)
        days = valid_days or self.settings.max_validity_days
        if not 0 < days <= self.settings.max_validity_days:
            raise ConfigError(f"an approval may be valid for 1 to "
                              f"{self.settings.max_validity_days} days, not {days}")
        path, subjects, problems = self.release(context)
        _raise(problems)
        ledger = open_ledger(self.policy)
        ref, env = record_decision(self.policy, signer=signer, approver=approver, role=role,
                                   decision=decision, subjects=subjects, comment=comment,
                                   valid_for=timedelta(days=days), front_end=front_end,
                                   ledger=ledger)
        file = write_approval_file(env, self.policy.resolve(self.settings.approvals_dir),
                                   f"{subjects['model'][:12] if 'model' in subjects else 'release'}"
                                   f"-{ref.seq}-{approver}-{decision}.json")
        if self.policy.keys.signing_key:
            system = Signer.from_file(self.policy.resolve(self.policy.keys.signing_key))
            add_entry(path, f"approval-{approver}", file, system, trusted_keys(self.policy),
                      ledger, media_type="application/vnd.in-toto+json")
        return ref, file

    def _person(self, name: str, signer: Signer) -> Approver:
        person = self.approvers().get(name)
        if person is None:
            raise ConfigError(f"{name} is not a configured approver",
                              where=f"{self.policy.source} (people, or "
                              "gates.LG-APPROVE.settings.approvers)",
                              fix="list them with their public key under people:")
        if fingerprint(person.key) != signer.keyid:
            raise KeyMaterialError(f"the key given is not {name}'s approver key "
                                   f"({fingerprint(person.key)[:12]})",
                                   fix=f"sign with {name}'s own private key")
        return person

    def _role(self, person: Approver, role: str | None) -> str:
        if role is None:
            wanted = [r for r in self.settings.required_roles if r in person.roles]
            role = wanted[0] if len(wanted) == 1 else None
        if role is None or role not in person.roles:
            held = ", ".join(person.roles) or "no role"
            raise ConfigError(f"{person.name} holds {held}; name the role to decide as "
                              f"(--role){'' if role is None else f', not {role}'}",
                              fix="roles come from policy.roles and the gate's roles setting")
        return role


def _raise(problems: list[Finding]) -> None:
    if problems:
        raise ConfigError("the release is not complete: " +
                          "; ".join(p.message for p in problems),
                          where=problems[0].location)
