"""A project folder with a policy, a real SQLite ledger and a few assets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from lifegate.core import Policy, load_policy


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "models" / "clf").mkdir(parents=True)
    (tmp_path / "models" / "clf" / "weights.bin").write_bytes(b"\x00\x01" * 5000)
    (tmp_path / "models" / "clf" / "config.json").write_text('{"layers": 2}')
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("a,b\n1,2\n")
    return tmp_path


@pytest.fixture
def make_policy(project: Path) -> Callable[..., Policy]:
    def make(**gates: dict) -> Policy:  # type: ignore[type-arg]
        data = {"system": {"name": "sys", "version": "1"},
                "gates": {gid: {"settings": s} for gid, s in gates.items()}}
        path = project / "lifegate.yaml"
        path.write_text(yaml.safe_dump(data))
        return load_policy(path)

    return make
