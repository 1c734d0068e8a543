"""Stage train: logistic regression on the training split, saved with joblib."""

from pathlib import Path

import joblib
import pandas as pd
import yaml
from sklearn.linear_model import LogisticRegression

params = yaml.safe_load(Path("params.yaml").read_text())["train"]
train = pd.read_csv("data/prepared/train.csv")
model = LogisticRegression(C=params["C"], max_iter=params["max_iter"])
model.fit(train.drop(columns="target"), train["target"])
Path("models").mkdir(exist_ok=True)
joblib.dump(model, "models/model.joblib")
print("train: model written to models/model.joblib")
