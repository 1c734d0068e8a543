"""LG-THREAT: coverage, completeness, freshness and re-review after asset changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from lifegate.core import GateFailed, Policy, Verdict, run_gate_by_id

Make = Callable[..., Policy]
CLASSES = ["data-poisoning", "model-inversion", "model-extraction", "membership-inference",
           "adversarial-input", "supply-chain"]


def threat_model(project: Path, *, reviewed: object = None, classes: list[str] = CLASSES,
                 **override: object) -> Path:
    threats = [{"id": f"T{i}", "class": c, "description": "d", "mitigation": "m",
                "owner": "alice", "status": "mitigated"} for i, c in enumerate(classes)]
    data = {"system": "sys", "reviewed": reviewed or date.today(), "reviewed_by": "alice",
            "threats": threats, **override}
    path = project / "threat_model.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def rules(exc: pytest.ExceptionInfo[GateFailed]) -> set[str]:
    return {f.rule for f in exc.value.result.findings if f.blocking}


def test_complete_fresh_model_passes(project: Path, make_policy: Make) -> None:
    threat_model(project)
    run = run_gate_by_id("LG-THREAT", make_policy(**{"LG-THREAT": {}}))
    assert run.result.verdict is Verdict.PASS
    assert run.result.subjects[0].name == "threat_model.yaml"


def test_missing_class_and_prompt_injection(project: Path, make_policy: Make) -> None:
    threat_model(project, classes=CLASSES[:-1])
    policy = make_policy(**{"LG-THREAT": {}})
    policy.system.uses_prompts = True
    with pytest.raises(GateFailed) as exc:
        run_gate_by_id("LG-THREAT", policy)
    text = str(exc.value)
    assert "'supply-chain'" in text and "'prompt-injection'" in text
    assert rules(exc) == {"THREAT-UNCOVERED"}


def test_incomplete_threat_names_it(project: Path, make_policy: Make) -> None:
    path = threat_model(project)
    data = yaml.safe_load(path.read_text())
    data["threats"][2]["owner"] = ""
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(GateFailed, match=r"threat T2 .* has no owner"):
        run_gate_by_id("LG-THREAT", make_policy(**{"LG-THREAT": {}}))


def test_stale_review(project: Path, make_policy: Make) -> None:
    threat_model(project, reviewed=date.today() - timedelta(days=200))
    with pytest.raises(GateFailed) as exc:
        run_gate_by_id("LG-THREAT", make_policy(**{"LG-THREAT": {"max_age_days": 180}}))
    assert rules(exc) == {"THREAT-STALE"}


def test_rereview_required_after_inventory_change(project: Path, make_policy: Make) -> None:
    threat_model(project, reviewed=date.today() - timedelta(days=3))
    policy = make_policy(**{"LG-THREAT": {}, "LG-INV": {"datasets": ["data"]}})
    run_gate_by_id("LG-INV", policy)
    run_gate_by_id("LG-THREAT", policy)  # no change recorded yet: passes
    (project / "data" / "train.csv").write_text("a,b\n1,3\n")
    run_gate_by_id("LG-INV", policy)
    with pytest.raises(GateFailed) as exc:
        run_gate_by_id("LG-THREAT", policy)
    assert rules(exc) == {"THREAT-REREVIEW"}
    # only data changed: part of the regular review (5.1.3-1); no settings were compared, so
    # the run does not claim 5.1.3-1.1 (revisit after a change of settings)
    assert {f.provision for f in exc.value.result.findings} == {"5.1.3-1"}
    assert exc.value.result.provisions == ["5.1.3-1"]
    threat_model(project)  # reviewed again today
    assert run_gate_by_id("LG-THREAT", policy).result.verdict is Verdict.PASS


def test_rereview_after_a_settings_change_is_5_1_3_1_1(project: Path, make_policy: Make) -> None:
    threat_model(project, reviewed=date.today() - timedelta(days=3))
    policy = make_policy(**{"LG-THREAT": {}, "LG-INV": {"configs": ["models/clf/config.json"]}})
    assert run_gate_by_id("LG-THREAT", policy).result.provisions == ["5.1.3-1"]  # no LG-INV
    run_gate_by_id("LG-INV", policy)
    run = run_gate_by_id("LG-THREAT", policy)
    assert run.result.provisions == ["5.1.3-1", "5.1.3-1.1"]
    (project / "models" / "clf" / "config.json").write_text('{"layers": 9}')
    run_gate_by_id("LG-INV", policy)
    with pytest.raises(GateFailed) as exc:
        run_gate_by_id("LG-THREAT", policy)
    assert {f.provision for f in exc.value.result.blocking_findings()} == {"5.1.3-1.1"}
    assert exc.value.result.provision_checks == {"5.1.3-1": "pass", "5.1.3-1.1": "fail"}
    off = make_policy(**{"LG-THREAT": {"rereview_on_asset_change": False},
                         "LG-INV": {"configs": ["models/clf/config.json"]}})
    assert run_gate_by_id("LG-THREAT", off).result.provisions == ["5.1.3-1"]


def test_fewer_classes_than_5_1_3_1_names_claim_nothing(project: Path,
                                                        make_policy: Make) -> None:
    threat_model(project, classes=["evasion"])
    run = run_gate_by_id("LG-THREAT", make_policy(**{"LG-THREAT": {
        "required_threats": ["evasion"]}}))
    assert run.result.verdict is Verdict.PASS and run.result.provisions == []


def test_malformed_threat_model_names_line(project: Path, make_policy: Make) -> None:
    path = threat_model(project)
    text = path.read_text().replace("status: mitigated", "status: fixed-probably", 1)
    path.write_text(text)
    with pytest.raises(GateFailed) as exc:
        run_gate_by_id("LG-THREAT", make_policy(**{"LG-THREAT": {}}))
    assert exc.value.result.verdict is Verdict.ERROR
    assert "threats.0.status" in str(exc.value) and "threat_model.yaml:" in str(exc.value)


def test_missing_threat_model_file(make_policy: Make) -> None:
    with pytest.raises(GateFailed, match="file not found"):
        run_gate_by_id("LG-THREAT", make_policy(**{"LG-THREAT": {}}))


def test_yaml_that_is_not_a_mapping(project: Path, make_policy: Make) -> None:
    (project / "threat_model.yaml").write_text("- just\n- a list\n")
    with pytest.raises(GateFailed) as exc:
        run_gate_by_id("LG-THREAT", make_policy(**{"LG-THREAT": {}}))
    assert exc.value.result.verdict is Verdict.ERROR


def test_waiver_is_applied_and_recorded(project: Path, make_policy: Make) -> None:
    from lifegate.core import Waiver
    from lifegate.evidence.ledger import open_ledger

    threat_model(project, reviewed=date.today() - timedelta(days=200))
    policy = make_policy(**{"LG-THREAT": {}})
    policy.waivers.append(Waiver(id="W-7", gate="LG-THREAT", rule="THREAT-STALE",
                                 approver="bob", justification="review booked for next week",
                                 expires=date.today() + timedelta(days=7)))
    run = run_gate_by_id("LG-THREAT", policy)
    assert run.result.verdict is Verdict.WAIVED
    entries = list(open_ledger(policy).entries())
    assert [e.kind for e in entries] == ["gate-run", "waiver"]
    assert entries[1].predicate["waiver"]["approver"] == "bob"
    assert entries[1].predicate["appliedTo"]["seq"] == run.record.seq


def test_threat_without_mitigation_fails_its_provision_in_the_report(
        project: Path, make_policy: Make) -> None:
    """The issue's case: a threat without mitigation fails the threat model's risk management
    (5.1.3-1), never leaves it met; the re-review check that found nothing is recorded as such.
    5.1.3-1.3 (implement mitigations) is not claimed: a mitigation written down is not one
    implemented, so no LG-THREAT run makes it met."""
    from lifegate.evidence.ledger import open_ledger
    from lifegate.reports.conformity import Status, evaluate

    path = threat_model(project)
    data = yaml.safe_load(path.read_text())
    data["threats"][1]["mitigation"] = ""
    path.write_text(yaml.safe_dump(data))
    policy = make_policy(**{"LG-THREAT": {}, "LG-INV": {"configs": ["models/clf/config.json"]}})
    run_gate_by_id("LG-INV", policy)
    with pytest.raises(GateFailed) as exc:
        run_gate_by_id("LG-THREAT", policy)
    result = exc.value.result
    assert result.provision_checks == {"5.1.3-1": "fail", "5.1.3-1.1": "pass"}
    report = evaluate(open_ledger(policy).entries(), policy)
    rows = {p.id: p for p in report.provisions}
    assert rows["5.1.3-1"].status is Status.FAILED
    assert "THREAT-INCOMPLETE" in {f.rule for f in rows["5.1.3-1"].findings}
    assert rows["5.1.3-1.1"].status is Status.MET
    assert rows["5.1.3-1.3"].status is Status.MISSING
    assert all("passed" not in rows[p].reason for p in ("5.1.3-1", "5.1.3-1.1"))


def test_review_age_and_rereview_map_to_their_provisions(project: Path,
                                                         make_policy: Make) -> None:
    threat_model(project, reviewed=date.today() - timedelta(days=200))
    with pytest.raises(GateFailed) as exc:
        run_gate_by_id("LG-THREAT", make_policy(**{"LG-THREAT": {"max_age_days": 180}}))
    assert exc.value.result.provision_checks == {"5.1.3-1": "fail"}
