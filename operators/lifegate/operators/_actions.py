"""Operators for lifegate actions that are not gates: revoking a release, planning a
retirement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from lifegate.operators._base import LifegateConfigFailure

if TYPE_CHECKING:
    from airflow.sdk import Context

    from lifegate.core import Policy

__all__ = ["RetirementPlanOperator", "RevokeReleaseOperator"]


class RevokeReleaseOperator(BaseOperator):
    """Record a signed revocation of the model's release: LG-VERIFY refuses it from then on.

    :param model: the released model (its verified release manifest names the root digest).
    :param reason: why the release must no longer be deployed or loaded.
    """

    template_fields: Sequence[str] = ("model", "reason", "policy", "revoked_by")

    def __init__(self, *, model: str, reason: str, policy: str | None = None,
                 revoked_by: str | None = None, lifegate_conn_id: str = "lifegate_default",
                 **kwargs: Any) -> None:
        kwargs.setdefault("retries", 0)
        super().__init__(**kwargs)
        self.model = model
        self.reason = reason
        self.policy = policy
        self.revoked_by = revoked_by
        self.lifegate_conn_id = lifegate_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        from lifegate.core import LifegateError
        from lifegate.operators._hook import LifegateHook

        try:
            with LifegateHook(self.lifegate_conn_id).policy(self.policy) as policy:
                return self._revoke(policy)
        except LifegateError as exc:
            raise LifegateConfigFailure(f"revoking {self.model} failed:\n"
                                        f"{exc.diagnostics()}") from None

    def _revoke(self, policy: Policy) -> dict[str, Any]:
        from lifegate.core import ConfigError
        from lifegate.evidence.ledger import open_ledger, trusted_keys
        from lifegate.evidence.release import manifest_path, read_manifest
        from lifegate.evidence.statement import PredicateType, revocation_statement

        manifest = read_manifest(manifest_path(policy.resolve(self.model)),
                                 trusted_keys(policy))
        led = open_ledger(policy)
        if led.signer is None:
            raise ConfigError("a revocation must be signed, and no signing key is set",
                              fix="put the key in the lifegate connection's password")
        digest = manifest.model_root_digest
        ref = led.append(revocation_statement(
            system=policy.system.name, name="model", digest=digest, reason=self.reason,
            by=self.revoked_by or self.owner), PredicateType.REVOCATION)
        self.log.info("release %s revoked, recorded as %s", digest[:12], ref)
        return {"revoked": digest, "record": str(ref), "ledger_seq": ref.seq}


class RetirementPlanOperator(BaseOperator):
    """Write the retirement plan of a model (every copy inside ``roots``, action dispose) and
    ask a data custodian to approve its digest, as ``lifegate retire plan`` and ``request`` do.

    A plan already at ``out`` is kept when it is the same plan (a re-run), and is an error when
    it differs: an approved plan is never overwritten.

    :param model: the released model (its release manifest and bound files are included).
    :param roots: folders the retirement may touch, relative to the policy's folder.
    :param out: where the plan goes, relative to the policy's folder.
    """

    template_fields: Sequence[str] = ("model", "plan_roots", "out", "policy", "requested_by")

    def __init__(self, *, model: str, roots: Sequence[str], out: str = "retirement.yaml",
                 policy: str | None = None, requested_by: str | None = None,
                 note: str = "", lifegate_conn_id: str = "lifegate_default",
                 **kwargs: Any) -> None:
        kwargs.setdefault("retries", 0)
        super().__init__(**kwargs)
        self.model, self.plan_roots, self.out = model, list(roots), out
        self.policy, self.requested_by, self.note = policy, requested_by, note
        self.lifegate_conn_id = lifegate_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        from lifegate.core import LifegateError
        from lifegate.operators._hook import LifegateHook

        try:
            with LifegateHook(self.lifegate_conn_id).policy(self.policy) as policy:
                return self._plan(policy, context)
        except LifegateError as exc:
            raise LifegateConfigFailure(f"planning the retirement of {self.model} failed:\n"
                                        f"{exc.diagnostics()}") from None

    def _plan(self, policy: Policy, context: Context) -> dict[str, Any]:
        from lifegate.core import ConfigError
        from lifegate.evidence.approvals import request_approval
        from lifegate.gates._retire_plan import generate_plan, load_plan, write_plan
        from lifegate.gates.retirement import PLAN_SUBJECT

        out = policy.resolve(self.out)
        plan = generate_plan(policy, model=self.model, roots=self.plan_roots)
        if out.exists():
            if load_plan(out).digest() != plan.digest():
                raise ConfigError(f"{out} holds another plan; lifegate does not overwrite a "
                                  "plan", where=str(out), fix="remove it or choose another out")
        else:
            write_plan(plan, out)
        dag_run = context.get("dag_run")
        who = self.requested_by or getattr(dag_run, "triggering_user_name", None) or self.owner
        ref = request_approval(policy, {PLAN_SUBJECT: plan.digest()}, str(who),
                               self.note or f"Airflow {context['ti'].dag_id}")
        files = sum(len(a.files) for a in plan.assets)
        self.log.info("retirement plan %s: %d assets, %d files, digest %s; approval requested "
                      "(%s)", out, len(plan.assets), files, plan.digest()[:12], ref)
        return {"plan": str(out), "digest": plan.digest(), "assets": len(plan.assets),
                "files": files, "excluded": [str(p) for p in plan.excluded],
                "request": str(ref)}
