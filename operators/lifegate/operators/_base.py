"""The common base of lifegate's operators: one core call per task, the verdict as XCom.

``execute`` translates the Airflow context into a :class:`lifegate.core.RunContext`, runs the
gate once through :func:`lifegate.core.run_gate_by_id` (which records the statement in the
ledger before it returns), pushes the summary and either returns it (the XCom return value) or
raises :class:`LifegateGateFailed`, which Airflow never retries.

Retries: a verdict is never retried (:class:`LifegateGateFailed`), nor is a gate that cannot run
because of its configuration, keys or a ledger that does not verify
(:class:`LifegateConfigFailure`). What the infrastructure causes (the ledger unreachable, so the
verdict could not be recorded; the worker killed) follows the task's ``retries``, whether set on
the operator or in ``default_args``: :class:`LifegateInfrastructureError` is an ordinary
Airflow error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

if TYPE_CHECKING:
    from airflow.sdk import Context

    from lifegate.core import GateRun, LifegateError, Phase, Policy, RunContext

__all__ = ["LifegateConfigFailure", "LifegateGateFailed", "LifegateGateOperator",
           "LifegateInfrastructureError", "airflow_run_context", "summarize", "task_error"]

RESULT_XCOM_KEY = "lifegate_result"


class LifegateGateFailed(AirflowFailException):
    """A gate blocked the pipeline: names the gate, its findings and where the evidence is."""

    def __init__(self, summary: dict[str, Any]) -> None:
        self.summary = summary
        lines = [f"lifegate gate {summary['gate']} verdict: {summary['verdict']}"]
        lines += [f"  - {f['severity']}: {f['message']}"
                  + (f" [{f['location']}]" if f.get("location") else "")
                  for f in summary["findings"] if f["blocking"] and not f.get("waived_by")]
        lines.append(f"  evidence: ledger record {summary['record']}")
        super().__init__("\n".join(lines))


class LifegateConfigFailure(AirflowFailException):
    """The gate could not run (bad policy, settings, keys or ledger): fail closed, no retry."""


class LifegateInfrastructureError(AirflowException):
    """The evidence could not be read or written (ledger unreachable): the task's retries
    apply. No verdict was returned, so nothing passed."""


def task_error(what: str, exc: LifegateError) -> AirflowException:
    """The Airflow error for a lifegate error: retried only when the infrastructure caused it."""
    from lifegate.core import EvidenceError

    text = f"{what}:\n{exc.diagnostics()}"
    if isinstance(exc, EvidenceError):
        return LifegateInfrastructureError(text)
    return LifegateConfigFailure(text)


def summarize(run: GateRun) -> dict[str, Any]:
    """A JSON-serialisable summary of a gate run (what goes to XCom)."""
    r = run.result
    return {
        "gate": r.gate_id,
        "verdict": r.verdict.value,
        "blocking": r.verdict.blocks,
        "findings": [f.model_dump(mode="json", exclude_none=True) for f in r.findings],
        "subjects": {s.name: s.sha256 for s in r.subjects},
        "evidence": [e.model_dump(mode="json") for e in r.evidence],
        "metrics": dict(r.metrics),
        "provisions": list(r.provisions),
        "record": str(run.record),
        "ledger_seq": run.record.seq,
    }


def _platform_refs(context: Context) -> dict[str, str]:
    ti = context["ti"]
    refs = {"dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id,
            "try_number": str(ti.try_number)}
    if getattr(ti, "map_index", -1) not in (-1, None):
        refs["map_index"] = str(ti.map_index)
    return refs


class LifegateGateOperator(BaseOperator):
    """Run one lifegate gate (any id in ``lifegate.core.GATES``) as an Airflow task.

    :param gate_id: the gate to run; per-gate subclasses set it for you.
    :param policy: path of ``lifegate.yaml`` (default: the connection's, else the environment).
    :param artifacts: role -> path (``model``, ``dataset``, ``reference``, ``current`` ...).
    :param settings: overrides of the gate's settings in the policy (validated, unknown keys
        are errors).
    :param phase: lifecycle phase recorded with the run (default: the gate's own).
    :param actor: who is responsible for this run (default: the run's triggering user, else
        the task owner).
    """

    # lifegate_conn_id is a template field so that the scheduler's serialized DAG keeps it (the
    # audit-trail listener records into the ledger of the connection the gates use)
    template_fields: Sequence[str] = ("policy", "artifacts", "settings", "actor",
                                      "lifegate_conn_id")
    template_fields_renderers: ClassVar[dict[str, str]] = {"artifacts": "json",
                                                             "settings": "json"}
    ui_color = "#dbeafe"
    default_gate_id: ClassVar[str | None] = None

    def __init__(self, *, gate_id: str | None = None, policy: str | None = None,
                 artifacts: Mapping[str, Any] | None = None,
                 settings: Mapping[str, Any] | None = None, phase: str | None = None,
                 actor: str | None = None, lifegate_conn_id: str = "lifegate_default",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        gate = gate_id or self.default_gate_id
        if not gate:
            raise ValueError(f"{type(self).__name__} needs gate_id (one of lifegate's gate ids)")
        self.gate_id = gate
        self.policy = policy
        self.artifacts = dict(artifacts or {})
        self.settings = dict(settings or {})
        self.phase = phase
        self.actor = actor
        self.lifegate_conn_id = lifegate_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        from lifegate.core import LifegateError
        from lifegate.operators._hook import LifegateHook

        try:
            with LifegateHook(self.lifegate_conn_id).policy(self.policy) as policy:
                run = self.run_gate(policy, context)
        except LifegateError as exc:
            raise task_error(f"lifegate gate {self.gate_id} could not run", exc) from None
        summary = summarize(run)
        context["ti"].xcom_push(key=RESULT_XCOM_KEY, value=summary)
        if not self.accept(summary):
            raise LifegateGateFailed(summary)
        self.log.info("lifegate gate %s: %s (evidence %s)", self.gate_id,
                      summary["verdict"], summary["record"])
        return summary

    def accept(self, summary: dict[str, Any]) -> bool:
        """Whether the task succeeds with this verdict (by default: when nothing blocks)."""
        return not summary["blocking"]

    def run_gate(self, policy: Policy, context: Context) -> GateRun:
        """The one core call: settings overridden, context translated, verdict recorded."""
        from lifegate.core import run_gate_by_id
        from lifegate.core.policy import GateConfig

        if self.settings:
            cfg = policy.gates.setdefault(self.gate_id, GateConfig())
            cfg.settings.update(self.settings)
        return run_gate_by_id(self.gate_id, policy, self.run_context(policy, context),
                              raise_on_block=False)

    def run_context(self, policy: Policy, context: Context) -> RunContext:
        from lifegate.core import Phase, gate_class

        phase = Phase(self.phase) if self.phase else gate_class(self.gate_id).phase
        return airflow_run_context(policy, context, phase, self.artifacts, self.actor,
                                   self.owner)


def airflow_run_context(policy: Policy, context: Context, phase: Phase,
                        artifacts: Mapping[str, Any], actor: str | None, owner: str,
                        ) -> RunContext:
    """The core RunContext of an Airflow task: its ids as platform refs, its artifacts."""
    from lifegate.core import PlatformRef, make_context

    dag_run = context.get("dag_run")
    who = actor or getattr(dag_run, "triggering_user_name", None) or owner
    return make_context(policy, phase, actor=str(who),
                        platform=PlatformRef(name="airflow", refs=_platform_refs(context)),
                        artifacts={k: str(v) for k, v in artifacts.items()
                                   if v not in (None, "")})
