"""LG-DATA: validate a dataset with a Great Expectations suite, check it for signs of
poisoning against a trusted reference, and require provenance for data from public sources.

Evidence: GX's validation result and a summary (counts, failed expectations, poisoning
metrics), both JSON; the dataset's sha256 is the subject.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from importlib import metadata
from typing import Any, ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from lifegate.core.errors import ConfigError
from lifegate.core.gate import GateSettings
from lifegate.core.model import Evidence, Finding, GateResult, Phase, RunContext, Severity, Subject
from lifegate.core.policy import Policy
from lifegate.gates._data_gx import (
    Expect,
    Outcome,
    expects_from_settings,
    expects_from_suite,
    run_suite,
)
from lifegate.gates._data_load import Dataset, load_dataset, parse_spec, same_columns
from lifegate.gates._data_poison import CheckResult, PoisonSettings, run_checks
from lifegate.gates._data_report import write_json

__all__ = ["DataSettings", "DataValidationGate"]

log = logging.getLogger(__name__)

# 5.2.1-4.1: check and clean data; the expectations and the poisoning checks are both that.
# 5.2.4-2.1: the source and retrieval time of public data, claimed only for a dataset
# declared public (the only case the gate checks provenance).
# The gate claims no more: protecting the data from unauthorised access (5.2.1-4) is not
# something validation shows, security testing of the model before release (5.2.5-1) is
# a test of the model, not of its data, and the full provenance record of 5.2.4-2 (how the
# data was obtained and how the model uses it) is not required by the provenance check.
P_VALIDATE: Final = "5.2.1-4.1"
P_POISON: Final = P_VALIDATE
P_PROVENANCE_FIELDS: Final = "5.2.4-2.1"
# The provisions whose own checks this gate can vouch for, and what else fails each.
CHECKED: Final[dict[str, tuple[str, ...]]] = {P_VALIDATE: (), P_PROVENANCE_FIELDS: ()}


class ExpectationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(pattern=r"^expect_[a-z0-9_]+$")
    kwargs: dict[str, Any] = Field(default_factory=dict)
    id: str | None = Field(default=None, min_length=1)
    severity: Literal["blocking", "warning"] = "blocking"


class Provenance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(default=None, description="where it came from (URL, vendor)")
    retrieved_at: datetime | None = None
    custodian: str | None = Field(default=None, description="who is responsible for it")
    method: str | None = Field(default=None, description="how it was obtained")


class DataSettings(GateSettings):
    dataset: str | None = Field(default=None, description="CSV/Parquet path or URL#table; "
                                "the run's 'dataset' artifact wins")
    engine: Literal["pandas", "spark"] = "pandas"
    suite: str | None = Field(default=None, description="GX ExpectationSuite JSON file")
    expectations: list[ExpectationSpec] = Field(default_factory=list)
    warning_only: list[str] = Field(default_factory=list, description="ids or types of suite "
                                    "expectations whose failure only warns")
    columns: list[str] | None = Field(default=None, description="the exact columns expected")
    checks: PoisonSettings = Field(default_factory=PoisonSettings)
    public: bool = Field(default=False, description="data from a public source: provenance "
                         "is required")
    provenance: Provenance | None = None
    out_dir: str = ".lifegate/evidence/LG-DATA"
    result_format: Literal["BOOLEAN_ONLY", "BASIC", "SUMMARY", "COMPLETE"] = "SUMMARY"


class DataValidationGate:
    id: ClassVar[str] = "LG-DATA"
    title: ClassVar[str] = "Data validation and poisoning checks"
    phase: ClassVar[Phase] = Phase.DEVELOPMENT
    provisions: ClassVar[tuple[str, ...]] = (P_VALIDATE, P_PROVENANCE_FIELDS)
    Settings: ClassVar[type[DataSettings]] = DataSettings

    def __init__(self, settings: DataSettings, policy: Policy) -> None:
        self.settings = settings
        self.policy = policy
        self.where = f"{policy.source}: gates.{self.id}.settings"

    def _expects(self) -> tuple[str, list[Expect]]:
        s = self.settings
        if s.suite is None and not s.expectations:
            raise ConfigError("LG-DATA has no expectations to run", where=self.where,
                              fix="set `suite` (a GX suite JSON file) or `expectations`")
        expects: list[Expect] = []
        name = "lifegate"
        if s.suite is not None:
            name, expects = expects_from_suite(self.policy.resolve(s.suite),
                                               set(s.warning_only))
        inline = expects_from_settings([e.model_dump() for e in s.expectations], self.where)
        return name, expects + inline

    def _load(self, value: str | None, role: str, pool: ThreadPoolExecutor) -> Dataset:
        if not value:
            raise ConfigError(f"no {role} given", where=self.where,
                              fix=f"pass the {role} on the command line or set it in the policy")
        return load_dataset(parse_spec(value, self.policy.base_dir), self.settings.engine, pool)

    def check(self, context: RunContext) -> GateResult:
        name, expects = self._expects()
        with ThreadPoolExecutor(max_workers=2) as pool:
            data = self._load(context.artifacts.get("dataset") or self.settings.dataset,
                              "dataset", pool)
            ref_value = context.artifacts.get("reference") or self.settings.checks.reference
            ref = self._load(ref_value, "reference dataset", pool) if ref_value else None
            if ref is not None:
                same_columns(data, ref)
            findings = self._schema(data)
            validation, outcomes = run_suite(data, name, expects, self.settings.suite
                                             or self.where, self.settings.result_format)
            checks = run_checks(data.frame, None if ref is None else ref.frame,
                                self.settings.checks)
            if self.settings.result_format == "BOOLEAN_ONLY":  # no data values in evidence
                for c in checks:
                    c.details.pop("unseen_values", None)
            subjects = [Subject(name=data.subject_name("dataset"), sha256=data.sha256)]
            if ref is not None:
                subjects.append(Subject(name=ref.subject_name("reference"), sha256=ref.sha256))
        findings += _expectation_findings(outcomes, data.name)
        findings += self._check_findings(checks, data.name)
        findings += self._provenance()
        summary = self._summary(data, outcomes, checks)
        evidence = self._write(context, validation, summary)
        claimed = [P_VALIDATE, *([P_PROVENANCE_FIELDS] if self.settings.public else [])]
        return GateResult.from_findings(
            self.id, findings, subjects=subjects, evidence=evidence, provisions=claimed,
            checked={p: CHECKED[p] for p in claimed},
            metrics=_metrics(data, outcomes, checks),
            details={"summary": summary}, tool_versions=_versions())

    def _schema(self, data: Dataset) -> list[Finding]:
        wanted = self.settings.columns
        if wanted is None:
            return []
        have = [str(c) for c in data.frame.columns]
        missing = [c for c in wanted if c not in have]
        extra = [c for c in have if c not in wanted]
        if not missing and not extra:
            return []
        return [Finding(rule="DATA-SCHEMA", provision=P_VALIDATE, location=data.name,
                        message=f"columns of {data.name} do not match the policy: missing "
                        f"{missing or 'none'}, unexpected {extra or 'none'}")]

    def _check_findings(self, checks: list[CheckResult], where: str) -> list[Finding]:
        warn = set(self.settings.checks.warning_only)
        out = []
        for c in checks:
            if c.skipped:
                out.append(Finding(rule=f"DATA-{_rule(c.name)}-SKIPPED", blocking=False,
                                   severity=Severity.INFO, location=where, provision=P_POISON,
                                   message=f"{c.name} not checked: {c.skipped}"))
            elif c.failed:
                col = c.details.get("worst_column")
                out.append(Finding(rule=f"DATA-{_rule(c.name)}", provision=P_POISON,
                                   blocking=c.name not in warn, severity=Severity.HIGH
                                   if c.name not in warn else Severity.MEDIUM,
                                   location=f"{where}: {col}" if col else where,
                                   message=f"{c.name.replace('_', ' ')} {c.value:.4g} exceeds "
                                   f"the threshold {c.threshold:g}" + (
                                       f" (column {col})" if col else "") + _unseen_text(c)))
        return out

    def _provenance(self) -> list[Finding]:
        if not self.settings.public:
            return []
        p = self.settings.provenance
        missing = [k for k in ("source", "retrieved_at", "custodian")
                   if p is None or not getattr(p, k)]
        if not missing:
            return []
        return [Finding(rule="DATA-PROVENANCE", location=self.where,
                        provision=P_PROVENANCE_FIELDS,
                        message="the dataset is declared public, and its provenance record "
                        f"lacks {', '.join(missing)}: set gates.LG-DATA.settings.provenance")]

    def _summary(self, data: Dataset, outcomes: list[Outcome],
                 checks: list[CheckResult]) -> dict[str, Any]:
        failed = [o for o in outcomes if not o.success]
        return {
            "dataset": {"name": data.name, "rows": len(data.frame),
                        "columns": len(data.frame.columns), "engine": data.engine},
            "expectations": {"evaluated": len(outcomes),
                             "successful": len(outcomes) - len(failed),
                             "failed": [_outcome_dict(o) for o in failed]},
            "checks": {c.name: {"value": c.value, "threshold": c.threshold,
                                "failed": c.failed, "skipped": c.skipped, **c.details}
                       for c in checks},
            "provenance": None if self.settings.provenance is None
            else self.settings.provenance.model_dump(mode="json"),
            "public": self.settings.public,
        }

    def _write(self, context: RunContext, validation: dict[str, Any],
               summary: dict[str, Any]) -> list[Evidence]:
        out = self.policy.resolve(self.settings.out_dir)
        return [write_json(out / f"{context.run_id}.validation.json", validation,
                           "gx-validation-result"),
                write_json(out / f"{context.run_id}.summary.json", summary,
                           "data-validation-summary")]


def _rule(name: str) -> str:
    return name.upper().replace("_", "-")


def _unseen_text(c: CheckResult) -> str:
    values = c.details.get("unseen_values") or {}
    col = c.details.get("worst_column")
    return f"; unseen values: {', '.join(values[col][:5])}" if col in values else ""


def _outcome_dict(o: Outcome) -> dict[str, Any]:
    keep = ("element_count", "unexpected_count", "unexpected_percent", "observed_value",
            "missing_count")
    return {"id": o.expect.key, "type": o.expect.type, "kwargs": o.expect.kwargs,
            "blocking": o.expect.blocking, "error": o.error,
            "result": {k: o.result[k] for k in keep if k in o.result}}


def _expectation_findings(outcomes: list[Outcome], where: str) -> list[Finding]:
    out = []
    for o in outcomes:
        if o.success:
            continue
        e = o.expect
        if o.error is not None:
            out.append(Finding(rule="DATA-EXPECTATION-ERROR", provision=P_VALIDATE,
                               location=f"{where}: {e.key}",
                               message=f"expectation {e.key} ({e.type}) could not run: "
                               f"{o.error}"))
            continue
        detail = _outcome_dict(o)["result"]
        shown = ", ".join(f"{k} {v}" for k, v in detail.items() if k != "element_count")
        out.append(Finding(rule="DATA-EXPECTATION", provision=P_VALIDATE,
                           blocking=e.blocking,
                           severity=Severity.HIGH if e.blocking else Severity.MEDIUM,
                           location=f"{where}: {e.key}",
                           message=f"expectation {e.key} ({e.type}) failed"
                           + (f": {shown}" if shown else "")))
    return out


def _metrics(data: Dataset, outcomes: list[Outcome],
             checks: list[CheckResult]) -> dict[str, float]:
    m = {"rows": float(len(data.frame)), "columns": float(len(data.frame.columns)),
         "expectations": float(len(outcomes)),
         "expectations_failed": float(sum(not o.success for o in outcomes))}
    m.update({c.name: float(c.value) for c in checks if c.value is not None})
    return m


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("great-expectations", "pandas"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unavailable"
    return out
