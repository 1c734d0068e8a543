"""Data model of a gate run: verdicts, findings, evidence, results and run context."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CheckOutcome",
    "Evidence",
    "Finding",
    "GateResult",
    "Phase",
    "PlatformRef",
    "RunContext",
    "Severity",
    "Subject",
    "Verdict",
    "provision_checks",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Verdict(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    WAIVED = "waived"

    @property
    def blocks(self) -> bool:
        return self in (Verdict.FAIL, Verdict.ERROR)


class Severity(enum.StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class Phase(enum.StrEnum):
    """The five lifecycle phases of EN 304 223."""

    DESIGN = "secure-design"
    DEVELOPMENT = "secure-development"
    DEPLOYMENT = "secure-deployment"
    MAINTENANCE = "secure-maintenance"
    END_OF_LIFE = "secure-end-of-life"


class Finding(_Strict):
    """One observation of a gate. ``blocking`` findings make the verdict ``fail``."""

    rule: str = Field(description="stable id of the check inside the gate, e.g. THREAT-MISSING")
    message: str
    severity: Severity = Severity.HIGH
    blocking: bool = True
    provision: str | None = None
    location: str | None = None
    waived_by: str | None = None


class Subject(_Strict):
    """What a verdict speaks about: a name and its sha256 digest."""

    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Evidence(_Strict):
    """An artifact that backs a verdict (a report, a manifest, an SBOM ...)."""

    kind: str
    uri: str
    media_type: str = "application/octet-stream"
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


CheckOutcome = Literal["pass", "fail"]


def provision_checks(findings: Iterable[Finding],
                     checked: Mapping[str, Collection[str]]) -> dict[str, CheckOutcome]:
    """The outcome of each provision's own checks, for :attr:`GateResult.provision_checks`.

    ``checked`` maps each provision the gate can vouch for to the other provisions whose
    blocking findings also fail it (e.g. a child requirement the parent includes). A provision
    fails when a blocking finding names it or one of those; a blocking finding that names no
    provision fails every one, since the gate cannot say which check it belongs to.
    """
    blocking = [f for f in findings if f.blocking]
    if any(f.provision is None for f in blocking):
        return dict.fromkeys(checked, "fail")
    named = {f.provision for f in blocking}
    return {pid: "fail" if named & {pid, *also} else "pass" for pid, also in checked.items()}


class GateResult(_Strict):
    """What a gate found. ``waived`` is only ever set by :func:`lifegate.core.run_gate`.

    ``provision_checks`` says, per provision, whether that provision's own checks in this run
    passed. The conformity report reads it when the verdict is ``fail`` (or ``waived``): a
    provision the run maps to is met then only if the gate recorded ``"pass"`` for it here;
    one the gate says nothing about counts as failed (or waived). An ``error`` run fails
    every provision whatever this says. Empty by default, so results recorded before the
    field existed still parse (and a failed one fails all its provisions).
    """

    gate_id: str
    verdict: Verdict
    findings: list[Finding] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    metrics: dict[str, float] = Field(default_factory=dict)
    subjects: list[Subject] = Field(default_factory=list)
    provisions: list[str] = Field(default_factory=list)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime = Field(default_factory=utcnow)
    tool_versions: dict[str, str] = Field(default_factory=dict)
    waivers: list[str] = Field(default_factory=list, description="ids of waivers applied")
    details: dict[str, Any] = Field(default_factory=dict)
    provision_checks: dict[str, CheckOutcome] = Field(
        default_factory=dict, description="provision id -> outcome of its own checks")

    def blocking_findings(self) -> list[Finding]:
        return [f for f in self.findings if f.blocking and f.waived_by is None]

    @classmethod
    def from_findings(cls, gate_id: str, findings: list[Finding], *,
                      checked: Mapping[str, Collection[str]] | None = None,
                      **kwargs: Any) -> GateResult:
        """Verdict ``fail`` when any finding blocks, else ``pass``; with ``checked``, also
        the per-provision outcomes (see :func:`provision_checks`)."""
        verdict = Verdict.FAIL if any(f.blocking for f in findings) else Verdict.PASS
        if checked is not None:
            kwargs["provision_checks"] = provision_checks(findings, checked)
        return cls(gate_id=gate_id, verdict=verdict, findings=findings, **kwargs)


class PlatformRef(_Strict):
    """Where the run happened: the orchestrator and its own identifiers."""

    name: str = "cli"
    refs: dict[str, str] = Field(
        default_factory=dict,
        description="dag_id/run_id/task_id/try_number, kedro session_id, dvc stage/lock hash ...",
    )
    git_commit: str | None = None


class RunContext(_Strict):
    """Everything a gate may know about the run it is part of."""

    system: str
    system_version: str
    phase: Phase
    run_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    actor: str = "unknown"
    platform: PlatformRef = Field(default_factory=PlatformRef)
    artifacts: dict[str, str] = Field(default_factory=dict, description="role -> path or URI")
    base_dir: str = "."
