"""Fixtures for the Kedro integration tests: lifegate's Kedro entry points, and a fresh copy
of example_pipelines/kedro per test (see kedro_project.py)."""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kedro_project import copy_project

ENTRY_POINTS = """[kedro.hooks]
lifegate = lifegate.plugins.kedro_hooks:hooks

[kedro.project_commands]
lifegate = lifegate.plugins.kedro_cli:commands
"""


def _installed() -> bool:
    try:
        eps = importlib.metadata.distribution("lifegate").entry_points
    except importlib.metadata.PackageNotFoundError:
        return False
    return any(ep.group == "kedro.hooks" and ep.name == "lifegate" for ep in eps)


@pytest.fixture(scope="module")
def entry_points(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A folder for PYTHONPATH that provides lifegate's Kedro entry points.

    When the installed distribution declares them, the folder is empty. Otherwise it holds a
    ``lifegate`` dist-info with just those entry points (``importlib.metadata`` finds it on
    ``sys.path``), so the tests exercise the same registration path Kedro uses. Module
    scope keeps that stand-in out of other tests (LG-SBOM lists the distributions it sees).
    """
    folder = tmp_path_factory.mktemp("entry-points")
    if not _installed():
        version = importlib.metadata.version("lifegate")
        info = folder / f"lifegate-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: lifegate\n"
                                       f"Version: {version}\n")
        (info / "entry_points.txt").write_text(ENTRY_POINTS)
    sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    yield str(folder)
    sys.path.remove(str(folder))
    importlib.invalidate_caches()


@pytest.fixture
def project(tmp_path: Path, entry_points: str) -> Path:
    return copy_project(tmp_path / "project")
