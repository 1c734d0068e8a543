"""Conformity per EN 304 223 provision, computed from the ledger only."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lifegate.catalog import Catalog, Modal, Provision, load_catalog
from lifegate.core.model import Finding, Phase, Verdict
from lifegate.core.policy import Policy
from lifegate.evidence.approvals import attestation_problem
from lifegate.evidence.ledger import Entry
from lifegate.evidence.statement import PredicateType

__all__ = ["ConformityReport", "EvidenceRef", "ProvisionStatus", "Status", "evaluate"]


class Status(enum.StrEnum):
    MET = "met"
    ATTESTED = "attested"
    WAIVED = "waived"
    FAILED = "failed"
    MISSING = "missing"
    NOT_APPLICABLE = "not-applicable"
    STALE = "stale"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EvidenceRef(_Model):
    seq: int
    kind: str
    recorded_at: datetime
    record_hash: str
    gate_id: str | None = None
    verdict: str | None = None
    by: str | None = None
    note: str = ""


class ProvisionStatus(_Model):
    id: str
    principle: int
    phase: Phase
    modal: Modal
    summary: str
    required: bool
    status: Status
    reason: str
    evidence: list[EvidenceRef] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)


class ConformityReport(_Model):
    standard: str
    system: str
    system_version: str
    generated_at: datetime
    ledger: str
    ledger_head: int
    ledger_head_hash: str
    release: str | None = None
    provisions: list[ProvisionStatus]
    counts: dict[str, int]
    blocking: list[str] = Field(description="required provisions whose status fails the report")
    fail_on: list[str]

    @property
    def passed(self) -> bool:
        return not self.blocking


# Provisions a platform's recorded events (the Airflow listener's audit trail) give evidence for.
AUDIT_TRAIL_PROVISIONS = frozenset({"5.4.2-1"})


class _Index:
    """One pass over the ledger: the latest of each kind of evidence per gate and provision."""

    def __init__(self, entries: Iterable[Entry], system: str) -> None:
        self.gate_runs: dict[str, Entry] = {}
        self.attestations: dict[str, Entry] = {}
        self.not_applicable: dict[str, Entry] = {}
        self.platform_events: list[Entry] = []
        self.head = (0, "0" * 64)
        for e in entries:
            self.head = (e.seq, e.record_hash)
            pred = e.predicate
            if e.kind == PredicateType.GATE_RUN.kind:
                if pred.get("context", {}).get("system") == system:
                    self.gate_runs[pred["result"]["gate_id"]] = e
            elif pred.get("system") == system and e.kind == PredicateType.ATTESTATION.kind:
                self.attestations[pred["provision"]] = e
            elif pred.get("system") == system and e.kind == PredicateType.NOT_APPLICABLE.kind:
                self.not_applicable[pred["provision"]] = e
            elif pred.get("system") == system and e.kind == PredicateType.PLATFORM_EVENT.kind:
                self.platform_events.append(e)
        inv = self.gate_runs.get("LG-INV")
        self.current: dict[str, str] = inv.subjects if inv else {}


def _ref(e: Entry, note: str = "") -> EvidenceRef:
    p = e.predicate
    result = p.get("result", {})
    return EvidenceRef(seq=e.seq, kind=e.kind, recorded_at=e.recorded_at,
                       record_hash=e.record_hash, gate_id=result.get("gate_id"),
                       verdict=result.get("verdict"), by=p.get("by"), note=note)


def _attested_at(att: Entry) -> datetime:
    """When the person signed (older records: when it was recorded). attestation_problem has
    already checked that the record's value is the one the person signed."""
    signed = att.predicate.get("attested_at")
    try:
        return datetime.fromisoformat(signed) if isinstance(signed, str) else att.recorded_at
    except ValueError:
        return att.recorded_at


class _Evaluator:
    def __init__(self, index: _Index, policy: Policy, release: str | None,
                 now: datetime) -> None:
        self.index, self.policy, self.release, self.now = index, policy, release, now
        self.max_age = timedelta(days=policy.conformity.max_evidence_age_days)
        self.by_provision: dict[str, list[Entry]] = {}
        for e in index.gate_runs.values():
            r = e.predicate["result"]
            ids = set(r.get("provisions", [])) | set(r.get("provision_checks", {})) | {
                f["provision"] for f in r.get("findings", []) if f.get("provision")}
            for pid in ids:
                self.by_provision.setdefault(pid, []).append(e)

    def _stale_reason(self, e: Entry) -> str | None:
        if self.now - e.recorded_at > self.max_age:
            return f"record #{e.seq} is older than {self.max_age.days} days"
        for name, digest in e.subjects.items():
            current = self.index.current.get(name)
            if current is not None and current != digest:
                return f"record #{e.seq} is about {name} {digest[:12]}, now {current[:12]}"
        phase = e.predicate.get("context", {}).get("phase")
        if self.release and phase != Phase.DESIGN and self.release not in e.subjects.values():
            return f"record #{e.seq} is not about release {self.release[:12]}"
        return None

    def _from_gates(self, pid: str, runs: list[Entry]) -> tuple[Status, str, list[Finding]]:
        failed, waived, stale, met = [], [], [], []
        findings: list[Finding] = []
        for e in runs:
            r = e.predicate["result"]
            gid = r["gate_id"]
            mine = [Finding.model_validate(f) for f in r.get("findings", [])
                    if f.get("provision") in (pid, None)]
            findings.extend(f for f in mine if f.blocking)
            outcome, why = _run_outcome(pid, r, mine)
            if outcome is Status.FAILED:
                failed.append(f"{gid} {r['verdict']} (record #{e.seq}){why}")
                if not any(f.blocking for f in mine):  # show what failed the run instead
                    findings.extend(f for f in map(Finding.model_validate, r.get("findings", []))
                                    if f.blocking and not f.waived_by)
            elif outcome is Status.WAIVED:
                waived.append(f"{gid} waived by {', '.join(r.get('waivers', [])) or '?'} "
                              f"(record #{e.seq}){why}")
            elif reason := self._stale_reason(e):
                stale.append(f"{gid}: {reason}")
            else:
                met.append(f"{gid} (record #{e.seq}){why}")
        if failed:
            return Status.FAILED, "; ".join(failed), findings
        if waived:
            return Status.WAIVED, "; ".join(waived), findings
        if stale:
            return Status.STALE, "; ".join(stale), findings
        every_run_passed = all(e.predicate["result"]["verdict"] == Verdict.PASS for e in runs)
        return Status.MET, ("passed: " if every_run_passed else "met: ") + ", ".join(met), \
            findings

    def _from_audit_trail(self) -> tuple[Status, str, list[Entry]]:
        """Platform events (task and run outcomes a listener recorded) are the audit trail.
        It is not met over a gap recorded within the evidence age: a gate task that ran
        without leaving a gate-run record (an ``audit-gap`` event, recorded at the run's end),
        or numbers missing from a listener's numbered event stream (events lost)."""
        events = self.index.platform_events
        latest = events[-1]
        recent = [e for e in events if self.now - e.recorded_at <= self.max_age]
        gap_events = [e for e in recent if e.predicate.get("event") == "audit-gap"]
        gaps = [f"DAG {e.predicate.get('refs', {}).get('dag_id')} run "
                f"{e.predicate.get('refs', {}).get('run_id')}: {e.predicate.get('detail')} "
                f"(record #{e.seq})" for e in gap_events]
        streams: dict[str, set[int]] = {}
        for e in recent:
            spool = e.predicate.get("spool") or {}
            if isinstance(spool.get("n"), int):
                streams.setdefault(str(spool.get("id")), set()).add(spool["n"])
        for sid, seen in sorted(streams.items()):
            lost = sorted(set(range(min(seen), max(seen) + 1)) - seen)
            if lost:
                gaps.append(f"{len(lost)} platform event(s) lost from the listener stream "
                            f"{sid}: #{', #'.join(map(str, lost[:10]))}")
        if gaps:
            return Status.FAILED, "the audit trail has gaps: " + "; ".join(gaps), \
                gap_events or [latest]
        platforms = sorted({str(e.predicate.get("platform")) for e in events})
        if self.now - latest.recorded_at > self.max_age:
            return Status.STALE, f"the latest platform event, record #{latest.seq}, is older " \
                f"than {self.max_age.days} days", [latest]
        return Status.MET, f"audit trail: {len(events)} platform events recorded from " \
            f"{', '.join(platforms)}, latest record #{latest.seq}", [latest]

    def _from_people(self, pid: str) -> tuple[Status, str, list[Entry]]:
        """Not-applicable, or a personally signed attestation (fresh by its signed time)."""
        att, na = self.index.attestations.get(pid), self.index.not_applicable.get(pid)
        if na and (att is None or na.seq > att.seq):
            return Status.NOT_APPLICABLE, na.predicate["reason"], [na]
        if att:
            p = att.predicate
            if problem := attestation_problem(att, self.policy):
                return Status.MISSING, f"attestation #{att.seq} by {p.get('by')} does not " \
                    f"count: {problem}", [att]
            if p.get("expires") and date.fromisoformat(p["expires"]) < self.now.date():
                return Status.STALE, f"attestation by {p['by']} expired on {p['expires']}", [att]
            if self.now - _attested_at(att) > self.max_age and not p.get("expires"):
                return Status.STALE, f"attestation #{att.seq} is older than " \
                    f"{self.max_age.days} days", [att]
            return Status.ATTESTED, f"attested by {p['by']} ({p['role']})", [att]
        return Status.MISSING, "no evidence, attestation or not-applicable record", []

    def provision(self, prov: Provision, required: bool) -> ProvisionStatus:
        runs = self.by_provision.get(prov.id, [])
        findings: list[Finding] = []
        if runs:
            status, reason, findings = self._from_gates(prov.id, runs)
            refs = [_ref(e) for e in runs]
        elif prov.id in AUDIT_TRAIL_PROVISIONS and self.index.platform_events:
            status, reason, events = self._from_audit_trail()
            refs = [_ref(e) for e in events]
        else:
            status, reason, people = self._from_people(prov.id)
            refs = [_ref(e) for e in people]
        return ProvisionStatus(id=prov.id, principle=prov.principle, phase=prov.phase,
                               modal=prov.modal, summary=prov.summary, required=required,
                               status=status, reason=reason, evidence=refs, findings=findings)


def _run_outcome(pid: str, result: dict[str, Any], mine: list[Finding]) -> tuple[Status, str]:
    """What one recorded gate run says about provision ``pid``: MET, WAIVED or FAILED, and a
    note for the reason. A run that failed (or was waived) counts as met for ``pid`` only if
    the gate recorded that this provision's own checks passed; an errored run never does."""
    verdict = Verdict(result["verdict"])
    check = result.get("provision_checks", {}).get(pid)
    if verdict is Verdict.ERROR or any(f.blocking and not f.waived_by for f in mine):
        return Status.FAILED, ""
    if verdict is Verdict.PASS:
        return (Status.FAILED, ": the gate recorded this provision's checks as failed") \
            if check == "fail" else (Status.MET, "")
    if check == "pass" and not any(f.waived_by for f in mine):
        return Status.MET, f": this provision's own checks found nothing (run verdict " \
            f"{verdict.value})"
    if verdict is Verdict.WAIVED:
        return Status.WAIVED, ""
    if check is None:
        return Status.FAILED, ": the gate did not record that this provision's own checks " \
            "found nothing"
    return Status.FAILED, ": its checks for this provision failed"


def _is_required(policy: Policy, prov: Provision) -> bool:
    req = policy.conformity.required
    if isinstance(req, list):
        return prov.id in req
    return req == "all" or prov.modal is Modal.SHALL


def evaluate(entries: Iterable[Entry], policy: Policy, *, ledger: str = "",
             release: str | None = None, catalog: Catalog | None = None,
             now: datetime | None = None) -> ConformityReport:
    catalog = catalog or load_catalog()
    now = now or datetime.now(UTC)
    index = _Index(entries, policy.system.name)
    ev = _Evaluator(index, policy, release, now)
    rows = [ev.provision(p, _is_required(policy, p)) for p in catalog.provisions]
    counts = {s.value: sum(r.status is s for r in rows) for s in Status}
    fail_on = policy.conformity.fail_on
    blocking = [r.id for r in rows if r.required and r.status.value in fail_on]
    return ConformityReport(
        standard=catalog.standard, system=policy.system.name,
        system_version=policy.system.version, generated_at=now, ledger=ledger,
        ledger_head=index.head[0], ledger_head_hash=index.head[1], release=release,
        provisions=rows, counts=counts, blocking=blocking, fail_on=list(fail_on))


def report_dict(report: ConformityReport) -> dict[str, Any]:
    data: dict[str, Any] = report.model_dump(mode="json")
    data["passed"] = report.passed
    return data
