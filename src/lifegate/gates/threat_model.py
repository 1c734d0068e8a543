"""LG-THREAT: the threat model covers the AI threat classes the policy requires, each with a
mitigation, an owner and a status; it was reviewed recently, and after the assets changed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from lifegate.core._yamlio import load_model
from lifegate.core.gate import GateSettings
from lifegate.core.hashing import subject_digest, subject_name
from lifegate.core.model import Finding, GateResult, Phase, RunContext, Severity, Subject
from lifegate.core.policy import Policy

DEFAULT_THREATS = ["data-poisoning", "model-inversion", "model-extraction",
                   "membership-inference", "evasion", "supply-chain"]
PROMPT_THREATS = ["prompt-injection"]
# The attack classes 5.1.3-1 names: a policy that requires fewer is not evidence for it.
NAMED_BY_5_1_3_1 = frozenset({"data-poisoning", "model-inversion", "membership-inference"})
P_MODEL = "5.1.3-1"       # a regularly reviewed threat model covering the AI attack classes,
#                           each threat with a mitigation and an owner (risk management)
P_REVISIT = "5.1.3-1.1"   # revisited after the assets (configs included) changed; claimed only
#                           when LG-INV has recorded configs or prompts to compare
# Not 5.1.3-1.3 (implement mitigations): a mitigation written down is not one implemented, and
# threats still open or in progress pass.
# What each provision's own checks are: a failed run is evidence only for the ones that pass.
CHECKED: dict[str, tuple[str, ...]] = {P_MODEL: (), P_REVISIT: ()}
ALIASES = {"adversarial-input": "evasion", "adversarial-examples": "evasion",
           "poisoning": "data-poisoning", "extraction": "model-extraction",
           "model-stealing": "model-extraction", "inversion": "model-inversion"}


class ThreatSettings(GateSettings):
    path: str = "threat_model.yaml"
    max_age_days: int = Field(default=180, gt=0)
    required_threats: list[str] | None = Field(
        default=None, description="threat classes to cover; default: the six baseline classes, "
        "plus prompt-injection when system.uses_prompts")
    rereview_on_asset_change: bool = True


class Threat(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str
    threat_class: str = Field(alias="class")
    description: str = ""
    mitigation: str = ""
    owner: str = ""
    status: Literal["open", "in-progress", "mitigated", "accepted", "transferred"]


class ThreatModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system: str
    reviewed: datetime | date
    reviewed_by: str
    threats: list[Threat] = Field(min_length=1)


def _review_end(reviewed: datetime | date) -> datetime:
    """A review dated by day covers that whole day; a timestamp covers up to itself."""
    if isinstance(reviewed, datetime):
        return reviewed if reviewed.tzinfo else reviewed.replace(tzinfo=UTC)
    return datetime.combine(reviewed, datetime.min.time(), UTC) + timedelta(days=1)


class ThreatModelGate:
    id: ClassVar[str] = "LG-THREAT"
    title: ClassVar[str] = "Threat model coverage and freshness"
    phase: ClassVar[Phase] = Phase.DESIGN
    provisions: ClassVar[tuple[str, ...]] = (P_MODEL, P_REVISIT)
    Settings: ClassVar[type[ThreatSettings]] = ThreatSettings

    def __init__(self, settings: ThreatSettings, policy: Policy) -> None:
        self.settings = settings
        self.policy = policy

    def required(self) -> list[str]:
        if self.settings.required_threats is not None:
            return self.settings.required_threats
        return DEFAULT_THREATS + (PROMPT_THREATS if self.policy.system.uses_prompts else [])

    def check(self, context: RunContext) -> GateResult:
        path = self.policy.resolve(self.settings.path)
        model = load_model(ThreatModel, path)
        findings = self._coverage(model, path) + self._freshness(model, path)
        settings_seen, revisit = self._revisit(model, path) \
            if self.settings.rereview_on_asset_change else (False, [])
        claimed = [P_MODEL] if NAMED_BY_5_1_3_1 <= set(self.required()) else []
        claimed += [P_REVISIT] if settings_seen else []
        return GateResult.from_findings(
            self.id, findings + revisit, provisions=claimed,
            checked={p: CHECKED[p] for p in claimed},
            subjects=[Subject(name=subject_name(path, self.policy.base_dir),
                              sha256=subject_digest(path))],
            metrics={"threats": float(len(model.threats)),
                     "required_classes": float(len(self.required()))},
            details={"reviewed": model.reviewed.isoformat(), "reviewed_by": model.reviewed_by},
        )

    def _coverage(self, model: ThreatModel, path: Path) -> list[Finding]:
        findings = []
        by_class: dict[str, list[Threat]] = {}
        for t in model.threats:
            by_class.setdefault(ALIASES.get(t.threat_class, t.threat_class), []).append(t)
        for cls in self.required():
            if cls not in by_class:
                findings.append(Finding(rule="THREAT-UNCOVERED", provision=P_MODEL,
                                        location=str(path),
                                        message=f"threat class '{cls}' is not in the threat "
                                        "model; add a threat with class: " + cls))
        for t in model.threats:
            missing = [k for k in ("mitigation", "owner") if not getattr(t, k).strip()]
            if missing and t.status != "accepted":
                findings.append(Finding(rule="THREAT-INCOMPLETE", provision=P_MODEL,
                                        location=f"{path}: threat {t.id}",
                                        message=f"threat {t.id} ({t.threat_class}) has no "
                                        + " and no ".join(missing)))
            if t.status == "open":
                findings.append(Finding(rule="THREAT-OPEN", severity=Severity.MEDIUM,
                                        blocking=False, provision=P_MODEL,
                                        location=f"{path}: threat {t.id}",
                                        message=f"threat {t.id} is still open"))
        return findings

    def _freshness(self, model: ThreatModel, path: Path) -> list[Finding]:
        findings = []
        reviewed_day = model.reviewed.date() if isinstance(model.reviewed, datetime) \
            else model.reviewed
        age = (date.today() - reviewed_day).days
        if age > self.settings.max_age_days:
            findings.append(Finding(rule="THREAT-STALE", provision=P_MODEL,
                                    location=str(path),
                                    message=f"threat model last reviewed {age} days ago "
                                    f"({model.reviewed}); the policy allows "
                                    f"{self.settings.max_age_days}"))
        if reviewed_day > date.today():
            findings.append(Finding(rule="THREAT-FUTURE-REVIEW", provision=P_MODEL,
                                    location=str(path),
                                    message=f"review date {model.reviewed} is in the future"))
        return findings

    def _revisit(self, model: ThreatModel, path: Path) -> tuple[bool, list[Finding]]:
        """Whether the inventory shows changes of settings (configs or prompts), so that the
        check evidences 5.1.3-1.1, and the findings of the re-review check (after any change
        of the assets; without settings to compare it is part of the regular review)."""
        settings_seen, changed_at = self._assets_changed_at()
        if changed_at is None or changed_at <= _review_end(model.reviewed):
            return settings_seen, []
        return settings_seen, [Finding(
            rule="THREAT-REREVIEW", location=str(path),
            provision=P_REVISIT if settings_seen else P_MODEL,
            message=f"assets changed on {changed_at:%Y-%m-%d %H:%M} UTC, after the last review "
            f"on {model.reviewed}: review the threat model again and update 'reviewed'")]

    def _assets_changed_at(self) -> tuple[bool, datetime | None]:
        """Whether an inventory (LG-INV) of this system's configs or prompts was recorded,
        and when the inventory last recorded a change of asset digests: of a file's bytes, or
        of the files listed (compared file by file, so that the naming of the subjects may
        change between lifegate versions without counting as a change of the assets)."""
        from lifegate.evidence.ledger import open_ledger
        from lifegate.evidence.statement import PredicateType

        last: dict[str, str] | None = None
        changed_at, settings_seen = None, False
        for e in open_ledger(self.policy).entries(PredicateType.GATE_RUN):
            result = e.predicate.get("result", {})
            if result.get("gate_id") != "LG-INV" or \
                    e.predicate.get("context", {}).get("system") != self.policy.system.name:
                continue
            manifest = result.get("details", {}).get("manifest", {})
            files = {f: d for per in manifest.values() for f, d in per.items()}
            kinds = result.get("details", {}).get("kinds", {}).values()
            settings_seen = settings_seen or bool({"config", "prompt"} & set(kinds))
            if last is not None and files != last:
                changed_at = e.recorded_at
            last = files
        return settings_seen, changed_at
