"""A training DAG written without lifegate in mind; the last lines add the policy's gates.

Nothing in the user's tasks changes: ``insert_gates`` puts LG-DATA after the load, and LG-SCAN,
LG-SIGN and LG-SBOM after the fit, re-wiring the edges so that ``publish`` waits for them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pendulum
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

HOME = Path(os.environ.get("LIFEGATE_EXAMPLE_HOME",
                           str(Path(__file__).resolve().parents[1] / "project")))


def load_data() -> None:
    from sklearn.datasets import load_breast_cancer

    (HOME / "data").mkdir(parents=True, exist_ok=True)
    load_breast_cancer(as_frame=True).frame.to_csv(HOME / "data" / "train.csv", index=False)


def fit() -> None:
    import joblib
    import pandas as pd
    from sklearn.tree import DecisionTreeClassifier

    frame = pd.read_csv(HOME / "data" / "train.csv")
    model = DecisionTreeClassifier(max_depth=4, random_state=0)
    model.fit(frame.drop(columns="target"), frame["target"])
    (HOME / "models" / "clf").mkdir(parents=True, exist_ok=True)
    joblib.dump(model, HOME / "models" / "clf" / "model.joblib")


def publish() -> None:
    (HOME / "deploy").mkdir(exist_ok=True)
    (HOME / "deploy" / "published.txt").write_text("models/clf\n")


with DAG("plain_training", schedule=None, catchup=False,
         start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
    PythonOperator(task_id="load_data", python_callable=load_data) \
        >> PythonOperator(task_id="fit", python_callable=fit) \
        >> PythonOperator(task_id="publish", python_callable=publish)

# --- lifegate: the only addition --------------------------------------------------------------
from lifegate.operators import GatePlacement, insert_gates  # noqa: E402

insert_gates(dag, str(HOME / "lifegate.yaml"), phases=["secure-development"],
             steps={"ingest": "load_*", "train": "fit"},
             placements={
                 "LG-DATA": GatePlacement("ingest", artifacts={"dataset": "data/train.csv"}),
                 "LG-SCAN": GatePlacement("train", artifacts={"model": "models/clf"}),
                 "LG-SIGN": GatePlacement("train", artifacts={"model": "models/clf"}),
                 "LG-SBOM": GatePlacement("train", artifacts={"model": "models/clf"},
                                          settings={"metrics_file": None}),
             })
