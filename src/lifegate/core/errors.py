"""The lifegate error tree.

Every error says what happened, where, and what to do next. The CLI renders
:meth:`LifegateError.diagnostics` and exits non-zero; adapters map :class:`GateFailed`
to their platform's idiom.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lifegate.core.model import GateResult

__all__ = [
    "ConfigError",
    "EvidenceError",
    "GateFailed",
    "KeyMaterialError",
    "LedgerTamperedError",
    "LifegateError",
    "MissingExtraError",
    "SignatureError",
]


class LifegateError(Exception):
    """Root of every error lifegate raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.fix = fix

    def diagnostics(self) -> str:
        """A multi-line explanation for people: what, where, what to do."""
        lines = [self.message]
        if self.where:
            lines.append(f"  where: {self.where}")
        if self.fix:
            lines.append(f"  fix:   {self.fix}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.diagnostics()


class ConfigError(LifegateError):
    """A policy, threat model, system card or other configuration is malformed."""


class MissingExtraError(ConfigError):
    """An optional dependency is not installed."""

    def __init__(self, extra: str, module: str) -> None:
        super().__init__(
            f"this feature needs '{module}', which is not installed",
            fix=f"pip install 'lifegate[{extra}]'",
        )


class EvidenceError(LifegateError):
    """Evidence cannot be read, written or found (not tampering: see LedgerTamperedError)."""


class KeyMaterialError(LifegateError):
    """Key material is missing, unreadable, of the wrong type or not trusted."""


class SignatureError(LifegateError):
    """A signature does not verify against the trusted keys."""

    exit_code = 3


class LedgerTamperedError(LifegateError):
    """The evidence ledger has been edited, truncated, reordered or forged."""

    exit_code = 3

    def __init__(
        self, message: str, *, seq: int | None = None, where: str | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(message, where=where, fix=fix)
        self.seq = seq


class GateFailed(LifegateError):
    """A gate's verdict blocks the pipeline (fail or error, not waived)."""

    exit_code = 1

    def __init__(self, result: GateResult, *, evidence_ref: str | None = None) -> None:
        self.result = result
        self.evidence_ref = evidence_ref
        lines = [f"gate {result.gate_id} verdict: {result.verdict.value}"]
        for finding in result.blocking_findings()[:20]:
            loc = f" [{finding.location}]" if finding.location else ""
            lines.append(f"  - {finding.severity.value}: {finding.message}{loc}")
        more = len(result.blocking_findings()) - 20
        if more > 0:
            lines.append(f"  ... and {more} more findings")
        super().__init__(
            "\n".join(lines),
            where=f"evidence ledger record {evidence_ref}" if evidence_ref else None,
            fix="fix the findings, or record a waiver with a named approver, "
            "justification and expiry in the policy",
        )
