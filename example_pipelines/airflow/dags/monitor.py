"""Scheduled monitoring of the deployed model: LG-DRIFT on a production sample, then LG-VERIFY
of the deployed release (signature, revocations, release manifest)."""

from __future__ import annotations

import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG, task

from lifegate.operators import DriftGateOperator, VerifyModelOperator

# The working copy of example_pipelines/airflow/project (run_demo.py and the tests set it).
HOME = os.environ.get("LIFEGATE_EXAMPLE_HOME",
                      str(Path(__file__).resolve().parents[1] / "project"))

with DAG(
    "monitor",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["ai-pipeline", "lifegate:secure-maintenance"],
    params={"home": HOME, "shift": 0.0},
) as dag:

    @task
    def collect_sample(params: dict[str, object]) -> str:
        """Stands in for reading last day's production inputs (``shift`` simulates drift)."""
        from pathlib import Path

        import pandas as pd

        data = Path(str(params["home"])) / "data"
        sample = pd.read_csv(data / "holdout.csv")
        shift = float(str(params["shift"]))
        if shift:
            sample["mean radius"] = sample["mean radius"] * (1 + shift)
        sample.to_csv(data / "current.csv", index=False)
        return str(data / "current.csv")

    drift = DriftGateOperator(task_id="drift", reference="data/reference.csv",
                              current="data/current.csv")
    verify = VerifyModelOperator(task_id="verify_deployed", model="models/clf")

    collect_sample() >> drift >> verify
