"""The example DAGs load through DagBag and run end to end with dag.test(): release with a
human approval, monitoring (drift blocks, then verify), retirement (revoked release refused)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import demo_support
from airflow_helpers import run_dag, states, xcom

from lifegate.core import load_policy
from lifegate.evidence.ledger import open_ledger


def _all(st: dict[str, str], state: str) -> bool:
    return set(st.values()) == {state}


def test_example_dags_load_without_import_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert {"train_and_release", "monitor", "retire"} <= set(dagbag.dag_ids)


def test_release_monitor_retire(dagbag: Any, project: Path) -> None:
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

    assert _all(states(run_dag(dagbag, "retire", project)), "success")
    after = states(run_dag(dagbag, "monitor", project, shift=0.0))
    assert after["verify_deployed"] == "failed"  # the revoked release is refused

    policy = load_policy(project / "lifegate.yaml")
    policy.keys.require_signatures = False  # the system key lives in the connection only
    led = open_ledger(policy)
    report = led.verify()  # raises when the chain or a signature does not verify
    assert report.records == report.signed > 10
    runs = [e.predicate["result"]["gate_id"] for e in led.entries()
            if e.kind == "gate-run"]
    for gate in ("LG-DATA", "LG-SCAN", "LG-SIGN", "LG-SBOM", "LG-DISCLOSE", "LG-APPROVE",
                 "LG-VERIFY", "LG-DRIFT"):
        assert gate in runs
    refs = [e.predicate["context"]["platform"] for e in led.entries() if e.kind == "gate-run"]
    assert refs[0]["name"] == "airflow" and refs[0]["refs"]["dag_id"] == "train_and_release"
