"""The example DAGs load through DagBag and run end to end with dag.test(): release with a
human approval, monitoring (drift blocks, then verify), retirement by a custodian-approved plan
with a disposal certificate (then the release is refused)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import demo_support
import pytest
from airflow_helpers import run_dag, states, xcom

from lifegate.core import load_policy
from lifegate.evidence.approvals import approvals_for
from lifegate.evidence.ledger import open_ledger
from lifegate.gates._retire_plan import load_plan
from lifegate.gates.retirement import PLAN_SUBJECT


def _all(st: dict[str, str], state: str) -> bool:
    return set(st.values()) == {state}


def test_example_dags_load_without_import_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert {"train_and_release", "monitor", "retire"} <= set(dagbag.dag_ids)


def test_release_monitor_retire(dagbag: Any, project: Path, listener: Any) -> None:
    demo_support.answer_approval("train_and_release", "approve_release", user="bob",
                                 approve=True, comment="metrics and notice reviewed")
    dr = run_dag(dagbag, "train_and_release", project)
    assert _all(states(dr), "success"), states(dr)
    deployed = json.loads((project / "deploy" / "current.json").read_text())
    approval = xcom(dr, "approve_release")
    assert approval["verdict"] == "pass" and approval["approver"] == "bob"
    assert deployed["subjects"] == xcom(dr, "verify_release")["subjects"]
    sign = xcom(dr, "sign_model")
    assert sign["gate"] == "LG-SIGN" and sign["evidence"] and sign["record"].startswith("#")

    assert _all(states(run_dag(dagbag, "monitor", project, shift=0.0)), "success")
    drifted = run_dag(dagbag, "monitor", project, shift=0.8)
    st = states(drifted)
    assert (st["drift"], st["verify_deployed"]) == ("failed", "upstream_failed"), st
    assert str(drifted.state) == "failed"

    demo_support.answer_approval("retire", "approve_retirement", user="carol", approve=True,
                                 comment="plan reviewed: every copy under models/")
    retired = run_dag(dagbag, "retire", project)
    assert _all(states(retired), "success"), states(retired)
    assert xcom(retired, "approve_retirement")["approver"] == "carol"
    result = xcom(retired, "retire_model")
    assert result["gate"] == "LG-RETIRE" and result["verdict"] == "pass"
    certs = list((project / ".lifegate" / "retirement").rglob("disposal-certificate.json"))
    assert len(certs) == 1
    assert not list((project / "models" / "clf").glob("*.joblib"))  # disposed
    after = states(run_dag(dagbag, "monitor", project, shift=0.0))
    assert after["verify_deployed"] == "failed"  # the retired release is refused

    policy = load_policy(project / "lifegate.yaml")
    policy.keys.require_signatures = False  # the system key lives in the connection only
    assert listener.flush(30)  # the audit listener records in the background
    led = open_ledger(policy)
    report = led.verify()  # raises when the chain or a signature does not verify
    assert report.records == report.signed > 10
    runs = [e.predicate["result"]["gate_id"] for e in led.entries()
            if e.kind == "gate-run"]
    for gate in ("LG-DATA", "LG-SCAN", "LG-SIGN", "LG-SBOM", "LG-DISCLOSE", "LG-APPROVE",
                 "LG-VERIFY", "LG-DRIFT", "LG-RETIRE"):
        assert gate in runs
    refs = [e.predicate["context"]["platform"] for e in led.entries() if e.kind == "gate-run"]
    assert refs[0]["name"] == "airflow" and refs[0]["refs"]["dag_id"] == "train_and_release"


@pytest.mark.parametrize(("user", "approve", "why"), [
    ("carol", False, "rejected retirement plan"),
    ("bob", True, "bob is not a data custodian"),
], ids=["custodian-rejects", "not-a-custodian"])
def test_retirement_without_a_custodians_approval_disposes_of_nothing(
        dagbag: Any, project: Path, user: str, approve: bool, why: str, listener: Any) -> None:
    demo_support.answer_approval("train_and_release", "approve_release", user="bob",
                                 approve=True, comment="metrics and notice reviewed")
    assert _all(states(run_dag(dagbag, "train_and_release", project)), "success")
    model_files = sorted((project / "models" / "clf").rglob("*"))
    demo_support.answer_approval("retire", "approve_retirement", user=user, approve=approve,
                                 comment="not now")
    retired = run_dag(dagbag, "retire", project)
    st = states(retired)
    assert (st["plan_retirement"], st["approve_retirement"], st["retire_model"]) == \
        ("success", "failed", "upstream_failed"), st
    assert sorted((project / "models" / "clf").rglob("*")) == model_files  # nothing disposed
    assert not list((project / ".lifegate").rglob("disposal-certificate.json"))
    policy = load_policy(project / "lifegate.yaml")
    policy.keys.require_signatures = False
    assert listener.flush(30)
    led = open_ledger(policy)
    assert led.verify().records > 0
    digest = load_plan(project / "retirement.yaml").digest()
    decisions = [a.record.decision for a in approvals_for(policy, {PLAN_SUBJECT: digest})]
    assert decisions == (["reject"] if not approve else []), why
