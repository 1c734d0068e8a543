"""run_gate: run one gate fail-closed, apply waivers, record evidence, return or raise."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from lifegate.core.errors import EvidenceError, GateFailed, LifegateError
from lifegate.core.model import Finding, GateResult, Phase, Severity, Verdict, utcnow

if TYPE_CHECKING:
    from lifegate.core.gate import Gate
    from lifegate.core.model import RunContext
    from lifegate.core.policy import Policy, Waiver

__all__ = ["GateRun", "RecordRef", "Recorder", "apply_waivers", "make_context", "run_gate",
           "run_gate_by_id"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordRef:
    """Where a statement landed in the ledger."""

    seq: int
    record_hash: str
    location: str

    def __str__(self) -> str:
        return f"#{self.seq} ({self.record_hash[:12]}) in {self.location}"


class Recorder(Protocol):
    """What run_gate needs from the evidence ledger."""

    def record_gate_run(
        self, result: GateResult, context: RunContext, policy: Policy, waivers: list[Waiver]
    ) -> RecordRef: ...


@dataclass(frozen=True)
class GateRun:
    result: GateResult
    record: RecordRef


def _error_result(gate: Gate, message: str, rule: str) -> GateResult:
    return GateResult(
        gate_id=gate.id,
        verdict=Verdict.ERROR,
        findings=[Finding(rule=rule, message=message, severity=Severity.HIGH)],
    )


def _check_with_timeout(gate: Gate, context: RunContext, timeout: float) -> GateResult:
    """Run ``gate.check`` in a daemon thread; any exception or a timeout becomes ``error``."""
    results: list[object] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            results.append(gate.check(context))
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=target, name=f"lifegate-{gate.id}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return _error_result(gate, f"gate did not finish within {timeout:g} s (policy "
                             f"gates.{gate.id}.timeout_seconds)", "GATE-TIMEOUT")
    error = errors[0] if errors else None
    if isinstance(error, LifegateError):
        return _error_result(gate, error.diagnostics(), f"GATE-{type(error).__name__.upper()}")
    if error is not None:
        log.exception("gate %s crashed", gate.id, exc_info=error)
        return _error_result(gate, f"gate crashed: {type(error).__name__}: {error}", "GATE-CRASH")
    result = results[0] if results else None
    if not isinstance(result, GateResult):
        return _error_result(gate, f"gate returned {type(result).__name__}, not a GateResult",
                             "GATE-CONTRACT")
    return result


def _check_evidence(result: GateResult, base_dir: str) -> GateResult:
    """Evidence a result names must exist with the digest it claims; else the run is an error."""
    from pathlib import Path

    from lifegate.core.hashing import sha256_file

    problems = []
    for ev in result.evidence:
        if "://" in ev.uri:
            continue  # remote evidence is checked by the gate that wrote it
        path = Path(ev.uri) if Path(ev.uri).is_absolute() else Path(base_dir) / ev.uri
        try:
            actual = sha256_file(path)
        except LifegateError:
            problems.append(f"evidence {ev.kind} is missing: {path}")
            continue
        if actual != ev.sha256:
            problems.append(f"evidence {ev.kind} at {path} has sha256 {actual[:12]}, "
                            f"not the {ev.sha256[:12]} the gate reported")
    if not problems:
        return result
    extra = [Finding(rule="GATE-EVIDENCE", message=m) for m in problems]
    return result.model_copy(update={"verdict": Verdict.ERROR,
                                     "findings": [*result.findings, *extra]})


def apply_waivers(result: GateResult, waivers: list[Waiver], today: date | None = None,
                  ) -> tuple[GateResult, list[Waiver]]:
    """Mark blocking findings covered by an active waiver; errors are never waived."""
    if result.verdict is not Verdict.FAIL:
        return result, []
    used: dict[str, Waiver] = {}
    findings = []
    for finding in result.findings:
        if finding.blocking:
            for w in waivers:
                if w.gate != result.gate_id or (w.rule and w.rule != finding.rule):
                    continue
                if w.location and w.location != finding.location:
                    continue
                if not w.active(today):
                    findings.append(Finding(rule="WAIVER-EXPIRED", severity=Severity.INFO,
                                            blocking=False, message=f"waiver {w.id} expired on "
                                            f"{w.expires}; it no longer covers {finding.rule}"))
                    continue
                finding = finding.model_copy(update={"waived_by": w.id})
                used[w.id] = w
                break
        findings.append(finding)
    updated = result.model_copy(update={"findings": findings, "waivers": sorted(used)})
    if used and not updated.blocking_findings():
        updated.verdict = Verdict.WAIVED
    return updated, list(used.values())


def run_gate(
    gate: Gate, context: RunContext, policy: Policy, recorder: Recorder | None = None,
    *, raise_on_block: bool = True,
) -> GateRun:
    """Run ``gate`` fail-closed, record the statement, then return it or raise GateFailed."""
    started = utcnow()
    t0 = time.perf_counter()
    result = _check_with_timeout(gate, context, policy.gate(gate.id).timeout_seconds)
    if result.gate_id != gate.id:
        result = _error_result(gate, f"gate returned a result for {result.gate_id}",
                               "GATE-CONTRACT")
    result = _check_evidence(result, context.base_dir)
    result, used = apply_waivers(result, policy.waivers)
    result = result.model_copy(update={
        "started_at": started,
        "finished_at": utcnow(),
        # A gate may name the provisions this run evidences (even none, e.g. a dry run);
        # otherwise the run claims the gate's provisions.
        "provisions": result.provisions if "provisions" in result.model_fields_set
        else list(gate.provisions),
        "metrics": {**result.metrics, "duration_seconds": round(time.perf_counter() - t0, 6)},
    })
    ref = _record(gate, result, context, policy, used, recorder)
    log.info("gate %s: %s, recorded as %s", gate.id, result.verdict.value, ref)
    if raise_on_block and result.verdict.blocks:
        raise GateFailed(result, evidence_ref=str(ref))
    return GateRun(result=result, record=ref)


def _record(gate: Gate, result: GateResult, context: RunContext, policy: Policy,
            used: list[Waiver], recorder: Recorder | None) -> RecordRef:
    """Append the run; a ledger opened here is closed here (which writes its checkpoint)."""
    opened = None
    if recorder is None:
        from lifegate.evidence.ledger import open_ledger

        recorder = opened = open_ledger(policy)
    try:
        ref = recorder.record_gate_run(result, context, policy, used)
        if opened is not None:
            opened.close()
    except LifegateError:
        raise
    except Exception as exc:
        raise EvidenceError(f"could not record the {gate.id} result in the ledger: {exc}",
                            fix="check the ledger URL and that the database is reachable; "
                            "the verdict is not returned without its evidence") from exc
    return ref


def make_context(policy: Policy, phase: Phase | None = None, **fields: Any) -> RunContext:
    """A RunContext for the policy's system; ``fields`` override (actor, platform, ...)."""
    import getpass

    from lifegate.core.model import RunContext

    fields.setdefault("actor", os.environ.get("LIFEGATE_ACTOR") or getpass.getuser())
    return RunContext(system=policy.system.name, system_version=policy.system.version,
                      phase=phase or Phase.DEVELOPMENT, base_dir=str(policy.base_dir), **fields)


def run_gate_by_id(gate_id: str, policy: Policy, context: RunContext | None = None,
                   recorder: Recorder | None = None, *, raise_on_block: bool = True) -> GateRun:
    """Build the gate named in the policy and run it (the call every adapter makes)."""
    from lifegate.core.gate import load_gate

    gate = load_gate(gate_id, policy)
    if context is None:
        context = make_context(policy, gate.phase)
    return run_gate(gate, context, policy, recorder, raise_on_block=raise_on_block)
