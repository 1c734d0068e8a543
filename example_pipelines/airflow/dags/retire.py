"""Retire the model: record a signed revocation of its release, then confirm that LG-VERIFY
refuses it from now on (so no deployment can load it again)."""

from __future__ import annotations

import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG

from lifegate.operators import RevokeReleaseOperator, VerifyModelOperator

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
    revoke = RevokeReleaseOperator(task_id="revoke_release", model="models/clf",
                                   reason="retired: replaced by a newer model", revoked_by="bob")
    refused = VerifyModelOperator(task_id="verify_refused", model="models/clf",
                                  expect_refusal=True)
    revoke >> refused
