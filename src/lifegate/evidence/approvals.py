"""Human approval records: request, decide (signed by the approver's own key), read, check.

Any front end (the CLI, an Airflow human-in-the-loop task, a web form) feeds the same calls:

- :func:`request_approval` records who asks for a release to be approved, for which digests;
- :func:`record_decision` signs the decision with the approver's key (a DSSE envelope inside
  the ledger statement, so the ledger's own signature cannot stand in for the approver's)
  and appends it to the ledger;
- :func:`approvals_for` reads the decisions that concern a set of digests back;
- :func:`check_quorum` says, with reasons, which decisions count and whether they suffice.

An approval names the exact digests it approves (model root digest, SBOM, disclosure, ...):
any change to them leaves it speaking about something else, so it no longer counts.

Attestations (``lifegate attest``) use the same personal signature: :func:`personal_signer`
checks that a person the policy lists (``people``, with their public key) holds the role and
owns the private key given; :func:`sign_personal` wraps a statement in a DSSE envelope signed
with it; :func:`attestation_problem` says why a recorded attestation does not count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lifegate.core.errors import (
    ConfigError,
    EvidenceError,
    KeyMaterialError,
    LedgerTamperedError,
    LifegateError,
)
from lifegate.core.model import Finding, Severity
from lifegate.evidence.dsse import decode_payload, envelope, signed_by_trusted
from lifegate.evidence.keys import Signer, fingerprint, load_public_key
from lifegate.evidence.ledger import Entry, Ledger, decode, open_ledger
from lifegate.evidence.statement import PredicateType, statement

if TYPE_CHECKING:
    from lifegate.core.engine import RecordRef
    from lifegate.core.policy import Policy

__all__ = [
    "ApprovalRecord",
    "Approver",
    "QuorumResult",
    "QuorumRules",
    "StoredApproval",
    "approvals_for",
    "attestation_problem",
    "build_approval",
    "check_quorum",
    "latest_request",
    "people_keys",
    "person_key",
    "personal_signer",
    "record_decision",
    "request_approval",
    "sign_approval",
    "sign_personal",
    "signed_personally",
    "store_approval",
    "write_approval_file",
]

Decision = Literal["approve", "reject"]


class ApprovalRecord(BaseModel):
    """What the approver signs (the digests are the statement's subjects)."""

    model_config = ConfigDict(extra="forbid")

    system: str
    version: str
    approver: str = Field(min_length=1)
    role: str = Field(min_length=1)
    decision: Decision
    comment: str = ""
    decided_at: datetime
    expires: datetime
    requested_by: str
    request_seq: int
    front_end: str = "cli"


@dataclass(frozen=True)
class Approver:
    """A person who may decide: their public key and the roles they hold."""

    name: str
    key: ec.EllipticCurvePublicKey
    roles: tuple[str, ...]


@dataclass(frozen=True)
class QuorumRules:
    required_roles: tuple[str, ...]
    quorum: int
    separation_of_duties: bool
    max_validity: timedelta


@dataclass(frozen=True)
class StoredApproval:
    """A decision read back from the ledger; ``record`` is None when it cannot be parsed."""

    seq: int
    recorded_at: datetime
    subjects: dict[str, str]
    env: dict[str, Any]
    record: ApprovalRecord | None
    problem: str | None = None

    @property
    def who(self) -> str:
        name = self.record.approver if self.record else "unknown"
        return f"{name}'s decision (ledger record #{self.seq})"


@dataclass
class QuorumResult:
    counted: list[StoredApproval] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(f.blocking for f in self.findings)


def _subjects(subjects: dict[str, str]) -> list[dict[str, Any]]:
    return [{"name": k, "digest": {"sha256": v}} for k, v in sorted(subjects.items())]


def request_approval(policy: Policy, subjects: dict[str, str], requested_by: str,
                     note: str = "", ledger: Ledger | None = None) -> RecordRef:
    """Record that ``requested_by`` asks for the release with these digests to be approved."""
    stmt = statement(_subjects(subjects), PredicateType.APPROVAL_REQUEST, {
        "system": policy.system.name, "version": policy.system.version,
        "requestedBy": requested_by, "note": note,
        "requestedAt": datetime.now(UTC).isoformat()})
    return (ledger or open_ledger(policy)).append(stmt, PredicateType.APPROVAL_REQUEST)


def latest_request(policy: Policy, subjects: dict[str, str],
                   ledger: Ledger | None = None) -> Entry | None:
    """The newest approval request of this system for exactly these digests."""
    led = ledger or open_ledger(policy)
    for rec in led.store.newest(PredicateType.APPROVAL_REQUEST.kind):
        entry = decode(rec)
        if entry.predicate.get("system") == policy.system.name and entry.subjects == subjects:
            return entry
    return None


def build_approval(record: ApprovalRecord, subjects: dict[str, str]) -> dict[str, Any]:
    return statement(_subjects(subjects), PredicateType.APPROVAL,
                     record.model_dump(mode="json"))


def sign_personal(stmt: dict[str, Any], signer: Signer) -> dict[str, Any]:
    """A DSSE envelope around ``stmt`` signed with a person's own key (approvals and
    attestations), embedded in the ledger statement so that the ledger's own signature cannot
    stand in for the person's."""
    return envelope(stmt, signer)


def signed_personally(env: dict[str, Any], key: ec.EllipticCurvePublicKey) -> bool:
    """The envelope carries a valid signature by ``key`` (garbage is simply no)."""
    return isinstance(env, dict) and signed_by_trusted(env, {fingerprint(key): key})


def sign_approval(stmt: dict[str, Any], signer: Signer) -> dict[str, Any]:
    """A DSSE envelope signed with the approver's key."""
    return sign_personal(stmt, signer)


def store_approval(policy: Policy, env: dict[str, Any], ledger: Ledger | None = None
                   ) -> RecordRef:
    """Append the approver-signed envelope to the ledger (the ledger signs its record too)."""
    inner = decode_payload(env, "approval envelope")
    outer = statement(inner.get("subject", []), PredicateType.APPROVAL,
                      {"system": policy.system.name, "signedApproval": env})
    return (ledger or open_ledger(policy)).append(outer, PredicateType.APPROVAL)


def record_decision(policy: Policy, *, signer: Signer, approver: str, role: str,
                    decision: Decision, subjects: dict[str, str], comment: str,
                    valid_for: timedelta, front_end: str = "cli",
                    ledger: Ledger | None = None) -> tuple[RecordRef, dict[str, Any]]:
    """Sign and record a decision about the release pending approval for ``subjects``."""
    led = ledger or open_ledger(policy)
    request = latest_request(policy, subjects, led)
    if request is None:
        raise EvidenceError("no approval request is recorded for these digests",
                            fix="request approval for the current release first "
                            "(`lifegate approval request`)")
    now = datetime.now(UTC)
    record = ApprovalRecord(system=policy.system.name, version=policy.system.version,
                            approver=approver, role=role, decision=decision, comment=comment,
                            decided_at=now, expires=now + valid_for,
                            requested_by=str(request.predicate.get("requestedBy")),
                            request_seq=request.seq, front_end=front_end)
    env = sign_approval(build_approval(record, subjects), signer)
    return store_approval(policy, env, led), env


def _parse(entry: Entry) -> StoredApproval:
    env = entry.predicate.get("signedApproval")
    try:
        if not isinstance(env, dict):
            raise ValueError("no signed approval envelope")
        inner = decode_payload(env, f"ledger record #{entry.seq}")
        if inner.get("predicateType") != PredicateType.APPROVAL:
            raise ValueError(f"predicateType {inner.get('predicateType')!r}")
        subjects = {s["name"]: s["digest"]["sha256"] for s in inner.get("subject", [])}
        record = ApprovalRecord.model_validate(inner.get("predicate"))
    except (LedgerTamperedError, ValidationError, ValueError, KeyError, TypeError) as exc:
        text = exc.message if isinstance(exc, LedgerTamperedError) else str(exc)
        return StoredApproval(entry.seq, entry.recorded_at, entry.subjects,
                              env if isinstance(env, dict) else {}, None,
                              f"malformed approval: {text.splitlines()[0]}")
    return StoredApproval(entry.seq, entry.recorded_at, subjects, env, record)


def approvals_for(policy: Policy, subjects: dict[str, str], ledger: Ledger | None = None
                  ) -> list[StoredApproval]:
    """Decisions of this system that name any of these digests, oldest first."""
    wanted = set(subjects.values())
    out = []
    for entry in (ledger or open_ledger(policy)).entries(PredicateType.APPROVAL):
        if entry.predicate.get("system") != policy.system.name:
            continue
        stored = _parse(entry)
        if set(stored.subjects.values()) & wanted or set(entry.subjects.values()) & wanted:
            out.append(stored)
    return out


def signed_by(stored: StoredApproval, key: ec.EllipticCurvePublicKey) -> bool:
    """The envelope carries a valid signature by ``key``."""
    return signed_personally(stored.env, key)


def _f(rule: str, message: str, blocking: bool = True) -> Finding:
    return Finding(rule=rule, message=message, blocking=blocking, provision="5.1.4-3",
                   severity=Severity.HIGH if blocking else Severity.INFO)


def _short(digests: dict[str, str]) -> str:
    return ", ".join(f"{k} {v[:12]}" for k, v in sorted(digests.items())) or "nothing"


def _problem(a: StoredApproval, subjects: dict[str, str], requester: str | None,
             approvers: dict[str, Approver], rules: QuorumRules, now: datetime
             ) -> Finding | None:
    """Why this decision does not count, as a finding; None when it is valid."""
    if a.record is None:
        return _f("APPROVE-MALFORMED", f"ledger record #{a.seq}: {a.problem}")
    r = a.record
    person = approvers.get(r.approver)
    if person is None:
        return _f("APPROVE-UNKNOWN-APPROVER", f"{a.who}: {r.approver} is not a configured "
                  "approver; it does not count", blocking=False)
    if not signed_by(a, person.key):
        return _f("APPROVE-BAD-SIGNATURE", f"{a.who} is not signed by {r.approver}'s key "
                  f"{fingerprint(person.key)[:12]}: it was forged or altered")
    if a.subjects != subjects:
        diff = {k: v for k, v in a.subjects.items() if subjects.get(k) != v}
        return _f("APPROVE-OTHER-DIGESTS", f"{a.who} approves other digests ({_short(diff)}),"
                  f" not the current release ({_short(subjects)}); it does not count",
                  blocking=False)
    if r.role not in person.roles:
        return _f("APPROVE-ROLE-NOT-HELD", f"{a.who} is made as {r.role}, a role "
                  f"{r.approver} does not hold; it does not count", blocking=False)
    if rules.separation_of_duties and requester is not None and r.approver == requester:
        return _f("APPROVE-SELF", f"{a.who}: {r.approver} requested this release and may not "
                  "approve it (separation of duties)")
    ends = min(r.expires, a.recorded_at + rules.max_validity)
    if now > ends:
        return _f("APPROVE-EXPIRED", f"{a.who} expired on {ends:%Y-%m-%d %H:%M} UTC; it does "
                  "not count", blocking=False)
    return None


def check_quorum(approvals: list[StoredApproval], subjects: dict[str, str],
                 requester: str | None, approvers: dict[str, Approver], rules: QuorumRules,
                 now: datetime | None = None) -> QuorumResult:
    """Which decisions count (latest valid one per person), and whether they suffice."""
    now = now or datetime.now(UTC)
    out = QuorumResult()
    latest: dict[str, StoredApproval] = {}
    for a in sorted(approvals, key=lambda x: x.seq):
        problem = _problem(a, subjects, requester, approvers, rules, now)
        if problem is not None:
            out.findings.append(problem)
        elif a.record is not None:
            latest[a.record.approver] = a
    for a in latest.values():
        assert a.record is not None
        if a.record.decision == "reject":
            out.findings.append(_f("APPROVE-REJECTED", f"{a.who} rejects this release: "
                                   f"{a.record.comment or '(no comment)'}"))
        else:
            out.counted.append(a)
    out.findings += _sufficient(out.counted, approvers, rules, out.findings)
    return out


def _sufficient(counted: list[StoredApproval], approvers: dict[str, Approver],
                rules: QuorumRules, notes: list[Finding]) -> list[Finding]:
    roles = {a.record.role for a in counted if a.record}
    reasons = "; ".join(f.message for f in notes if not f.blocking)
    tail = f" (not counted: {reasons})" if reasons else ""
    out = []
    for role in rules.required_roles:
        if role not in roles:
            people = sorted(p.name for p in approvers.values() if role in p.roles)
            out.append(_f("APPROVE-ROLE-MISSING", f"no valid approval by a {role} "
                          f"({', '.join(people) or 'nobody is configured with that role'})"
                          + tail))
    if len(counted) < rules.quorum:
        out.append(_f("APPROVE-QUORUM", f"quorum not met: {len(counted)} of the "
                      f"{rules.quorum} required valid approvals for this release" + tail))
    return out


def write_approval_file(env: dict[str, Any], directory: Path, name: str) -> Path:
    """The approver-signed envelope as a file (for the release manifest and for auditors)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(env, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


# -- personal keys: approvals and attestations -----------------------------------------------


def _holders(policy: Policy, role: str) -> list[str]:
    """The people ``roles.<role>`` lists (none for a role the policy does not have)."""
    people = policy.roles.model_dump().get(role)
    return list(people) if isinstance(people, list) else []


def person_key(policy: Policy, name: str) -> ec.EllipticCurvePublicKey | None:
    """The public key ``policy.people`` lists for ``name`` (None: not listed). An unreadable
    key, or one that does not match its fingerprint in the policy, is a KeyMaterialError."""
    person = next((p for p in policy.people if p.name == name), None)
    if person is None:
        return None
    key = load_public_key(policy.resolve(person.public_key))
    if person.fingerprint and person.fingerprint != fingerprint(key):
        raise KeyMaterialError(f"{name}: the fingerprint in the policy does not match "
                               f"{person.public_key}", where=policy.source,
                               fix="correct people[].fingerprint or the key file")
    return key


def people_keys(policy: Policy) -> dict[str, ec.EllipticCurvePublicKey]:
    """Every person's public key, by name."""
    return {p.name: k for p in policy.people if (k := person_key(policy, p.name)) is not None}


def personal_signer(policy: Policy, name: str, role: str, signer: Signer) -> Signer:
    """``signer``, once it is shown to be the own key of ``name``, who holds ``role``: listed
    in ``roles.<role>`` and in ``people`` with the matching public key."""
    where = f"{policy.source} (roles.{role}, people)"
    if name not in _holders(policy, role):
        raise ConfigError(f"{name} is not listed in roles.{role}", where=where,
                          fix=f"add {name} under roles.{role}, or attest as someone who is")
    key = person_key(policy, name)
    if key is None:
        raise ConfigError(f"{name} is not listed in people with a public key", where=where,
                          fix=f"add {name} with their own public key under people:")
    if fingerprint(key) != signer.keyid:
        raise KeyMaterialError(f"the key given is not {name}'s key ({fingerprint(key)[:12]} "
                               "in the policy)", where=where,
                               fix=f"sign with {name}'s own private key")
    return signer


_ATTESTED = ("system", "provision", "by", "role", "statement", "expires", "attested_at")


def attestation_problem(entry: Entry, policy: Policy) -> str | None:
    """Why a recorded attestation does not count now, or None when it does: it must carry an
    envelope signed with the personal key ``people`` lists for its author, who must hold the
    role in ``roles`` at the time of the report, and that signed content must be the record's."""
    p = entry.predicate
    who, role = str(p.get("by")), str(p.get("role"))
    env = p.get("signedAttestation")
    if not isinstance(env, dict):
        return "it carries no personal signature (recorded unsigned, before attestations " \
            "were signed with the person's own key)"
    if who not in _holders(policy, role):
        return f"not listed in roles.{role}"
    try:
        key = person_key(policy, who)
    except LifegateError as exc:
        return f"{who}'s public key cannot be used: {exc.message.splitlines()[0]}"
    if key is None:
        return "not listed in people with a public key"
    if not signed_personally(env, key):
        return f"its signature does not verify under {who}'s key {fingerprint(key)[:12]}"
    try:
        inner = decode_payload(env, f"attestation #{entry.seq}")
    except LedgerTamperedError:
        return "its signed envelope cannot be decoded"
    signed = inner.get("predicate") or {}
    if inner.get("predicateType") != PredicateType.ATTESTATION or \
            any(signed.get(k) != p.get(k) for k in _ATTESTED):
        return "what the person signed is not what the record says"
    return None
