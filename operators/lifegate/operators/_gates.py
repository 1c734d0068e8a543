"""One operator per lifegate gate: the gate id and its artifact arguments, nothing else.

Every argument is keyword-only and templated (paths go into ``artifacts``); everything else
comes from :class:`lifegate.operators.LifegateGateOperator`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from lifegate.operators._base import LifegateGateOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from lifegate.core import GateRun, Policy

__all__ = [
    "ApprovalGateOperator",
    "DataValidationGateOperator",
    "DisclosureGateOperator",
    "DriftGateOperator",
    "InventoryGateOperator",
    "ModelScanGateOperator",
    "RetirementOperator",
    "SbomGateOperator",
    "SignModelOperator",
    "ThreatModelGateOperator",
    "VerifyModelOperator",
]


def _with(artifacts: dict[str, Any] | None, **roles: str | None) -> dict[str, Any]:
    out = dict(artifacts or {})
    out.update({k: v for k, v in roles.items() if v is not None})
    return out


class _ModelGateOperator(LifegateGateOperator):
    """A gate about a model file or folder (``model``), optionally its ``signature``."""

    def __init__(self, *, model: str | None = None, signature: str | None = None,
                 artifacts: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(artifacts=_with(artifacts, model=model, signature=signature), **kwargs)


class ModelScanGateOperator(_ModelGateOperator):
    """LG-SCAN: model files free of unsafe deserialisation (run before signing or loading)."""

    default_gate_id: ClassVar[str | None] = "LG-SCAN"


class SbomGateOperator(_ModelGateOperator):
    """LG-SBOM: the ML-BOM of environment, model, data and formulation. Unless the policy or
    ``settings`` give a ``formulation``, the DAG's tasks upstream of this one are the steps."""

    default_gate_id: ClassVar[str | None] = "LG-SBOM"

    def run_gate(self, policy: Policy, context: Context) -> GateRun:
        if "formulation" not in self.settings and \
                not policy.gate(self.gate_id).settings.get("formulation"):
            self.settings["formulation"] = dag_formulation(self, context)
        return super().run_gate(policy, context)


def dag_formulation(task: Any, context: Context) -> list[dict[str, Any]]:
    """The upstream tasks of ``task`` in topological order, as SBOM formulation steps."""
    upstream = {t.task_id for t in task.get_flat_relatives(upstream=True)}
    ti = context["ti"]
    return [{"name": t.task_id, "platform": "airflow", "command": type(t).__name__,
             "params": {"dag_id": ti.dag_id, "run_id": ti.run_id}}
            for t in task.dag.topological_sort() if t.task_id in upstream]


class SignModelOperator(_ModelGateOperator):
    """LG-SIGN: sign the model (OpenSSF model-signing format) and start its release."""

    default_gate_id: ClassVar[str | None] = "LG-SIGN"


class VerifyModelOperator(_ModelGateOperator):
    """LG-VERIFY: check the model against its signature, revocations and release manifest.

    With ``expect_refusal=True`` (retirement), the task succeeds only when LG-VERIFY refuses
    the model because its release was revoked.
    """

    default_gate_id: ClassVar[str | None] = "LG-VERIFY"

    def __init__(self, *, expect_refusal: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.expect_refusal = expect_refusal

    def accept(self, summary: dict[str, Any]) -> bool:
        if not self.expect_refusal:
            return super().accept(summary)
        return summary["blocking"] and any(f["rule"] == "VERIFY-REVOKED"
                                           for f in summary["findings"])


class DisclosureGateOperator(_ModelGateOperator):
    """LG-DISCLOSE: end-user disclosure and operator guidance bound to the release."""

    default_gate_id: ClassVar[str | None] = "LG-DISCLOSE"


class ApprovalGateOperator(_ModelGateOperator):
    """LG-APPROVE (check only): valid human approvals exist for the exact release. To ask a
    person from Airflow, use :class:`lifegate.operators.ReleaseApprovalOperator`."""

    default_gate_id: ClassVar[str | None] = "LG-APPROVE"


class RetirementOperator(LifegateGateOperator):
    """LG-RETIRE: retire by an approved ``plan``; dry run unless ``settings={"execute": True}``."""

    default_gate_id: ClassVar[str | None] = "LG-RETIRE"

    def __init__(self, *, plan: str | None = None, artifacts: dict[str, Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(artifacts=_with(artifacts, plan=plan), **kwargs)


class DataValidationGateOperator(LifegateGateOperator):
    """LG-DATA: validate a dataset (Great Expectations suite, schema, poisoning checks)."""

    default_gate_id: ClassVar[str | None] = "LG-DATA"

    def __init__(self, *, dataset: str | None = None, reference: str | None = None,
                 artifacts: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(artifacts=_with(artifacts, dataset=dataset, reference=reference),
                         **kwargs)


class DriftGateOperator(LifegateGateOperator):
    """LG-DRIFT: data and prediction drift of ``current`` against ``reference``."""

    default_gate_id: ClassVar[str | None] = "LG-DRIFT"

    def __init__(self, *, reference: str | None = None, current: str | None = None,
                 artifacts: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(artifacts=_with(artifacts, reference=reference, current=current),
                         **kwargs)


class InventoryGateOperator(LifegateGateOperator):
    """LG-INV: the asset inventory (models, datasets, configs, prompts) with digests."""

    default_gate_id: ClassVar[str | None] = "LG-INV"


class ThreatModelGateOperator(LifegateGateOperator):
    """LG-THREAT: the threat model covers the required threats and is fresh."""

    default_gate_id: ClassVar[str | None] = "LG-THREAT"
