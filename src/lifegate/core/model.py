"""Data model of a gate run: verdicts, findings, evidence, results and run context."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Evidence",
    "Finding",
    "GateResult",
    "Phase",
    "PlatformRef",
    "RunContext",
    "Severity",
    "Subject",
    "Verdict",
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


class GateResult(_Strict):
    """What a gate found. ``waived`` is only ever set by :func:`lifegate.core.run_gate`."""

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

    def blocking_findings(self) -> list[Finding]:
        return [f for f in self.findings if f.blocking and f.waived_by is None]

    @classmethod
    def from_findings(cls, gate_id: str, findings: list[Finding], **kwargs: Any) -> GateResult:
        """Verdict ``fail`` when any finding blocks, else ``pass``."""
        verdict = Verdict.FAIL if any(f.blocking for f in findings) else Verdict.PASS
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
