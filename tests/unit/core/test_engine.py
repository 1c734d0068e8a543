"""run_gate: fail closed, waivers, evidence recorded before the verdict."""

from __future__ import annotations

import hashlib
import time
from datetime import date, timedelta
from typing import ClassVar

import pytest

from lifegate.core import (
    EvidenceError,
    Finding,
    GateFailed,
    GateResult,
    Phase,
    Policy,
    RecordRef,
    RunContext,
    Verdict,
    Waiver,
    run_gate,
)


class FakeRecorder:
    """A fake of our own Recorder interface."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.results: list[GateResult] = []

    def record_gate_run(self, result, context, policy, waivers):  # type: ignore[no-untyped-def]
        if self.fail:
            raise RuntimeError("disk full")
        self.results.append(result)
        return RecordRef(len(self.results), "ab" * 32, "memory")


class ScriptedGate:
    id: ClassVar[str] = "LG-TEST"
    title: ClassVar[str] = "test gate"
    phase: ClassVar[Phase] = Phase.DEVELOPMENT
    provisions: ClassVar[tuple[str, ...]] = ("5.2.1-1",)

    def __init__(self, behaviour) -> None:  # type: ignore[no-untyped-def]
        self.behaviour = behaviour

    def check(self, context: RunContext) -> GateResult:
        return self.behaviour()  # type: ignore[no-any-return]


def ctx() -> RunContext:
    return RunContext(system="s", system_version="1", phase=Phase.DEVELOPMENT)


def finding(rule: str = "R1", blocking: bool = True) -> Finding:
    return Finding(rule=rule, message=f"problem {rule}", blocking=blocking, location="x.csv")


def test_pass_is_recorded_and_returned() -> None:
    rec = FakeRecorder()
    run = run_gate(ScriptedGate(lambda: GateResult(gate_id="LG-TEST", verdict=Verdict.PASS)),
                   ctx(), Policy(), rec)
    assert run.result.verdict is Verdict.PASS
    assert rec.results == [run.result]
    assert run.result.provisions == ["5.2.1-1"]
    assert "duration_seconds" in run.result.metrics


def test_fail_raises_after_recording() -> None:
    rec = FakeRecorder()
    gate = ScriptedGate(lambda: GateResult.from_findings("LG-TEST", [finding()]))
    with pytest.raises(GateFailed) as exc:
        run_gate(gate, ctx(), Policy(), rec)
    assert rec.results[0].verdict is Verdict.FAIL
    assert "problem R1" in str(exc.value) and "#1" in str(exc.value)


@pytest.mark.parametrize("boom", [ZeroDivisionError("x"), KeyboardInterrupt(),
                                  EvidenceError("gone")])
def test_exception_becomes_error(boom: BaseException) -> None:
    def explode() -> GateResult:
        raise boom

    rec = FakeRecorder()
    with pytest.raises(GateFailed):
        run_gate(ScriptedGate(explode), ctx(), Policy(), rec)
    assert rec.results[0].verdict is Verdict.ERROR


def test_wrong_return_type_is_error() -> None:
    rec = FakeRecorder()
    run = run_gate(ScriptedGate(lambda: "ok"), ctx(), Policy(), rec, raise_on_block=False)
    assert run.result.verdict is Verdict.ERROR
    assert run.result.findings[0].rule == "GATE-CONTRACT"


def test_timeout_is_error() -> None:
    policy = Policy.model_validate({"gates": {"LG-TEST": {"timeout_seconds": 0.2}}})

    def slow() -> GateResult:
        time.sleep(3)
        return GateResult(gate_id="LG-TEST", verdict=Verdict.PASS)

    rec = FakeRecorder()
    t0 = time.monotonic()
    run = run_gate(ScriptedGate(slow), ctx(), policy, rec, raise_on_block=False)
    assert time.monotonic() - t0 < 2.5
    assert run.result.verdict is Verdict.ERROR
    assert run.result.findings[0].rule == "GATE-TIMEOUT"


def test_unrecordable_evidence_blocks() -> None:
    gate = ScriptedGate(lambda: GateResult(gate_id="LG-TEST", verdict=Verdict.PASS))
    with pytest.raises(EvidenceError, match="could not record"):
        run_gate(gate, ctx(), Policy(), FakeRecorder(fail=True))


def _waiver(**kw) -> Waiver:  # type: ignore[no-untyped-def]
    base = dict(id="W-1", gate="LG-TEST", approver="bob",
                justification="accepted until next sprint", expires=date.today())
    base.update(kw)
    return Waiver.model_validate(base)


def test_active_waiver_waives_and_is_named() -> None:
    policy = Policy(waivers=[_waiver(rule="R1")])
    gate = ScriptedGate(lambda: GateResult.from_findings("LG-TEST", [finding("R1")]))
    run = run_gate(gate, ctx(), policy, FakeRecorder())
    assert run.result.verdict is Verdict.WAIVED
    assert run.result.waivers == ["W-1"]
    assert run.result.findings[0].waived_by == "W-1"


def test_waiver_for_other_rule_does_not_apply() -> None:
    policy = Policy(waivers=[_waiver(rule="R2")])
    gate = ScriptedGate(lambda: GateResult.from_findings("LG-TEST", [finding("R1")]))
    with pytest.raises(GateFailed):
        run_gate(gate, ctx(), policy, FakeRecorder())


def test_partial_waiver_still_fails() -> None:
    policy = Policy(waivers=[_waiver(rule="R1")])
    gate = ScriptedGate(lambda: GateResult.from_findings("LG-TEST", [finding("R1"),
                                                                     finding("R2")]))
    with pytest.raises(GateFailed) as exc:
        run_gate(gate, ctx(), policy, FakeRecorder())
    assert "problem R2" in str(exc.value) and "problem R1" not in str(exc.value)


def test_expired_waiver_no_longer_applies() -> None:
    policy = Policy(waivers=[_waiver(expires=date.today() - timedelta(days=1))])
    rec = FakeRecorder()
    gate = ScriptedGate(lambda: GateResult.from_findings("LG-TEST", [finding("R1")]))
    with pytest.raises(GateFailed):
        run_gate(gate, ctx(), policy, rec)
    assert any(f.rule == "WAIVER-EXPIRED" for f in rec.results[0].findings)


def test_errors_are_never_waived() -> None:
    policy = Policy(waivers=[_waiver()])

    def explode() -> GateResult:
        raise OSError("unreadable")

    with pytest.raises(GateFailed):
        run_gate(ScriptedGate(explode), ctx(), policy, FakeRecorder())


def test_missing_or_altered_evidence_is_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from lifegate.core import Evidence

    report = tmp_path / "report.json"
    report.write_text("{}")
    good = Evidence(kind="report", uri=str(report), sha256=hashlib.sha256(b"{}").hexdigest())
    gate = ScriptedGate(lambda: GateResult(gate_id="LG-TEST", verdict=Verdict.PASS,
                                           evidence=[good]))
    assert run_gate(gate, ctx(), Policy(), FakeRecorder()).result.verdict is Verdict.PASS
    report.write_text('{"edited": true}')
    with pytest.raises(GateFailed, match="has sha256"):
        run_gate(gate, ctx(), Policy(), FakeRecorder())
    report.unlink()
    with pytest.raises(GateFailed, match="evidence report is missing"):
        run_gate(gate, ctx(), Policy(), FakeRecorder())
