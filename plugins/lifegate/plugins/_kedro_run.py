"""One Kedro run as lifegate sees it: the policy, the catalog, and one core call per gate."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from lifegate.core.errors import ConfigError, GateFailed, LifegateError
from lifegate.core.model import (
    Finding,
    GateResult,
    Phase,
    PlatformRef,
    RunContext,
    Severity,
    Verdict,
)
from lifegate.core.policy import Policy
from lifegate.plugins._kedro_config import LifegateConfig, with_settings

__all__ = ["KedroGateFailed", "KedroRun", "RunFailure", "dataset_path"]

log = logging.getLogger(__name__)

RUN_GATE_ID = "KEDRO-RUN"


class KedroGateFailed(GateFailed):
    """A gate blocked the Kedro run; the message names the hook, the dataset and the record."""

    def __init__(self, failed: GateFailed, hook: str, dataset: str | None) -> None:
        super().__init__(failed.result, evidence_ref=failed.evidence_ref)
        self.hook = hook
        self.dataset = dataset
        about = f"dataset '{dataset}'" if dataset else "the pipeline"
        self.message = (f"lifegate stopped the Kedro run: gate {failed.result.gate_id} blocked "
                        f"{about} ({hook})\n{failed.message}")


class RunFailure:
    """Records a failed Kedro run in the ledger through the core (verdict ``error``)."""

    id: ClassVar[str] = RUN_GATE_ID
    title: ClassVar[str] = "Kedro run failure"
    phase: ClassVar[Phase] = Phase.DEVELOPMENT
    provisions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, error: BaseException, hook: str, node: str | None) -> None:
        self.error, self.hook, self.node = error, hook, node

    def check(self, context: RunContext) -> GateResult:
        where = f"node {self.node}" if self.node else self.hook
        gate = self.error.result.gate_id if isinstance(self.error, GateFailed) else None
        text = getattr(self.error, "message", None) or str(self.error)
        message = (f"the Kedro run failed in {where}: {type(self.error).__name__}: "
                   f"{text.splitlines()[0] if text else ''}")
        return GateResult(gate_id=self.id, verdict=Verdict.ERROR, findings=[Finding(
            rule="KEDRO-RUN-FAILED", message=message, severity=Severity.HIGH,
            location=where)], details={"hook": self.hook, "node": self.node,
                                       "error_type": type(self.error).__name__,
                                       "blocked_by_gate": gate})


def dataset_path(catalog: Any, name: str) -> str:
    """The file behind a catalog dataset (``protocol://path`` for remote ones)."""
    dataset = catalog.get(name) if catalog is not None else None
    if dataset is None:
        raise ConfigError(f"dataset {name!r} is not in the Kedro catalog",
                          fix="check the name in conf/<env>/lifegate.yml")
    path: Any = None
    if callable(getattr(dataset, "_get_load_path", None)):
        path = dataset._get_load_path()
    path = path or getattr(dataset, "_filepath", None) or getattr(dataset, "filepath", None)
    if path is None and callable(getattr(dataset, "_describe", None)):
        path = dataset._describe().get("filepath")
    if not path:
        raise ConfigError(f"dataset {name!r} ({type(dataset).__name__}) has no file path "
                          "that lifegate could check", where="conf/<env>/lifegate.yml",
                          fix="point the rule at a file-backed dataset, or remove it")
    protocol = getattr(dataset, "_protocol", None)
    text = str(path)
    return f"{protocol}://{text}" if protocol and protocol != "file" and "://" not in text \
        else text


@dataclass
class KedroRun:
    """State of one session's run; every gate runs through :meth:`gates`."""

    config: LifegateConfig
    catalog: Any = None
    refs: dict[str, str] = field(default_factory=dict)
    saved: set[str] = field(default_factory=set)
    failed_node: str | None = None
    failure_recorded: bool = False
    timings: dict[str, list[datetime]] = field(default_factory=dict)

    @property
    def policy(self) -> Policy:
        return self.config.policy

    def start(self, run_params: dict[str, Any], catalog: Any) -> None:
        self.catalog = catalog
        pipelines = run_params.get("pipeline_names") or ["__default__"]
        self.refs = {"session_id": str(run_params.get("run_id") or ""),
                     "env": self.config.env,
                     "pipeline": ",".join(pipelines),
                     "project": str(run_params.get("project_path") or "")}

    def context(self, phase: Phase, hook: str, artifacts: dict[str, str],
                dataset: str | None = None, node: str | None = None) -> RunContext:
        from lifegate.core.engine import make_context

        refs = {**self.refs, "hook": hook}
        refs.update({k: v for k, v in (("dataset", dataset), ("node", node)) if v})
        return make_context(self.policy, phase, artifacts=artifacts,
                            platform=PlatformRef(name="kedro", refs=refs))

    def policy_for(self, gate_id: str, overrides: dict[str, Any]) -> Policy:
        """The policy with a rule's per-dataset settings merged into the gate's settings."""
        return with_settings(self.policy, gate_id, overrides)

    def gates(self, gate_ids: list[str], hook: str, *, artifacts: dict[str, str] | None = None,
              dataset: str | None = None, node: str | None = None,
              settings: dict[str, dict[str, Any]] | None = None) -> None:
        """Run each enabled gate: one core call each; a block raises KedroGateFailed."""
        from lifegate.core.engine import run_gate_by_id
        from lifegate.core.gate import gate_class

        for gate_id in gate_ids:
            if not self.policy.gate(gate_id).enabled:
                log.info("lifegate: %s is disabled in the policy; skipped at %s", gate_id, hook)
                continue
            policy = self.policy_for(gate_id, (settings or {}).get(gate_id, {}))
            ctx = self.context(gate_class(gate_id).phase, hook, artifacts or {}, dataset, node)
            try:
                run_gate_by_id(gate_id, policy, ctx)
            except GateFailed as exc:
                raise KedroGateFailed(exc, hook, dataset) from None

    def record_failure(self, error: BaseException, hook: str) -> None:
        """Record the failed run once, through the core; never hide the original error."""
        from lifegate.core.engine import run_gate

        if self.failure_recorded or not self.config.kedro.record_errors:
            return
        self.failure_recorded = True
        ctx = self.context(Phase.DEVELOPMENT, hook, {}, node=self.failed_node)
        try:
            run = run_gate(RunFailure(error, hook, self.failed_node), ctx, self.policy,
                           raise_on_block=False)
        except LifegateError as exc:
            log.error("lifegate could not record the failed run: %s", exc.diagnostics())
            return
        log.warning("lifegate recorded the failed Kedro run as %s", run.record)

    def guarded(self, hook: str, action: Any, *args: Any) -> None:
        """Run ``action``; record a failure Kedro will not pass to on_pipeline_error."""
        try:
            action(*args)
        except Exception as exc:
            self.record_failure(exc, hook)
            raise

    # -- what each hook does ---------------------------------------------------------------

    def before_pipeline(self) -> None:
        self.gates(self.config.pre_run_gates(), "before_pipeline_run")

    def dataset_loaded(self, name: str, node: str | None) -> None:
        for rule in self.config.dataset_rules(name):
            self.gates(rule.gates, "after_dataset_loaded", dataset=name, node=node,
                       artifacts={"dataset": dataset_path(self.catalog, name)},
                       settings=rule.settings)

    def model_loading(self, name: str, node: str | None) -> None:
        rule = self.config.model_rule(name)
        if rule is None:
            return
        gate_ids = rule.before_load_same_run if name in self.saved else rule.before_load
        self.gates(gate_ids, "before_dataset_loaded", dataset=name, node=node,
                   artifacts={"model": dataset_path(self.catalog, name)},
                   settings=rule.settings)

    def after_pipeline(self, pipeline: Any) -> None:
        for name in sorted(self.saved):
            rule = self.config.model_rule(name)
            if rule is None:
                continue
            settings = dict(rule.settings)
            if "LG-SBOM" in rule.after_run:
                from lifegate.plugins._kedro_formulation import formulation

                steps = formulation(pipeline, self.catalog, self.timings)
                settings["LG-SBOM"] = {**settings.get("LG-SBOM", {}), "formulation": steps}
            self.gates(rule.after_run, "after_pipeline_run", dataset=name,
                       artifacts={"model": dataset_path(self.catalog, name)}, settings=settings)

    def node_started(self, node: str) -> None:
        self.timings[node] = [datetime.now(UTC)]

    def node_finished(self, node: str) -> None:
        self.timings.setdefault(node, [datetime.now(UTC)]).append(datetime.now(UTC))

