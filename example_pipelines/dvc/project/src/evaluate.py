"""Stage evaluate: accuracy on the test split, written to metrics.json."""

import json
from pathlib import Path

import joblib
import pandas as pd

test = pd.read_csv("data/prepared/test.csv")
model = joblib.load("models/model.joblib")
accuracy = float((model.predict(test.drop(columns="target")) == test["target"]).mean())
Path("metrics.json").write_text(json.dumps({"accuracy": round(accuracy, 4)}, indent=2) + "\n")
print(f"evaluate: accuracy {accuracy:.3f}")
