"""The pipeline's steps: plain functions, with no knowledge of lifegate."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def fetch_iris() -> pd.DataFrame:
    """The iris measurements shipped with scikit-learn, with readable column names."""
    bunch = load_iris(as_frame=True)
    frame = bunch.data.copy()
    frame.columns = FEATURES
    frame["species"] = [str(bunch.target_names[i]) for i in bunch.target]
    return frame


def clean(raw: pd.DataFrame) -> pd.DataFrame:
    return raw.dropna().drop_duplicates().reset_index(drop=True)


def split(data: pd.DataFrame, params: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, test = train_test_split(data, test_size=params["test_size"],
                                   random_state=params["random_state"],
                                   stratify=data["species"])
    return train.reset_index(drop=True), test.reset_index(drop=True)


def train(train_set: pd.DataFrame, params: dict[str, Any]) -> LogisticRegression:
    model = LogisticRegression(max_iter=params["max_iter"], C=params["C"])
    model.fit(train_set[FEATURES].to_numpy(), train_set["species"].to_numpy())
    return model


def evaluate(model: LogisticRegression, test_set: pd.DataFrame) -> dict[str, float]:
    predicted = model.predict(test_set[FEATURES].to_numpy())
    truth = test_set["species"].to_numpy()
    return {"accuracy": round(float(accuracy_score(truth, predicted)), 4),
            "f1_macro": round(float(f1_score(truth, predicted, average="macro")), 4),
            "test_rows": float(len(test_set))}
