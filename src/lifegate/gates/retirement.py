"""LG-RETIRE: retire a model or system by an approved plan, prove it, and survive a crash.

A run checks everything before it touches anything: the plan's approval by a data custodian
(LG-APPROVE records for the plan's exact digest), every asset inside the declared roots, no
symlinks, every file exactly as planned. A dry run (the default) stops there and says what
would happen. An executing run then journals each step in the ledger before and after it:
revoke the model's signature, dispose / transfer / retain each asset, verify that no file with
a disposed digest remains, and issue a signed disposal certificate. Killed at any point and
started again with the same plan, it skips what the journal shows done, repeats what was
started (every step is safe to repeat), and finishes with a complete certificate.
"""

from __future__ import annotations

import getpass
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from lifegate.core.errors import ConfigError
from lifegate.core.gate import GateSettings
from lifegate.core.model import Evidence, Finding, GateResult, Phase, RunContext, Severity, Subject
from lifegate.core.policy import Policy
from lifegate.evidence.ledger import Ledger, open_ledger
from lifegate.evidence.statement import PredicateType, revocation_statement, statement
from lifegate.gates import _retire_ops as ops
from lifegate.gates._retire_plan import Asset, Plan, digest_files, load_plan

log = logging.getLogger(__name__)

PLAN_SUBJECT = "retirement-plan"
# Evidenced only by an executed run, whose certificate shows the disposal: 5.5.1-2 (a model
# or system decommissioned with the custodians' approval, its data erased), and 5.5.1-1 when
# the plan hands assets over (transfer). A dry run changes nothing and claims neither.
P_TRANSFER, P_DECOMMISSION = "5.5.1-1", "5.5.1-2"


class RetireSettings(GateSettings):
    plan: str = "retirement.yaml"
    execute: bool = False
    out_dir: str = ".lifegate/retirement"
    approver_roles: list[str] = Field(default_factory=lambda: ["data_custodian"])
    quorum: int = Field(default=1, ge=1)
    actor: str | None = None


@dataclass
class Journal:
    """The steps of one plan's retirement as recorded in the ledger."""

    ledger: Ledger
    plan: Plan
    digest: str
    actor: str
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)  # step -> phase -> result

    def load(self) -> Journal:
        for entry in self.ledger.entries(PredicateType.RETIREMENT):
            if entry.subjects.get(f"{PLAN_SUBJECT}:{self.plan.system}") == self.digest:
                p = entry.predicate
                self.steps.setdefault(p["step"], {})[p["phase"]] = {
                    **p.get("result", {}), "_at": p["at"], "_seq": entry.seq}
        return self

    def done(self, step: str) -> dict[str, Any] | None:
        return self.steps.get(step, {}).get("done")

    def started(self, step: str) -> bool:
        return "start" in self.steps.get(step, {})

    def write(self, step: str, phase: str, result: dict[str, Any] | None = None) -> None:
        at = datetime.now(UTC).isoformat()
        stmt = statement([{"name": f"{PLAN_SUBJECT}:{self.plan.system}",
                           "digest": {"sha256": self.digest}}], PredicateType.RETIREMENT,
                         {"system": self.plan.system, "step": step, "phase": phase, "at": at,
                          "actor": self.actor, "result": result or {}})
        ref = self.ledger.append(stmt, PredicateType.RETIREMENT)
        self.steps.setdefault(step, {})[phase] = {**(result or {}), "_at": at, "_seq": ref.seq}
        step_reached(f"{step}:{phase}")


def step_reached(point: str) -> None:
    """Called at each point where a run may be interrupted: after each journal record
    (``asset:model-1:start``, ``revoke:done``) and after each action, before its ``done``
    record (``asset:model-1:acted``). It only logs; it is the place where a supervisor that
    embeds lifegate, or a crash-safety test in a process of its own, observes the run."""
    log.debug("LG-RETIRE: reached %s", point)


def _f(rule: str, message: str, where: str | None = None) -> Finding:
    return Finding(rule=rule, message=message, location=where, severity=Severity.CRITICAL,
                   provision=P_DECOMMISSION)


class RetireGate:
    id: ClassVar[str] = "LG-RETIRE"
    title: ClassVar[str] = "Secure retirement with a disposal certificate"
    phase: ClassVar[Phase] = Phase.END_OF_LIFE
    provisions: ClassVar[tuple[str, ...]] = (P_TRANSFER, P_DECOMMISSION)
    Settings: ClassVar[type[RetireSettings]] = RetireSettings

    def __init__(self, settings: RetireSettings, policy: Policy) -> None:
        self.settings = settings
        self.policy = policy

    def check(self, context: RunContext) -> GateResult:
        path = self.policy.resolve(context.artifacts.get("plan") or self.settings.plan)
        plan = load_plan(path)
        if plan.system != self.policy.system.name:
            raise ConfigError(f"the plan is for system {plan.system!r}, the policy for "
                              f"{self.policy.system.name!r}", where=str(path))
        digest = plan.digest()
        ledger = open_ledger(self.policy)
        if ledger.signer is None:
            raise ConfigError("retirement journals and certificates must be signed, and the "
                              "policy has no signing key", fix="run `lifegate keys generate`")
        actor = self.settings.actor or context.actor or getpass.getuser()
        journal = Journal(ledger, plan, digest, actor).load()
        findings, approvals = self._preflight(plan, digest, journal)
        subjects = [Subject(name=f"{PLAN_SUBJECT}:{plan.system}", sha256=digest)]
        details: dict[str, Any] = {"plan": str(path), "plan_digest": digest,
                                   "approvals": approvals, "actions": _actions(plan, self)}
        if findings or not self.settings.execute:
            details["dry_run"] = not self.settings.execute
            return GateResult.from_findings(self.id, findings, subjects=subjects,
                                            details=details, provisions=[])
        run = Execution(self, plan, journal, approvals)
        cert = run.run()
        details.update(certificate=str(cert.json_path), verified=cert.verified,
                       resumed=run.resumed)
        findings = [] if cert.verified else [_f(
            "RETIRE-REMAINS", f"{len(cert.remaining)} file(s) with a disposed digest remain: "
            + ", ".join(r["path"] for r in cert.remaining[:5]))]
        transfers = any(a.action == "transfer" for a in plan.assets)
        return GateResult.from_findings(
            self.id, findings, subjects=subjects + cert.subjects, evidence=cert.evidence,
            provisions=[P_TRANSFER, P_DECOMMISSION] if transfers else [P_DECOMMISSION],
            metrics={"assets": float(len(plan.assets)), "files_disposed": float(cert.disposed)},
            details=details)

    def roots(self, plan: Plan) -> list[Path]:
        """The declared roots as written, ``..`` folded by name (never resolved through a
        link: none may be one, nor lie below one)."""
        return [Path(os.path.normpath(self.policy.resolve(r))) for r in plan.roots]

    def places(self, plan: Plan) -> list[tuple[str, Path]]:
        """Every folder a run touches or searches, for the no-symlink check."""
        out = [("root", p) for p in self.roots(plan)]
        named = [("search place", s) for s in plan.search]
        if plan.dvc is not None:
            named += [("DVC repository", plan.dvc.repo),
                      *(("DVC remote", r) for r in plan.dvc.remotes)]
        return out + [(what, Path(os.path.normpath(self.policy.resolve(p))))
                      for what, p in named]

    def _preflight(self, plan: Plan, digest: str, journal: Journal
                   ) -> tuple[list[Finding], list[dict[str, Any]]]:
        """Nothing is touched unless all of this holds; steps already started are skipped."""
        findings, approvals = self._approved(digest)
        findings += ops.check_places(self.policy.base_dir, self.places(plan))
        roots = self.roots(plan)
        for asset in plan.assets:
            if journal.started(f"asset:{asset.id}"):
                continue
            p = self.policy.resolve(asset.path)
            current = digest_files(p) if os.path.lexists(p) else None
            findings += ops.check_asset(asset.id, p, asset.files, roots, current)
            if asset.action == "transfer" and asset.destination and ops.inside(
                    self.policy.resolve(asset.destination), [p.resolve()]):
                findings.append(_f("RETIRE-TRANSFER-INTO-SELF", f"asset {asset.id}: the "
                                   "destination lies inside the asset", asset.destination))
        return findings, approvals

    def _approved(self, digest: str) -> tuple[list[Finding], list[dict[str, Any]]]:
        from lifegate.core.gate import load_gate
        from lifegate.evidence.approvals import (
            QuorumRules,
            approvals_for,
            check_quorum,
            latest_request,
        )

        approve = load_gate("LG-APPROVE", self.policy)
        subjects = {PLAN_SUBJECT: digest}
        request = latest_request(self.policy, subjects)
        requester = str(request.predicate.get("requestedBy")) if request else None
        rules = QuorumRules(tuple(self.settings.approver_roles), self.settings.quorum, True,
                            timedelta(days=approve.settings.max_validity_days))  # type: ignore[attr-defined]
        quorum = check_quorum(approvals_for(self.policy, subjects), subjects, requester,
                              approve.approvers(), rules)  # type: ignore[attr-defined]
        counted = [{"approver": a.record.approver, "role": a.record.role, "seq": a.seq,
                    "decided_at": a.record.decided_at.isoformat()}
                   for a in quorum.counted if a.record]
        findings = [f.model_copy(update={"rule": f.rule.replace("APPROVE", "RETIRE-APPROVAL"),
                                         "provision": P_DECOMMISSION}) for f in quorum.findings]
        if request is None:
            findings.append(_f("RETIRE-APPROVAL-NO-REQUEST", "no approval was requested for "
                               "this plan; run `lifegate retire request PLAN`"))
        return findings, counted


def _actions(plan: Plan, gate: RetireGate) -> list[dict[str, Any]]:
    out = []
    for a in plan.assets:
        item: dict[str, Any] = {"id": a.id, "kind": a.kind, "action": a.action,
                                "path": str(gate.policy.resolve(a.path)), "files": len(a.files)}
        if a.destination:
            item["destination"] = str(gate.policy.resolve(a.destination))
        out.append(item)
    return out


@dataclass
class Certificate:
    json_path: Path
    verified: bool
    remaining: list[dict[str, str]]
    disposed: int
    evidence: list[Evidence]
    subjects: list[Subject]


class Execution:
    """The journaled steps of one run (fresh or resumed)."""

    def __init__(self, gate: RetireGate, plan: Plan, journal: Journal,
                 approvals: list[dict[str, Any]]) -> None:
        self.gate, self.plan, self.journal, self.approvals = gate, plan, journal, approvals
        self.policy = gate.policy
        self.resumed = journal.done("preflight") is not None

    def run(self) -> Certificate:
        j = self.journal
        if not self.resumed:
            j.write("preflight", "done", {"sizes": self._sizes(), "approvals": self.approvals})
        else:
            log.info("LG-RETIRE: resuming plan %s", j.digest[:12])
        self._step("revoke", self._revoke)
        for asset in self.plan.assets:
            self._step(f"asset:{asset.id}", lambda a=asset: self._asset(a))
        absence = self._step("verify-absence", self._absence)
        from lifegate.gates._retire_cert import issue

        return issue(self, absence)

    def _step(self, step: str, action: Any) -> dict[str, Any]:
        done = self.journal.done(step)
        if done is not None:
            return done
        self.journal.write(step, "start")
        result: dict[str, Any] = action()
        step_reached(f"{step}:acted")
        self.journal.write(step, "done", result)
        return result

    def _sizes(self) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for a in self.plan.assets:
            base = self.policy.resolve(a.path)
            for rel, digest in a.files.items():
                sizes[digest] = os.lstat(base if rel == "." else base / rel).st_size
        return sizes

    def _revoke(self) -> dict[str, Any]:
        if not self.plan.model:
            return {"revoked": None, "note": "the plan names no model"}
        from lifegate.gates._modelsig import read_bundle

        model = self.policy.resolve(self.plan.model)
        sig = model.parent / f"{model.name}.sig"
        if not sig.exists():
            return {"revoked": None, "note": f"no signature at {sig}; nothing to revoke"}
        digest = read_bundle(sig).root_digest
        ref = self.journal.ledger.append(revocation_statement(
            system=self.plan.system, name="model", digest=digest, by=self.journal.actor,
            reason=f"retired by plan {self.journal.digest[:12]}"), PredicateType.REVOCATION)
        return {"revoked": digest, "seq": ref.seq}

    def _asset(self, asset: Asset) -> dict[str, Any]:
        path = self.policy.resolve(asset.path)
        if asset.action == "retain":
            assert asset.retain is not None
            return {"action": "retain", **asset.retain.model_dump(mode="json")}
        result: dict[str, Any] = {"action": asset.action, "location": str(path)}
        if asset.action == "transfer":
            assert asset.destination is not None
            dest = self.policy.resolve(asset.destination)
            found = ops.transfer(path, dest, asset.files)
            ref = self.journal.ledger.append(statement(
                [{"name": f"transfer:{asset.id}", "digest": {"sha256": d}}
                 for d in sorted(set(found.values()))], PredicateType.TRANSFER,
                {"system": self.plan.system, "asset": asset.id, "from": str(path),
                 "to": str(dest), "files": found, "by": self.journal.actor}),
                PredicateType.TRANSFER)
            result.update(destination=str(dest), transfer_seq=ref.seq)
        root = ops.holder(path, self.gate.roots(self.plan))
        if root is None:  # checked by the preflight; a plan edited since has a new digest
            raise ConfigError(f"asset {asset.id}: {path} is outside the declared roots")
        result["files_disposed"] = ops.dispose(path, root)
        result["absent"] = not os.path.lexists(path)
        return result

    def _absence(self) -> dict[str, Any]:
        sizes: dict[str, int] = self.journal.done("preflight")["sizes"]  # type: ignore[index]
        gone = {d for a in self.plan.assets if a.action != "retain" for d in a.files.values()}
        disposed = {d: s for d, s in sizes.items() if d in gone}
        retained = {self.policy.resolve(a.path) for a in self.plan.assets
                    if a.action == "retain"}
        places = [p for _, p in self.gate.places(self.plan)]  # no links: the preflight checked
        absence = ops.find_remaining(_outermost(places), disposed, retained)
        return {"searched": absence.searched, "files_seen": absence.files_seen,
                "files_hashed": absence.files_hashed, "remaining": absence.remaining,
                "verified": absence.verified, "digests_checked": len(disposed)}


def _outermost(places: list[Path]) -> list[Path]:
    """Drop places inside other places, so no file is counted twice."""
    unique = sorted(set(places), key=lambda p: len(p.parts))
    return [p for i, p in enumerate(unique) if not any(q in p.parents for q in unique[:i])]


def record_plan_decision(policy: Policy, plan_path: Path, approver: str, signer: Any,
                         decision: Literal["approve", "reject"], comment: str = "",
                         ) -> tuple[Any, str]:
    """A data custodian's signed decision on this exact plan (its digest), in the ledger.

    The approver must be configured under LG-APPROVE with a public key, hold one of LG-RETIRE's
    approver roles, and sign with that key. Returns the ledger record and the plan digest."""
    from lifegate.core.errors import KeyMaterialError
    from lifegate.core.gate import load_gate
    from lifegate.evidence.approvals import record_decision
    from lifegate.evidence.keys import fingerprint

    digest = load_plan(plan_path).digest()
    gate = load_gate("LG-APPROVE", policy)
    roles = load_gate("LG-RETIRE", policy).settings.approver_roles  # type: ignore[attr-defined]
    person = gate.approvers().get(approver)  # type: ignore[attr-defined]
    if person is None:
        raise ConfigError(f"{approver} is not a configured approver",
                          fix="add them under gates.LG-APPROVE.settings.approvers")
    role = next((r for r in roles if r in person.roles), None)
    if role is None:
        raise ConfigError(f"{approver} is not a {' or '.join(r.replace('_', ' ') for r in roles)}"
                          f" (roles: "
                          f"{', '.join(person.roles) or 'none'})",
                          fix=f"add them to roles.{roles[0]} in the policy")
    if fingerprint(person.key) != signer.keyid:
        raise KeyMaterialError(f"the key given is not {approver}'s approver key")
    days = gate.settings.max_validity_days  # type: ignore[attr-defined]
    ref, _ = record_decision(policy, signer=signer, approver=approver, role=role,
                             decision=decision, subjects={PLAN_SUBJECT: digest},
                             comment=comment, valid_for=timedelta(days=days))
    return ref, digest
