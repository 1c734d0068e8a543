"""lifegate.core: the public, framework-free API of lifegate."""

from lifegate.core.engine import (
    GateRun,
    Recorder,
    RecordRef,
    apply_waivers,
    make_context,
    run_gate,
    run_gate_by_id,
)
from lifegate.core.errors import (
    ConfigError,
    EvidenceError,
    GateFailed,
    KeyMaterialError,
    LedgerTamperedError,
    LifegateError,
    MissingExtraError,
    SignatureError,
)
from lifegate.core.gate import GATES, Gate, GateSettings, gate_class, load_gate
from lifegate.core.model import (
    Evidence,
    Finding,
    GateResult,
    Phase,
    PlatformRef,
    RunContext,
    Severity,
    Subject,
    Verdict,
)
from lifegate.core.policy import Policy, Waiver, load_policy

__all__ = [
    "GATES",
    "ConfigError",
    "Evidence",
    "EvidenceError",
    "Finding",
    "Gate",
    "GateFailed",
    "GateResult",
    "GateRun",
    "GateSettings",
    "KeyMaterialError",
    "LedgerTamperedError",
    "LifegateError",
    "MissingExtraError",
    "Phase",
    "PlatformRef",
    "Policy",
    "RecordRef",
    "Recorder",
    "RunContext",
    "Severity",
    "SignatureError",
    "Subject",
    "Verdict",
    "Waiver",
    "apply_waivers",
    "gate_class",
    "load_gate",
    "load_policy",
    "make_context",
    "run_gate",
    "run_gate_by_id",
]
