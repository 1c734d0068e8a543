"""Operators for lifegate actions that are not gates (revoking a release)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from lifegate.operators._base import LifegateConfigFailure

if TYPE_CHECKING:
    from airflow.sdk import Context

    from lifegate.core import Policy

__all__ = ["RevokeReleaseOperator"]


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
