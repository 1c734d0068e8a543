"""The package layout: one ``lifegate`` namespace over three source roots, and a light core.

A ``lifegate/__init__.py`` in any root would make that root a regular package and hide the
other two portions; importing the core or the operators must not drag in any platform or
heavy library (Airflow parses DAG files, and so imports ``lifegate.operators``, constantly).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ROOTS = ("src", "operators", "plugins")
PORTIONS = {"core": "src", "operators": "operators", "plugins": "plugins"}
HEAVY = ("airflow", "kedro", "dvc", "great_expectations", "cyclonedx", "model_signing",
         "pandas")

_PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_no_root_turns_lifegate_into_a_regular_package() -> None:
    shadows = []
    for root in (REPO, *(REPO / r for r in ROOTS)):
        for name in ("lifegate/__init__.py", "lifegate.py"):
            if (root / name).exists():
                shadows.append(str((root / name).relative_to(REPO)))
    assert not shadows, f"these hide the other lifegate portions; delete them: {shadows}"
    for root in ROOTS:
        assert (REPO / root / "lifegate").is_dir(), f"{root}/lifegate/ is missing"


@pytest.mark.parametrize("module", ["lifegate.core", "lifegate.operators"])
def test_import_pulls_in_no_platform_or_heavy_library(module: str, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", _PROBE, module], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    loaded = set(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert not loaded & set(HEAVY), (
        f"importing {module} imports {sorted(loaded & set(HEAVY))}; import them inside the "
        "functions that need them")


def test_namespace_spans_all_three_portions() -> None:
    import lifegate

    assert getattr(lifegate, "__file__", None) is None, "lifegate must be a namespace package"
    portions = {Path(p).resolve() for p in lifegate.__path__}
    for sub, root in PORTIONS.items():
        mod = importlib.import_module(f"lifegate.{sub}")
        assert mod.__file__ is not None
        pkg_dir = Path(mod.__file__).resolve().parent
        assert pkg_dir.parent in portions, f"lifegate.{sub} is outside lifegate.__path__"
        assert pkg_dir == (REPO / root / "lifegate" / sub).resolve(), (
            f"lifegate.{sub} comes from {pkg_dir}, not this checkout; run `make venv`")
