"""Train a scikit-learn model and release it through lifegate's gates.

ingest -> LG-DATA -> train -> LG-SCAN -> LG-SIGN -> LG-SBOM -> LG-DISCLOSE -> human approval
(LG-APPROVE, through Airflow's "Required actions") -> LG-VERIFY -> release.
Gate paths are relative to the policy's folder; the user's tasks get it as ``params.home``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG, task

from lifegate.operators import (
    DataValidationGateOperator,
    DisclosureGateOperator,
    ModelScanGateOperator,
    ReleaseApprovalOperator,
    SbomGateOperator,
    SignModelOperator,
    VerifyModelOperator,
)

MODEL = "models/clf"

# The working copy of example_pipelines/airflow/project (run_demo.py and the tests set it).
HOME = os.environ.get("LIFEGATE_EXAMPLE_HOME",
                      str(Path(__file__).resolve().parents[1] / "project"))

with DAG(
    "train_and_release",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["ai-pipeline", "lifegate:secure-development", "lifegate:secure-deployment"],
    params={"home": HOME},
) as dag:

    @task
    def ingest(params: dict[str, str]) -> str:
        from pathlib import Path

        from sklearn.datasets import load_breast_cancer
        from sklearn.model_selection import train_test_split

        frame = load_breast_cancer(as_frame=True).frame
        train, later = train_test_split(frame, test_size=0.3, random_state=7,
                                        stratify=frame["target"])
        data = Path(params["home"]) / "data"
        data.mkdir(parents=True, exist_ok=True)
        train.to_csv(data / "train.csv", index=False)
        train.to_csv(data / "reference.csv", index=False)
        later.to_csv(data / "holdout.csv", index=False)
        return str(data / "train.csv")

    @task
    def train(params: dict[str, str]) -> dict[str, float]:
        import json
        from pathlib import Path

        import joblib
        import pandas as pd
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        home = Path(params["home"])
        frame = pd.read_csv(home / "data" / "train.csv")
        holdout = pd.read_csv(home / "data" / "holdout.csv")
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
        model.fit(frame.drop(columns="target"), frame["target"])
        accuracy = float(model.score(holdout.drop(columns="target"), holdout["target"]))
        (home / MODEL).mkdir(parents=True, exist_ok=True)
        joblib.dump(model, home / MODEL / "model.joblib")
        metrics = {"accuracy": round(accuracy, 4)}
        (home / "models" / "metrics.json").write_text(json.dumps(metrics) + "\n")
        return metrics

    @task
    def release(params: dict[str, str], ti: object = None) -> str:
        import json
        from pathlib import Path

        verified = ti.xcom_pull(task_ids="verify_release")  # type: ignore[attr-defined]
        target = Path(params["home"]) / "deploy" / "current.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"model": MODEL, "subjects": verified["subjects"]}) + "\n")
        return str(target)

    validate = DataValidationGateOperator(task_id="validate_data", dataset="data/train.csv")
    scan = ModelScanGateOperator(task_id="scan_model", model=MODEL)
    sbom = SbomGateOperator(task_id="sbom", model=MODEL)
    sign = SignModelOperator(task_id="sign_model", model=MODEL)
    disclose = DisclosureGateOperator(task_id="disclose", model=MODEL)
    approve = ReleaseApprovalOperator(task_id="approve_release", model=MODEL,
                                      requested_by="alice")
    verify = VerifyModelOperator(task_id="verify_release", model=MODEL)

    ingest() >> validate >> train() >> scan >> sign >> sbom >> disclose >> approve >> verify
    verify >> release()
