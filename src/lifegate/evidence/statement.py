"""in-toto Statement v1 builders for everything lifegate records."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lifegate.core.hashing import sha256_bytes
from lifegate.evidence.dsse import canonical

if TYPE_CHECKING:
    from lifegate.core.model import GateResult, RunContext
    from lifegate.core.policy import Policy, Waiver
    from lifegate.evidence.keys import Signer

__all__ = ["STATEMENT_TYPE", "PredicateType", "attestation_statement", "gate_run_statement",
           "not_applicable_statement", "revocation_statement", "statement", "system_subject",
           "unsigned_waiver_statement", "waiver_statement"]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
_BASE = "https://lifegate.dev/evidence"
UNSIGNED_WAIVER = "LEDGER-UNSIGNED"  # the waiver id of keys.accept_unsigned


class PredicateType(enum.StrEnum):
    GATE_RUN = f"{_BASE}/gate-run/v1"
    ATTESTATION = f"{_BASE}/attestation/v1"
    NOT_APPLICABLE = f"{_BASE}/not-applicable/v1"
    WAIVER = f"{_BASE}/waiver/v1"
    CHECKPOINT = f"{_BASE}/checkpoint/v1"
    RELEASE = f"{_BASE}/release/v1"
    REVOCATION = f"{_BASE}/revocation/v1"
    APPROVAL = f"{_BASE}/approval/v1"
    APPROVAL_REQUEST = f"{_BASE}/approval-request/v1"
    RETIREMENT = f"{_BASE}/retirement/v1"  # the journal of a retirement run, step by step
    TRANSFER = f"{_BASE}/transfer/v1"
    DISPOSAL_CERTIFICATE = f"{_BASE}/disposal-certificate/v1"
    PLATFORM_EVENT = f"{_BASE}/platform-event/v1"  # audit trail of a pipeline platform (5.4.2-1)

    @property
    def kind(self) -> str:
        return self.value.rsplit("/", 2)[-2]


def system_subject(name: str, version: str) -> dict[str, Any]:
    """A subject for statements about the system as a whole (no artifact digest applies)."""
    digest = sha256_bytes(canonical({"system": name, "version": version}))
    return {"name": f"system:{name}@{version}", "digest": {"sha256": digest}}


def statement(subjects: list[dict[str, Any]], predicate_type: PredicateType,
              predicate: dict[str, Any]) -> dict[str, Any]:
    return {"_type": STATEMENT_TYPE, "subject": subjects, "predicateType": str(predicate_type),
            "predicate": predicate}


def gate_run_statement(result: GateResult, context: RunContext, policy: Policy,
                       waivers: list[Waiver]) -> dict[str, Any]:
    subjects = [{"name": s.name, "digest": {"sha256": s.sha256}} for s in result.subjects]
    if not subjects:
        subjects = [system_subject(context.system, context.system_version)]
    return statement(subjects, PredicateType.GATE_RUN, {
        "result": result.model_dump(mode="json"),
        "context": context.model_dump(mode="json"),
        "policyDigest": policy.digest(),
        "waivers": [w.model_dump(mode="json") for w in waivers],
    })


def attestation_statement(*, system: str, version: str, provision: str, by: str, role: str,
                          text: str, expires: str | None,
                          signer: Signer | None = None) -> dict[str, Any]:
    """A person vouches that a provision is met (organisational provisions, e.g. training).

    With ``signer`` (the person's own key, see
    :func:`lifegate.evidence.approvals.personal_signer`) the same statement, signed by the
    person, is embedded as ``signedAttestation``; the report counts only such attestations."""
    from lifegate.evidence.approvals import sign_personal  # approvals builds on this module

    subjects = [system_subject(system, version)]
    claim = {"system": system, "provision": provision, "by": by, "role": role,
             "statement": text, "expires": expires}
    if signer is None:
        return statement(subjects, PredicateType.ATTESTATION, claim)
    # signed by the person with the rest: a copy re-recorded later cannot look fresh
    claim["attested_at"] = datetime.now(UTC).isoformat()
    signed = sign_personal(statement(subjects, PredicateType.ATTESTATION, claim), signer)
    return statement(subjects, PredicateType.ATTESTATION, {**claim, "signedAttestation": signed})


def not_applicable_statement(*, system: str, version: str, provision: str, by: str,
                             reason: str) -> dict[str, Any]:
    return statement([system_subject(system, version)], PredicateType.NOT_APPLICABLE, {
        "system": system, "provision": provision, "by": by, "reason": reason})


def waiver_statement(waiver: Waiver, context: RunContext, run_seq: int,
                     run_hash: str) -> dict[str, Any]:
    """A waiver as applied: who accepted which failure, why, until when, for which run."""
    return statement([{"name": f"ledger#{run_seq}", "digest": {"sha256": run_hash}}],
                     PredicateType.WAIVER, {
                         "system": context.system, "waiver": waiver.model_dump(mode="json"),
                         "appliedTo": {"seq": run_seq, "runId": context.run_id}})


def revocation_statement(*, system: str, name: str, digest: str, reason: str,
                         by: str) -> dict[str, Any]:
    """From now on, the release with this root digest must not be deployed or loaded."""
    return statement([{"name": name, "digest": {"sha256": digest}}], PredicateType.REVOCATION,
                     {"system": system, "reason": reason, "by": by})


def unsigned_waiver_statement(*, system: str, through_seq: int, through_hash: str,
                              approver: str, justification: str) -> dict[str, Any]:
    """A named person accepts the unsigned records #1..#through_seq of an older ledger."""
    return statement([{"name": f"ledger#{through_seq}", "digest": {"sha256": through_hash}}],
                     PredicateType.WAIVER, {
                         "system": system,
                         "waiver": {"id": UNSIGNED_WAIVER, "approver": approver,
                                    "justification": justification},
                         "appliedTo": {"throughSeq": through_seq}})
