"""The Gate protocol and the registry that maps stable gate ids to implementations."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from lifegate.core.errors import ConfigError

if TYPE_CHECKING:
    from lifegate.core.model import GateResult, Phase, RunContext
    from lifegate.core.policy import Policy

__all__ = ["GATES", "Gate", "GateSettings", "gate_class", "load_gate"]


class GateSettings(BaseModel):
    """Base for each gate's settings model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


@runtime_checkable
class Gate(Protocol):
    """A security gate. ``check`` is pure apart from gates whose job is an action."""

    id: ClassVar[str]
    phase: ClassVar[Phase]
    provisions: ClassVar[tuple[str, ...]]
    title: ClassVar[str]

    def check(self, context: RunContext) -> GateResult: ...


# Stable gate id -> "module:Class". Ids are never renamed once released. Modules listed here
# must not import heavy libraries at module level.
GATES: dict[str, str] = {
    "LG-INV": "lifegate.gates.inventory:InventoryGate",
    "LG-THREAT": "lifegate.gates.threat_model:ThreatModelGate",
    "LG-SCAN": "lifegate.gates.scan:ScanGate",
    "LG-SIGN": "lifegate.gates.signing:SignGate",
    "LG-VERIFY": "lifegate.gates.verify:VerifyGate",
    "LG-SBOM": "lifegate.gates.sbom:SbomGate",
    "LG-DISCLOSE": "lifegate.gates.disclosure:DisclosureGate",
    "LG-APPROVE": "lifegate.gates.approval:ApprovalGate",
    "LG-DATA": "lifegate.gates.data_validation:DataValidationGate",
    "LG-DRIFT": "lifegate.gates.drift:DriftGate",
    "LG-RETIRE": "lifegate.gates.retirement:RetireGate",
    "LG-RELEASE": "lifegate.plugins.dvc_release:ReleaseCheckGate",
}


def gate_class(gate_id: str) -> type[Gate]:
    try:
        target = GATES[gate_id]
    except KeyError:
        raise ConfigError(
            f"unknown gate id {gate_id!r}",
            fix=f"use one of: {', '.join(sorted(GATES))}",
        ) from None
    module, _, name = target.partition(":")
    cls: type[Gate] = getattr(importlib.import_module(module), name)
    return cls


def load_gate(gate_id: str, policy: Policy) -> Gate:
    """Build the gate with its settings from the policy (validated, unknown keys rejected)."""
    from lifegate.core._yamlio import validate

    cls = gate_class(gate_id)
    settings_model: type[GateSettings] = getattr(cls, "Settings", GateSettings)
    from pathlib import Path

    settings = validate(settings_model, policy.gate(gate_id).settings,
                        Path(policy.source + f" (gates.{gate_id}.settings)"))
    return cls(settings, policy)  # type: ignore[call-arg]
