"""Retire the model by an approved plan, with a disposal certificate (LG-RETIRE).

plan_retirement writes the plan (every copy of the model under ``models/``, action dispose) and
asks for approval of its digest -> a data custodian approves it in Airflow's "Required actions"
(signed with their own key) -> LG-RETIRE revokes the release's signature, disposes of each
file, checks that no copy remains and issues a signed disposal certificate. A deployment
that still points at the model is refused by LG-VERIFY from then on (the monitor DAG shows it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG

from lifegate.operators import (
    RetirementApprovalOperator,
    RetirementOperator,
    RetirementPlanOperator,
)

MODEL = "models/clf"
PLAN = "retirement.yaml"

# The working copy of example_pipelines/airflow/project (run_demo.py and the tests set it).
HOME = os.environ.get("LIFEGATE_EXAMPLE_HOME",
                      str(Path(__file__).resolve().parents[1] / "project"))

with DAG(
    "retire",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["ai-pipeline", "lifegate:secure-end-of-life"],
    params={"home": HOME},
) as dag:
    plan = RetirementPlanOperator(task_id="plan_retirement", model=MODEL, roots=["models"],
                                  out=PLAN, requested_by="bob",
                                  note="retired: replaced by a newer model")
    approve = RetirementApprovalOperator(task_id="approve_retirement", plan=PLAN)
    retire = RetirementOperator(task_id="retire_model", plan=PLAN, settings={"execute": True})
    plan >> approve >> retire
