"""Stage prepare: split the iris data set shipped with scikit-learn into train and test CSVs."""

from pathlib import Path

import yaml
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split

params = yaml.safe_load(Path("params.yaml").read_text())["prepare"]
frame = load_iris(as_frame=True).frame.rename(columns=lambda c: c.replace(" (cm)", "")
                                              .replace(" ", "_"))
train, test = train_test_split(frame, test_size=params["test_size"],
                               random_state=params["seed"], stratify=frame["target"])
out = Path("data/prepared")
out.mkdir(parents=True, exist_ok=True)
train.to_csv(out / "train.csv", index=False)
test.to_csv(out / "test.csv", index=False)
print(f"prepare: {len(train)} training rows, {len(test)} test rows")
