"""The lifegate Airflow demo: the three example DAGs, run with ``dag.test()``.

A throw-away AIRFLOW_HOME with an embedded SQLite metadata DB; the project is copied to
``demo-output/airflow/`` with fresh keys held in Airflow connections. Then:
``train_and_release`` (the approval is answered automatically as bob: demo mode only),
``monitor`` (passes, then blocks on simulated drift), ``retire`` (plans the retirement, carol
approves the plan as data custodian, automatically in demo mode only; LG-RETIRE revokes,
disposes and issues the disposal certificate; then the monitor's LG-VERIFY refuses the model),
and finally the EN 304 223 conformity report from the ledger.
Run it with ``make demo`` (after the quickstart), or
``python example_pipelines/airflow/run_demo.py``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
OUT = REPO / "demo-output" / "airflow"
sys.path.insert(0, str(HERE))

import demo_support  # noqa: E402


def run(bag: Any, dag_id: str, expect: str, **conf: Any) -> None:
    print(f"\n=== dag.test(): {dag_id} {conf or ''}", flush=True)
    dag = bag.get_dag(dag_id)
    dr = dag.test(run_conf={"home": str(OUT), **conf})
    state = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    for task in dag.topological_sort():
        print(f"  {task.task_id:<18} {state.get(task.task_id)}")
    if str(dr.state) != expect:
        sys.exit(f"demo: {dag_id} ended {dr.state}, expected {expect}")
    print(f"  -> run {dr.state} (expected)")


def report() -> None:
    from lifegate.evidence.ledger import open_ledger
    from lifegate.operators import LifegateHook
    from lifegate.plugins.airflow_plugin import LifegatePlugin
    from lifegate.reports.conformity import evaluate
    from lifegate.reports.formats import parse_formats, write_reports

    for listener in LifegatePlugin.listeners:  # the audit trail is recorded in the background
        if not listener.flush(60):
            sys.exit("demo: the audit listener could not record its events")
    with LifegateHook().policy() as policy:
        led = open_ledger(policy)
        checked = led.verify()
        result = evaluate(led.entries(stop=checked.head_seq), policy, ledger=led.location)
        paths = write_reports(result, parse_formats("html,json,md"), OUT / "report")
    print(f"\nledger verified: {checked.records} records, {checked.signed} signed")
    print("conformity:", ", ".join(f"{k} {v}" for k, v in result.counts.items()))
    for p in paths:
        print(f"wrote {p}")


def main() -> None:
    demo_support.airflow_env()
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    os.environ.update(demo_support.prepare_project(OUT))
    os.environ["LIFEGATE_POLICY"] = str(OUT / "lifegate.yaml")
    demo_support.migrate_db()
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(demo_support.DAGS))
    if bag.import_errors:
        sys.exit(f"demo: DAG import errors: {bag.import_errors}")
    # Demo mode only: bob's answer to the approval request is given by this script.
    demo_support.answer_approval("train_and_release", "approve_release", user="bob",
                                 approve=True, comment="demo mode: approved automatically")
    run(bag, "train_and_release", "success")
    run(bag, "monitor", "success", shift=0.0)
    run(bag, "monitor", "failed", shift=0.8)  # simulated drift: LG-DRIFT blocks
    demo_support.answer_approval("retire", "approve_retirement", user="carol", approve=True,
                                 comment="demo mode: plan approved automatically")
    run(bag, "retire", "success")
    run(bag, "monitor", "failed", shift=0.0)  # the revoked release is refused
    report()
    print(f"\nAirflow demo done. Conformity report: {OUT / 'report' / 'conformity.html'}")


if __name__ == "__main__":
    main()
