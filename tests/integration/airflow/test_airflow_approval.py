"""The release approval through Airflow's human-in-the-loop operator: the responder's answer
becomes a signed LG-APPROVE record; a rejection or a self-approval fails the release. The
audit listener records the task and DAG-run outcomes of the run meanwhile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import demo_support
import yaml
from airflow_helpers import run_dag, states, xcom

from lifegate.core import load_policy
from lifegate.evidence.ledger import open_ledger
from lifegate.plugins._airflow_listener import AuditListener

AFTER_APPROVAL = ("verify_release", "release")


def _ledger(project: Path) -> Any:
    policy = load_policy(project / "lifegate.yaml")
    policy.keys.require_signatures = False  # reading only; the system key is in the connection
    return open_ledger(policy)


def test_reject_fails_the_release_and_is_recorded(dagbag: Any, project: Path,
                                                   listener: AuditListener) -> None:
    demo_support.answer_approval("train_and_release", "approve_release", user="bob",
                                 approve=False, comment="disclosure needs another review")
    dr = run_dag(dagbag, "train_and_release", project)
    assert listener.flush(30)  # the listener records in the background
    st = states(dr)
    assert st["approve_release"] == "failed"
    assert all(st[t] == "upstream_failed" for t in AFTER_APPROVAL), st
    result = xcom(dr, "approve_release", "lifegate_result")
    assert result["decision"] == "reject" and result["verdict"] == "fail"
    assert any(f["rule"] == "APPROVE-REJECTED" for f in result["findings"])

    led = _ledger(project)
    led.verify()
    decisions = [e for e in led.entries() if e.kind == "approval"]
    assert len(decisions) == 1
    events = [(e.predicate["event"], e.predicate["refs"].get("task_id"))
              for e in led.entries() if e.kind == "platform-event"]
    assert ("task-success", "ingest") in events
    assert ("task-failed", "approve_release") in events
    assert ("dag-run-failed", None) in events
    from lifegate.core import load_policy
    from lifegate.reports.conformity import evaluate

    audit = next(p for p in evaluate(led.entries(), load_policy(project / "lifegate.yaml"))
                 .provisions if p.id == "5.4.2-1")
    assert audit.status.value == "met" and "from airflow" in audit.reason


def test_requester_may_not_approve_their_own_release(dagbag: Any, project: Path) -> None:
    policy_file = project / "lifegate.yaml"
    data = yaml.safe_load(policy_file.read_text())
    data["roles"]["system_operator"].append("alice")
    data["gates"]["LG-APPROVE"]["settings"]["approvers"].append(
        {"name": "alice", "public_key": "keys/alice.pub"})
    policy_file.write_text(yaml.safe_dump(data))
    demo_support.answer_approval("train_and_release", "approve_release", user="alice",
                                 approve=True, comment="looks fine to me")
    dr = run_dag(dagbag, "train_and_release", project)
    st = states(dr)
    assert st["approve_release"] == "failed"
    assert all(st[t] == "upstream_failed" for t in AFTER_APPROVAL), st
    result = xcom(dr, "approve_release", "lifegate_result")
    assert result["approver"] == "alice"
    assert any(f["rule"] == "APPROVE-SELF" for f in result["findings"])


def test_an_airflow_user_who_is_no_approver_cannot_release(dagbag: Any, project: Path) -> None:
    before = sum(1 for _ in _ledger(project).entries())
    demo_support.answer_approval("train_and_release", "approve_release", user="mallory",
                                 approve=True)
    st = states(run_dag(dagbag, "train_and_release", project))
    assert st["approve_release"] == "failed"
    assert all(st[t] == "upstream_failed" for t in AFTER_APPROVAL), st
    kinds = [e.kind for e in _ledger(project).entries()]
    assert before == 0 and "approval" not in kinds  # nothing recorded in mallory's name
