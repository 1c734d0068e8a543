"""A released copy of example_pipelines/dvc, built once per module with real git, DVC and
lifegate (``dvc repro`` through every gate), then copied for each test to spoil."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from dvc_support import demo


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two states of the example: after the first repro (not approved), and released."""
    base = tmp_path_factory.mktemp("dvc-example")
    unapproved = base / "unapproved"
    demo.setup(unapproved)
    demo.build(unapproved)
    released = base / "released"
    shutil.copytree(unapproved, released, symlinks=True)
    demo.approve(released)
    demo.repro(released)
    demo.commit(released, "release")
    return {"unapproved": unapproved, "released": released}


@pytest.fixture
def project(built: dict[str, Path], tmp_path: Path) -> Callable[[str], Path]:
    """A private copy of one state (same bytes, new inodes: no digest is reused across)."""
    def make(state: str = "released") -> Path:
        dest = tmp_path / state
        shutil.copytree(built[state], dest, symlinks=True)
        return dest

    return make

