"""LG-DRIFT: compare current data (and predictions) with a reference, feature by feature,
with PSI and the Kolmogorov-Smirnov statistic; thresholds in the policy. Writes a JSON drift
report and a self-contained HTML page (one chart per drifting feature) as evidence.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from typing import Any, ClassVar, Final

from pydantic import Field

from lifegate.core.errors import ConfigError
from lifegate.core.gate import GateSettings
from lifegate.core.model import Finding, GateResult, Phase, RunContext, Severity, Subject
from lifegate.core.policy import Policy
from lifegate.gates._data_drift import FeatureDrift, feature_drift
from lifegate.gates._data_load import (
    Dataset,
    check_columns,
    load_dataset,
    parse_spec,
    same_columns,
)
from lifegate.gates._data_report import drift_html, write_evidence, write_json

__all__ = ["DriftGate", "DriftSettings"]

# 5.4.2-2: drift of the data (and of the predictions, a change of the model's behaviour)
# against a reference is the analysis that catches gradual shifts. Not 5.4.2-4 (performance
# tracked over time): a shift of the prediction distribution between two samples is not a
# measure of the model's performance.
P_DRIFT: Final = "5.4.2-2"


class DriftSettings(GateSettings):
    reference: str | None = Field(default=None, description="the run's 'reference' wins")
    current: str | None = Field(default=None, description="the run's 'current' wins")
    features: list[str] | None = Field(default=None, description="default: every column "
                                       "except the prediction column")
    categorical: list[str] = Field(default_factory=list, description="numeric columns to "
                                   "treat as categories (non-numeric ones always are)")
    prediction_column: str | None = None
    bins: int = Field(default=10, ge=2, le=100)
    max_categories: int = Field(default=20, ge=1, le=200)
    psi_threshold: float = Field(default=0.2, gt=0)
    ks_threshold: float = Field(default=0.1, gt=0, le=1)
    ks_alpha: float = Field(default=0.01, gt=0, lt=1)
    blocking: bool = Field(default=True, description="false: drift is reported, not blocking")
    out_dir: str = ".lifegate/evidence/LG-DRIFT"


class DriftGate:
    id: ClassVar[str] = "LG-DRIFT"
    title: ClassVar[str] = "Data and prediction drift"
    phase: ClassVar[Phase] = Phase.MAINTENANCE
    provisions: ClassVar[tuple[str, ...]] = (P_DRIFT,)
    Settings: ClassVar[type[DriftSettings]] = DriftSettings

    def __init__(self, settings: DriftSettings, policy: Policy) -> None:
        self.settings = settings
        self.policy = policy
        self.where = f"{policy.source}: gates.{self.id}.settings"

    def _load(self, context: RunContext, role: str, pool: ThreadPoolExecutor) -> Dataset:
        value = context.artifacts.get(role) or getattr(self.settings, role)
        if not value:
            raise ConfigError(f"no {role} dataset given", where=self.where,
                              fix=f"pass --{role}, or set `{role}` in the gate's settings")
        return load_dataset(parse_spec(value, self.policy.base_dir), pool=pool)

    def _columns(self, ref: Dataset) -> list[str]:
        s = self.settings
        if s.prediction_column is not None:
            check_columns(ref.frame, [s.prediction_column], "prediction_column", self.where)
        if s.features is not None:
            check_columns(ref.frame, s.features, "features", self.where)
            return list(s.features)
        return [str(c) for c in ref.frame.columns if str(c) != s.prediction_column]

    def check(self, context: RunContext) -> GateResult:
        s = self.settings
        with ThreadPoolExecutor(max_workers=2) as pool:
            ref = self._load(context, "reference", pool)
            cur = self._load(context, "current", pool)
            same_columns(cur, ref)
            features = [self._drift(ref, cur, c) for c in self._columns(ref)]
            prediction = None if s.prediction_column is None else \
                self._drift(ref, cur, s.prediction_column)
            subjects = [Subject(name=ref.subject_name("reference"), sha256=ref.sha256),
                        Subject(name=cur.subject_name("current"), sha256=cur.sha256)]
        report = self._report(context, ref, cur, features, prediction)
        out = self.policy.resolve(s.out_dir)
        evidence = [write_json(out / f"{context.run_id}.drift.json", report, "drift-report"),
                    write_evidence(out / f"{context.run_id}.drift.html", drift_html(report),
                                   "drift-report-html", "text/html")]
        drifting = [f for f in features if f.drift]
        metrics = {"features": float(len(features)), "drifting": float(len(drifting)),
                   "max_psi": max((f.psi for f in features), default=0.0),
                   "max_ks": max((f.ks or 0.0 for f in features), default=0.0),
                   "rows_reference": float(len(ref.frame)),
                   "rows_current": float(len(cur.frame))}
        if prediction is not None:
            metrics["prediction_psi"] = prediction.psi
        findings = self._findings(drifting, prediction, cur.name)
        findings += self._small_sample(len(ref.frame), len(cur.frame))
        checked: dict[str, tuple[str, ...]] = {P_DRIFT: ()}
        return GateResult.from_findings(
            self.id, findings, subjects=subjects, checked=checked,
            evidence=evidence, metrics=metrics,
            details={"drifting": [f.name for f in drifting],
                     "prediction_drift": bool(prediction and prediction.drift)},
            tool_versions=_versions())

    def _drift(self, ref: Dataset, cur: Dataset, column: str) -> FeatureDrift:
        s = self.settings
        r = ref.frame[column]
        labels = column == s.prediction_column and r.dtype.kind in "iub" and \
            r.nunique() <= s.max_categories  # class predictions: compare as categories
        f = feature_drift(column, r, cur.frame[column], s.bins, s.max_categories,
                          column in s.categorical or labels)
        ks_drift = f.ks is not None and f.ks_pvalue is not None and \
            f.ks > s.ks_threshold and f.ks_pvalue < s.ks_alpha
        f.drift = f.psi > s.psi_threshold or ks_drift
        return f

    def _findings(self, drifting: list[FeatureDrift], prediction: FeatureDrift | None,
                  where: str) -> list[Finding]:
        s = self.settings
        sev = Severity.HIGH if s.blocking else Severity.MEDIUM
        out = [Finding(rule="DRIFT-FEATURE", provision=P_DRIFT, blocking=s.blocking,
                       severity=sev, location=f"{where}: {f.name}",
                       message=f"feature {f.name} drifted: {_stats(f)}") for f in drifting]
        if prediction is not None and prediction.drift:
            out.append(Finding(rule="DRIFT-PREDICTION", provision=P_DRIFT,
                               blocking=s.blocking, severity=sev,
                               location=f"{where}: {prediction.name}",
                               message=f"predictions ({prediction.name}) shifted: "
                               f"{_stats(prediction)}"))
        return out

    def _small_sample(self, n_ref: int, n_cur: int) -> list[Finding]:
        """PSI of two samples of one distribution is about (bins-1)(1/n_ref + 1/n_cur)."""
        noise = (self.settings.bins - 1) * (1 / n_ref + 1 / n_cur)
        if noise < self.settings.psi_threshold / 4:
            return []
        return [Finding(rule="DRIFT-SMALL-SAMPLE", blocking=False, severity=Severity.INFO,
                        provision=P_DRIFT, message=f"with {n_ref} and {n_cur} rows, PSI is "
                        f"about {noise:.3f} from sampling noise alone (threshold "
                        f"{self.settings.psi_threshold:g}): use more rows or fewer bins")]

    def _report(self, context: RunContext, ref: Dataset, cur: Dataset,
                features: list[FeatureDrift], prediction: FeatureDrift | None,
                ) -> dict[str, Any]:
        s = self.settings
        return {
            "system": context.system, "version": context.system_version,
            "run_id": context.run_id,
            "reference": {"name": ref.name, "rows": len(ref.frame), "sha256": ref.sha256},
            "current": {"name": cur.name, "rows": len(cur.frame), "sha256": cur.sha256},
            "thresholds": {"psi": s.psi_threshold, "ks": s.ks_threshold,
                           "ks_alpha": s.ks_alpha, "bins": s.bins},
            "features": [f.as_dict() for f in features],
            "prediction": None if prediction is None else prediction.as_dict(),
        }


def _stats(f: FeatureDrift) -> str:
    ks = "" if f.ks is None else f", KS {f.ks:.3f} (p {f.ks_pvalue:.2g})"
    return f"PSI {f.psi:.3f}{ks}"


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("numpy", "pandas", "scipy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unavailable"
    return out
