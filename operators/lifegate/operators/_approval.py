"""ReleaseApprovalOperator: Airflow's human-in-the-loop approval, recorded as LG-APPROVE.

``execute`` records the approval request for the current release digests (so the requester is
known for separation of duties) and asks the people in Airflow's UI ("Required actions").
When someone answers, ``execute_complete`` maps the Airflow user to a configured approver,
signs the decision with that approver's own key (from the connection
``lifegate_approver_<name>``), records it through :meth:`ApprovalGate.decide`, then runs the
LG-APPROVE gate once: a rejection, a missing role, a self-approval or a short quorum fails the
task (no retries), so the release does not happen.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk import Param

from lifegate.operators._base import (
    RESULT_XCOM_KEY,
    LifegateConfigFailure,
    LifegateGateFailed,
    airflow_run_context,
    summarize,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from lifegate.core import Policy, RunContext
    from lifegate.gates.approval import ApprovalGate

__all__ = ["ReleaseApprovalOperator"]

GATE_ID = "LG-APPROVE"


class ReleaseApprovalOperator(ApprovalOperator):
    """Ask a person to approve the model release; record their signed decision.

    :param model: the released model (its signed release manifest gives the digests).
    :param policy: path of ``lifegate.yaml`` (default: the connection's, else the environment).
    :param requested_by: who asks for the release (default: the run's triggering user, else the
        task owner); they may not approve it when the policy separates duties.
    :param approvers: Airflow user id -> approver name in the policy (default: the same name).
    """

    template_fields = (*ApprovalOperator.template_fields, "model", "policy", "requested_by")
    gate_id = GATE_ID

    def __init__(self, *, model: str | None = None, policy: str | None = None,
                 requested_by: str | None = None, approvers: Mapping[str, str] | None = None,
                 subject: str = "Approve the model release", body: str | None = None,
                 lifegate_conn_id: str = "lifegate_default", **kwargs: Any) -> None:
        kwargs.setdefault("retries", 0)
        kwargs.setdefault("params", {"comment": Param("", type="string", title="Comment")})
        super().__init__(subject=subject, body=body, **kwargs)
        self.model = model
        self.policy = policy
        self.requested_by = requested_by
        self.approvers = dict(approvers or {})
        self.lifegate_conn_id = lifegate_conn_id

    def execute(self, context: Context) -> Any:
        from lifegate.core import LifegateError

        try:
            with self._hook().policy(self.policy) as policy:
                ctx = self._context(policy, context, self.requested_by)
                ref, subjects = self._gate(policy).request(ctx.actor, context=ctx,
                                                           note=_note(ctx))
        except LifegateError as exc:
            raise LifegateConfigFailure(f"approval of the release cannot be requested:\n"
                                        f"{exc.diagnostics()}") from None
        digests = "\n".join(f"- {k}: `sha256:{v}`" for k, v in sorted(subjects.items()))
        self.body = (f"{self.body}\n\n" if self.body else "") + (
            f"Requested by **{ctx.actor}** (ledger record {ref}).\n\n"
            f"You approve exactly these digests:\n{digests}")
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        from lifegate.core import LifegateError, run_gate_by_id

        ret = HITLOperator.execute_complete(self, context=context, event=event)
        user = ret["responded_by_user"] or {}
        person = self.approvers.get(str(user.get("id"))) or str(user.get("name") or
                                                                  user.get("id"))
        decision: Literal["approve", "reject"] = (
            "approve" if ret["chosen_options"] == [self.APPROVE] else "reject")
        comment = str((ret["params_input"] or {}).get("comment") or "")
        try:
            with self._hook().policy(self.policy) as policy:
                ctx = self._context(policy, context, person)
                self._gate(policy).decide(
                    approver=person, signer=self._hook().approver_signer(person),
                    decision=decision, comment=comment, front_end="airflow-hitl", context=ctx)
                run = run_gate_by_id(GATE_ID, policy, ctx, raise_on_block=False)
        except LifegateError as exc:
            raise LifegateConfigFailure(f"the {decision} by {person} could not be recorded:\n"
                                        f"{exc.diagnostics()}") from None
        summary = {**summarize(run), "decision": decision, "approver": person}
        context["ti"].xcom_push(key=RESULT_XCOM_KEY, value=summary)
        if run.result.verdict.blocks:
            raise LifegateGateFailed(summary)
        return summary

    def _hook(self) -> Any:
        from lifegate.operators._hook import LifegateHook

        return LifegateHook(self.lifegate_conn_id)

    def _gate(self, policy: Policy) -> ApprovalGate:
        from lifegate.core import load_gate

        return cast("ApprovalGate", load_gate(GATE_ID, policy))

    def _context(self, policy: Policy, context: Context, actor: str | None) -> RunContext:
        from lifegate.core import Phase

        return airflow_run_context(policy, context, Phase.DEPLOYMENT, {"model": self.model},
                                   actor, self.owner)


def _note(ctx: RunContext) -> str:
    refs = ctx.platform.refs
    return f"Airflow {refs.get('dag_id')}/{refs.get('run_id')}/{refs.get('task_id')}"
