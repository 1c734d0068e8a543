"""Three small file datasets (the project does not depend on kedro-datasets)."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

import joblib
import pandas as pd
from kedro.io import AbstractDataset


class _FileDataset(AbstractDataset[Any, Any]):
    def __init__(self, filepath: str) -> None:
        self._filepath = PurePosixPath(filepath)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}

    def _exists(self) -> bool:
        return Path(self._filepath).is_file()

    def _target(self) -> Path:
        path = Path(self._filepath)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


class CSVDataset(_FileDataset):
    def load(self) -> pd.DataFrame:
        return pd.read_csv(self._filepath)

    def save(self, data: pd.DataFrame) -> None:
        data.to_csv(self._target(), index=False)


class JoblibDataset(_FileDataset):
    def load(self) -> Any:
        return joblib.load(self._filepath)

    def save(self, data: Any) -> None:
        joblib.dump(data, self._target())


class JSONDataset(_FileDataset):
    def load(self) -> Any:
        return json.loads(Path(self._filepath).read_text(encoding="utf-8"))

    def save(self, data: Any) -> None:
        self._target().write_text(json.dumps(data, indent=2, sort_keys=True) + "\n",
                                  encoding="utf-8")
