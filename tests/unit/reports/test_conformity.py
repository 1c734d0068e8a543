"""Conformity is computed from ledger entries: each status, staleness, required, fail_on."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from lifegate.core import Finding, GateResult, Phase, Policy, RunContext, Subject, Verdict
from lifegate.evidence.keys import KeyPair, Signer, generate_keypair
from lifegate.evidence.ledger import Ledger
from lifegate.evidence.sql_store import SqlStore
from lifegate.evidence.statement import (
    PredicateType,
    attestation_statement,
    gate_run_statement,
    not_applicable_statement,
)
from lifegate.reports.conformity import Status, evaluate

D1, D2 = "1" * 64, "2" * 64


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(SqlStore(f"sqlite:///{tmp_path / 'l.db'}"))


def gate_run(led: Ledger, gate_id: str, verdict: Verdict, provisions: list[str],
             findings: list[Finding] | None = None, subjects: list[Subject] | None = None,
             phase: Phase = Phase.DEVELOPMENT, system: str = "sys",
             checks: dict[str, str] | None = None) -> None:
    result = GateResult.model_validate({
        "gate_id": gate_id, "verdict": verdict, "provisions": provisions,
        "findings": findings or [], "subjects": subjects or [],
        "provision_checks": checks or {}})
    ctx = RunContext(system=system, system_version="1", phase=phase)
    led.append(gate_run_statement(result, ctx, Policy(), []), PredicateType.GATE_RUN)


@pytest.fixture(scope="module")
def person(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    """The personal key of "a", a developer the test policies list under people."""
    return generate_keypair(tmp_path_factory.mktemp("people"), "a")


@pytest.fixture(autouse=True)
def _people(person: KeyPair, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PEOPLE, "a", person)


PEOPLE: dict[str, KeyPair] = {}


def attest(led: Ledger, provision: str, expires: str | None = None, by: str = "a",
           role: str = "developer", signer: Signer | bool | None = True) -> None:
    if signer is True:
        signer = Signer.from_file(PEOPLE["a"].private)
    led.append(attestation_statement(system="sys", version="1", provision=provision, by=by,
                                     role=role, text="t", expires=expires,
                                     signer=signer or None),
               PredicateType.ATTESTATION)


def status(report, pid: str) -> Status:  # type: ignore[no-untyped-def]
    return next(p.status for p in report.provisions if p.id == pid)


def policy(**extra: object) -> Policy:
    people = [{"name": n, "public_key": str(k.public)} for n, k in PEOPLE.items()]
    return Policy.model_validate({"system": {"name": "sys", "version": "1"},
                                  "roles": {"developer": ["a"]}, "people": people, **extra})


def test_each_status(ledger: Ledger) -> None:
    gate_run(ledger, "LG-A", Verdict.PASS, ["5.2.1-1"])
    gate_run(ledger, "LG-B", Verdict.FAIL, ["5.1.3-1", "5.1.3-1.3"],
             [Finding(rule="X", message="stale", provision="5.1.3-1.3")],
             checks={"5.1.3-1": "pass", "5.1.3-1.3": "fail"})
    gate_run(ledger, "LG-C", Verdict.WAIVED, ["5.2.4-3"],
             [Finding(rule="Y", message="m", waived_by="W-1")])
    gate_run(ledger, "LG-D", Verdict.ERROR, ["5.2.1-2"])
    gate_run(ledger, "LG-E", Verdict.FAIL, ["5.4.1-1"], system="other-system")
    attest(ledger, "5.1.1-1")
    attest(ledger, "5.1.1-2", expires=(date.today() - timedelta(days=1)).isoformat())
    ledger.append(not_applicable_statement(system="sys", version="1", provision="5.2.2-4",
                                           by="b", reason="no API"),
                  PredicateType.NOT_APPLICABLE)
    report = evaluate(ledger.entries(), policy())
    assert status(report, "5.2.1-1") is Status.MET
    assert status(report, "5.1.3-1.3") is Status.FAILED
    assert status(report, "5.1.3-1") is Status.MET  # the gate says its own checks passed
    assert status(report, "5.2.4-3") is Status.WAIVED
    assert status(report, "5.2.1-2") is Status.FAILED
    assert status(report, "5.4.1-1") is Status.MISSING  # other system's evidence ignored
    assert status(report, "5.1.1-1") is Status.ATTESTED
    assert status(report, "5.1.1-2") is Status.STALE
    assert status(report, "5.2.2-4") is Status.NOT_APPLICABLE
    assert "5.1.3-1.3" in report.blocking and "5.2.1-1" not in report.blocking
    assert sum(report.counts.values()) == 72 and not report.passed


def test_latest_run_of_a_gate_counts(ledger: Ledger) -> None:
    gate_run(ledger, "LG-A", Verdict.FAIL, ["5.2.1-1"], [Finding(rule="X", message="m")])
    gate_run(ledger, "LG-A", Verdict.PASS, ["5.2.1-1"])
    assert status(evaluate(ledger.entries(), policy()), "5.2.1-1") is Status.MET


def test_old_evidence_is_stale(ledger: Ledger) -> None:
    gate_run(ledger, "LG-A", Verdict.PASS, ["5.2.1-1"])
    later = datetime.now(UTC) + timedelta(days=91)
    assert status(evaluate(ledger.entries(), policy(), now=later), "5.2.1-1") is Status.STALE


def test_evidence_about_superseded_digest_is_stale(ledger: Ledger) -> None:
    gate_run(ledger, "LG-SCAN", Verdict.PASS, ["5.2.3-1"], subjects=[Subject(name="model:m",
                                                                              sha256=D1)])
    gate_run(ledger, "LG-INV", Verdict.PASS, ["5.2.1-1"], subjects=[Subject(name="model:m",
                                                                             sha256=D2)])
    report = evaluate(ledger.entries(), policy())
    assert status(report, "5.2.3-1") is Status.STALE
    assert status(report, "5.2.1-1") is Status.MET


def test_release_scoping(ledger: Ledger) -> None:
    gate_run(ledger, "LG-SCAN", Verdict.PASS, ["5.2.3-1"], subjects=[Subject(name="model:m",
                                                                              sha256=D1)])
    gate_run(ledger, "LG-THREAT", Verdict.PASS, ["5.1.3-1"], phase=Phase.DESIGN)
    assert status(evaluate(ledger.entries(), policy(), release=D1), "5.2.3-1") is Status.MET
    other = evaluate(ledger.entries(), policy(), release=D2)
    assert status(other, "5.2.3-1") is Status.STALE
    assert status(other, "5.1.3-1") is Status.MET  # design evidence is about the system


def test_required_and_fail_on_are_configurable(ledger: Ledger) -> None:
    p = policy()
    p.conformity.required = ["5.2.1-1"]
    report = evaluate(ledger.entries(), p)
    assert report.blocking == ["5.2.1-1"]
    p.conformity.fail_on = ["failed"]
    assert evaluate(ledger.entries(), p).passed


def test_not_applicable_after_attestation_wins_and_vice_versa(ledger: Ledger) -> None:
    attest(ledger, "5.1.1-1")
    ledger.append(not_applicable_statement(system="sys", version="1", provision="5.1.1-1",
                                           by="b", reason="r"), PredicateType.NOT_APPLICABLE)
    assert status(evaluate(ledger.entries(), policy()), "5.1.1-1") is Status.NOT_APPLICABLE
    attest(ledger, "5.1.1-1")
    assert status(evaluate(ledger.entries(), policy()), "5.1.1-1") is Status.ATTESTED


def _platform_event(led: Ledger, system: str = "sys") -> None:
    from lifegate.evidence.statement import statement, system_subject

    led.append(statement([system_subject(system, "1")], PredicateType.PLATFORM_EVENT, {
        "system": system, "platform": "airflow", "event": "task-success",
        "refs": {"dag_id": "d", "run_id": "r", "task_id": "t"}, "detail": "",
        "at": datetime.now(UTC).isoformat()}), PredicateType.PLATFORM_EVENT)


def test_platform_events_are_the_audit_trail_of_5_4_2_1(ledger: Ledger) -> None:
    assert status(evaluate(ledger.entries(), policy()), "5.4.2-1") is Status.MISSING
    _platform_event(ledger, system="other-system")
    assert status(evaluate(ledger.entries(), policy()), "5.4.2-1") is Status.MISSING
    _platform_event(ledger)
    _platform_event(ledger)
    report = evaluate(ledger.entries(), policy())
    row = next(p for p in report.provisions if p.id == "5.4.2-1")
    assert row.status is Status.MET
    assert "2 platform events recorded from airflow" in row.reason
    assert [e.seq for e in row.evidence] == [list(ledger.entries())[-1].seq]
    later = datetime.now(UTC) + timedelta(days=400)
    assert status(evaluate(ledger.entries(), policy(), now=later), "5.4.2-1") is Status.STALE
    assert status(evaluate(ledger.entries(), policy()), "5.4.2-2") is Status.MISSING


def row(report, pid: str):  # type: ignore[no-untyped-def]
    return next(p for p in report.provisions if p.id == pid)


def test_a_failed_run_is_no_evidence_for_provisions_the_gate_does_not_vouch_for(
        ledger: Ledger) -> None:
    """The issue's case: LG-THREAT fails on a threat without mitigation; a provision the run
    maps to but whose checks the gate did not record as passed is FAILED, never MET."""
    gate_run(ledger, "LG-THREAT", Verdict.FAIL, ["5.1.3-1", "5.1.3-1.1", "5.1.3-1.3"],
             [Finding(rule="THREAT-INCOMPLETE", message="no mitigation",
                      provision="5.1.3-1.3")],
             phase=Phase.DESIGN)
    report = evaluate(ledger.entries(), policy())
    for pid in ("5.1.3-1", "5.1.3-1.1", "5.1.3-1.3"):
        r = row(report, pid)
        assert r.status is Status.FAILED, pid
        assert "passed" not in r.reason and "LG-THREAT fail (record #1)" in r.reason
    assert "did not record that this provision's own checks" in row(report, "5.1.3-1").reason
    assert [f.rule for f in row(report, "5.1.3-1").findings] == ["THREAT-INCOMPLETE"]


def test_a_blocking_finding_without_provision_fails_every_provision(ledger: Ledger) -> None:
    gate_run(ledger, "LG-A", Verdict.FAIL, ["5.2.1-1", "5.2.1-2"],
             [Finding(rule="X", message="m")], checks={"5.2.1-1": "pass", "5.2.1-2": "pass"})
    report = evaluate(ledger.entries(), policy())
    assert status(report, "5.2.1-1") is Status.FAILED
    assert status(report, "5.2.1-2") is Status.FAILED


def test_met_through_a_failed_run_never_says_passed(ledger: Ledger) -> None:
    gate_run(ledger, "LG-A", Verdict.FAIL, ["5.2.1-1", "5.2.1-2"],
             [Finding(rule="X", message="m", provision="5.2.1-2")],
             checks={"5.2.1-1": "pass", "5.2.1-2": "fail"})
    report = evaluate(ledger.entries(), policy())
    met = row(report, "5.2.1-1")
    assert met.status is Status.MET
    assert "passed" not in met.reason and "run verdict fail" in met.reason
    failed = row(report, "5.2.1-2")
    assert failed.status is Status.FAILED and "passed" not in failed.reason


def test_an_errored_run_fails_every_provision_whatever_it_says(ledger: Ledger) -> None:
    gate_run(ledger, "LG-A", Verdict.ERROR, ["5.2.1-1"], checks={"5.2.1-1": "pass"})
    r = row(evaluate(ledger.entries(), policy()), "5.2.1-1")
    assert r.status is Status.FAILED and "LG-A error (record #1)" in r.reason


def test_a_passed_run_that_records_a_failed_check_fails_it(ledger: Ledger) -> None:
    gate_run(ledger, "LG-A", Verdict.PASS, ["5.2.1-1"], checks={"5.2.1-1": "fail"})
    assert status(evaluate(ledger.entries(), policy()), "5.2.1-1") is Status.FAILED


def test_a_waived_run_meets_only_what_the_gate_vouches_for(ledger: Ledger) -> None:
    waived = [Finding(rule="Y", message="m", provision="5.2.4-3", waived_by="W-1")]
    gate_run(ledger, "LG-C", Verdict.WAIVED, ["5.2.4-3", "5.2.1-1", "5.2.1-2"], waived,
             checks={"5.2.4-3": "fail", "5.2.1-1": "pass"})
    report = evaluate(ledger.entries(), policy())
    assert status(report, "5.2.4-3") is Status.WAIVED
    assert status(report, "5.2.1-1") is Status.MET
    assert status(report, "5.2.1-2") is Status.WAIVED  # the gate says nothing: no claim of met


def test_a_result_recorded_before_provision_checks_still_parses() -> None:
    old = {"gate_id": "LG-A", "verdict": "fail", "findings": [], "provisions": ["5.2.1-1"]}
    assert GateResult.model_validate(old).provision_checks == {}


def reason(report, pid: str) -> str:  # type: ignore[no-untyped-def]
    return str(row(report, pid).reason)


def test_an_attestation_counts_only_signed_by_a_listed_person_in_that_role(
        ledger: Ledger, tmp_path: Path) -> None:
    """The issue's case: `attest --by Mallory --role developer` with nobody listed, or an
    unsigned or wrongly signed attestation, is not ATTESTED, and the reason says why."""
    mallory = generate_keypair(tmp_path / "m", "mallory")
    attest(ledger, "5.1.1-1", by="Mallory", signer=Signer.from_file(mallory.private))
    attest(ledger, "5.1.1-2", signer=None)  # as recorded before attestations were signed
    attest(ledger, "5.1.1-1.1", by="a", signer=Signer.from_file(mallory.private))
    attest(ledger, "5.1.1-2.1", role="system_operator")  # a holds developer only
    attest(ledger, "5.1.1-2.2")
    attest(ledger, "5.1.2-1", role="model_config")  # not a role: an attribute of the model
    report = evaluate(ledger.entries(), policy())
    assert "not listed in roles.model_config" in reason(report, "5.1.2-1")
    assert status(report, "5.1.1-1") is Status.MISSING
    assert reason(report, "5.1.1-1") == \
        "attestation #1 by Mallory does not count: not listed in roles.developer"
    assert "no personal signature" in reason(report, "5.1.1-2")
    assert "does not verify under a's key" in reason(report, "5.1.1-1.1")
    assert "not listed in roles.system_operator" in reason(report, "5.1.1-2.1")
    assert status(report, "5.1.1-2.2") is Status.ATTESTED
    empty = evaluate(ledger.entries(), policy(roles={"developer": []}))  # role taken away
    assert status(empty, "5.1.1-2.2") is Status.MISSING
    nobody = evaluate(ledger.entries(), policy(people=[]))
    assert "not listed in people with a public key" in reason(nobody, "5.1.1-2.2")


def test_an_attestation_whose_record_differs_from_what_was_signed_does_not_count(
        ledger: Ledger) -> None:
    from lifegate.evidence.statement import statement

    stmt = attestation_statement(system="sys", version="1", provision="5.1.1-1", by="a",
                                 role="developer", text="t", expires=None,
                                 signer=Signer.from_file(PEOPLE["a"].private))
    moved = {**stmt["predicate"], "provision": "5.1.1-2"}  # the signed one names 5.1.1-1
    ledger.append(statement(stmt["subject"], PredicateType.ATTESTATION, moved),
                  PredicateType.ATTESTATION)
    report = evaluate(ledger.entries(), policy())
    assert status(report, "5.1.1-2") is Status.MISSING
    assert "what the person signed is not what the record says" in reason(report, "5.1.1-2")


def test_a_replayed_attestation_keeps_the_age_its_person_signed(ledger: Ledger) -> None:
    """Whoever can append (the system key) cannot refresh an old attestation by recording
    it again: its age is the attested_at its person signed, and changing that breaks it."""
    from lifegate.evidence.approvals import sign_personal
    from lifegate.evidence.statement import statement, system_subject

    old = (datetime.now(UTC) - timedelta(days=200)).isoformat()
    claim = {"system": "sys", "provision": "5.1.1-1", "by": "a", "role": "developer",
             "statement": "t", "expires": None, "attested_at": old}
    subjects = [system_subject("sys", "1")]
    signed = sign_personal(statement(subjects, PredicateType.ATTESTATION, claim),
                           Signer.from_file(PEOPLE["a"].private))
    ledger.append(statement(subjects, PredicateType.ATTESTATION,
                            {**claim, "signedAttestation": signed}),
                  PredicateType.ATTESTATION)  # recorded today, signed 200 days ago
    report = evaluate(ledger.entries(), policy())
    assert status(report, "5.1.1-1") is Status.STALE
    fresh = {**claim, "attested_at": datetime.now(UTC).isoformat(), "signedAttestation": signed}
    ledger.append(statement(subjects, PredicateType.ATTESTATION, fresh),
                  PredicateType.ATTESTATION)
    report = evaluate(ledger.entries(), policy())
    assert status(report, "5.1.1-1") is Status.MISSING
    assert "what the person signed is not what the record says" in reason(report, "5.1.1-1")
