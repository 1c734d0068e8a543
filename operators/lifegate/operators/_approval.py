"""Airflow's human-in-the-loop approval, recorded as an approver's signed decision.

:class:`ReleaseApprovalOperator`: ``execute`` records the approval request for the current
release digests (so the requester is known for separation of duties) and asks the people in
Airflow's UI ("Required actions"). When someone answers, ``execute_complete`` maps the Airflow
user to a configured approver, signs the decision with that approver's own key (from the
connection ``lifegate_approver_<name>``), records it through :meth:`ApprovalGate.decide`, then
runs the LG-APPROVE gate once: a rejection, a missing role, a self-approval or a short quorum
fails the task (no retries), so the release does not happen.

:class:`RetirementApprovalOperator`: the same for a retirement plan's digest, answered by a data
custodian; LG-RETIRE checks the quorum when it runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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

__all__ = ["ReleaseApprovalOperator", "RetirementApprovalOperator"]

GATE_ID = "LG-APPROVE"


class _SignedDecision(ApprovalOperator):
    """An Airflow approval whose answer becomes an approver's signed decision in the ledger."""

    def __init__(self, *, policy: str | None, approvers: Mapping[str, str] | None,
                 subject: str, body: str | None, lifegate_conn_id: str, **kwargs: Any) -> None:
        kwargs.setdefault("retries", 0)
        kwargs.setdefault("params", {"comment": Param("", type="string", title="Comment")})
        super().__init__(subject=subject, body=body, **kwargs)
        self.policy = policy
        self.approvers = dict(approvers or {})
        self.lifegate_conn_id = lifegate_conn_id

    def _answer(self, context: Context, event: dict[str, Any]
                ) -> tuple[str, Literal["approve", "reject"], str]:
        """Who answered (as an approver name in the policy), their decision and comment."""
        ret = HITLOperator.execute_complete(self, context=context, event=event)
        user = ret["responded_by_user"] or {}
        person = self.approvers.get(str(user.get("id"))) or str(user.get("name") or
                                                                  user.get("id"))
        decision: Literal["approve", "reject"] = (
            "approve" if ret["chosen_options"] == [self.APPROVE] else "reject")
        return person, decision, str((ret["params_input"] or {}).get("comment") or "")

    def _hook(self) -> Any:
        from lifegate.operators._hook import LifegateHook

        return LifegateHook(self.lifegate_conn_id)

    def _ask(self, context: Context, what: str) -> Any:
        """Ask in Airflow's "Required actions", with ``what`` is approved added to the body."""
        self.body = (f"{self.body}\n\n" if self.body else "") + what
        return super().execute(context)

    @contextmanager
    def _recording(self, decision: str, person: str) -> Iterator[Policy]:
        """The policy, for recording the decision; a lifegate error fails the task, no retry."""
        from lifegate.core import LifegateError

        try:
            with self._hook().policy(self.policy) as policy:
                yield policy
        except LifegateError as exc:
            raise LifegateConfigFailure(f"the {decision} by {person} could not be recorded:\n"
                                        f"{exc.diagnostics()}") from None


class ReleaseApprovalOperator(_SignedDecision):
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
        super().__init__(policy=policy, approvers=approvers, subject=subject, body=body,
                         lifegate_conn_id=lifegate_conn_id, **kwargs)
        self.model = model
        self.requested_by = requested_by

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
        return self._ask(context, f"Requested by **{ctx.actor}** (ledger record {ref}).\n\n"
                                  f"You approve exactly these digests:\n{digests}")

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        from lifegate.core import run_gate_by_id

        person, decision, comment = self._answer(context, event)
        with self._recording(decision, person) as policy:
            ctx = self._context(policy, context, person)
            self._gate(policy).decide(
                approver=person, signer=self._hook().approver_signer(person),
                decision=decision, comment=comment, front_end="airflow-hitl", context=ctx)
            run = run_gate_by_id(GATE_ID, policy, ctx, raise_on_block=False)
        summary = {**summarize(run), "decision": decision, "approver": person}
        context["ti"].xcom_push(key=RESULT_XCOM_KEY, value=summary)
        if run.result.verdict.blocks:
            raise LifegateGateFailed(summary)
        return summary

    def _gate(self, policy: Policy) -> ApprovalGate:
        from lifegate.core import load_gate

        return cast("ApprovalGate", load_gate(GATE_ID, policy))

    def _context(self, policy: Policy, context: Context, actor: str | None) -> RunContext:
        from lifegate.core import Phase

        return airflow_run_context(policy, context, Phase.DEPLOYMENT, {"model": self.model},
                                   actor, self.owner)


class RetirementApprovalOperator(_SignedDecision):
    """Ask a data custodian, in Airflow's UI, to approve a retirement plan; record their
    decision signed with their own key (connection ``lifegate_approver_<name>``).

    The approval covers the plan's exact digest (the plan task recorded the request, so the
    requester is known). A rejection, a responder who is not a configured data custodian, or a
    key that is not theirs fails the task, and LG-RETIRE downstream never runs.

    :param plan: the plan, relative to the policy's folder (as RetirementOperator takes it).
    :param approvers: Airflow user id -> approver name in the policy (default: the same name).
    """

    template_fields = (*ApprovalOperator.template_fields, "plan", "policy")

    def __init__(self, *, plan: str = "retirement.yaml", policy: str | None = None,
                 approvers: Mapping[str, str] | None = None,
                 subject: str = "Approve the retirement plan", body: str | None = None,
                 lifegate_conn_id: str = "lifegate_default", **kwargs: Any) -> None:
        super().__init__(policy=policy, approvers=approvers, subject=subject, body=body,
                         lifegate_conn_id=lifegate_conn_id, **kwargs)
        self.plan = plan

    def execute(self, context: Context) -> Any:
        from lifegate.core import LifegateError
        from lifegate.gates._retire_plan import load_plan

        try:
            with self._hook().policy(self.policy) as policy:
                path = policy.resolve(self.plan)
                plan = load_plan(path)
        except LifegateError as exc:
            raise LifegateConfigFailure(f"the retirement plan cannot be read:\n"
                                        f"{exc.diagnostics()}") from None
        files = sum(len(a.files) for a in plan.assets)
        return self._ask(context, f"Plan `{path.name}`: {len(plan.assets)} assets, {files} "
                                  f"files, actions "
                                  f"{', '.join(sorted({a.action for a in plan.assets}))}.\n\n"
                                  f"You approve exactly this plan: `sha256:{plan.digest()}`")

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        from lifegate.gates.retirement import record_plan_decision

        person, decision, comment = self._answer(context, event)
        with self._recording(decision, person) as policy:
            ref, digest = record_plan_decision(policy, policy.resolve(self.plan), person,
                                               self._hook().approver_signer(person), decision,
                                               comment)
        summary = {"plan": self.plan, "digest": digest, "decision": decision,
                   "approver": person, "record": str(ref), "ledger_seq": ref.seq}
        context["ti"].xcom_push(key=RESULT_XCOM_KEY, value=summary)
        if decision == "reject":
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"{person} rejected retirement plan {digest[:12]}: "
                                       f"{comment or 'no comment'} (ledger record {ref})")
        return summary


def _note(ctx: RunContext) -> str:
    refs = ctx.platform.refs
    return f"Airflow {refs.get('dag_id')}/{refs.get('run_id')}/{refs.get('task_id')}"
