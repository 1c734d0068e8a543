"""A fresh copy of example_pipelines/kedro with its own package name (Kedro imports a
project's settings and pipelines by package name, so two copies with one name in one process
would share modules), and helpers to run it and read its ledger."""

from __future__ import annotations

import datetime
import shutil
import uuid
from pathlib import Path
from typing import Any

from lifegate.evidence.keys import generate_keypair
from lifegate.evidence.ledger import Entry, Ledger
from lifegate.evidence.sql_store import SqlStore

EXAMPLE = Path(__file__).resolve().parents[3] / "example_pipelines" / "kedro"
PACKAGE = "iris_kedro_demo"


def copy_project(dest: Path, *, keys: bool = True) -> Path:
    """example_pipelines/kedro copied to ``dest`` under a unique package name."""
    package = f"{PACKAGE}_{uuid.uuid4().hex[:10]}"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(
        "data", ".lifegate", "__pycache__", "run_demo.py"))
    (dest / "src" / PACKAGE).rename(dest / "src" / package)
    for rel in ("pyproject.toml", "conf/base/catalog.yml",
                f"src/{package}/pipeline_registry.py"):
        path = dest / rel
        path.write_text(path.read_text().replace(PACKAGE, package))
    stamp_review(dest, datetime.date.today())
    if keys:
        generate_keypair(dest / ".lifegate" / "keys")
    return dest


def stamp_review(project: Path, day: datetime.date) -> None:
    tm = project / "threat_model.yaml"
    tm.write_text("\n".join(f"reviewed: {day.isoformat()}" if line.startswith("reviewed:")
                            else line for line in tm.read_text().splitlines()) + "\n")


def run(project: Path, *pipelines: str, env: str | None = None) -> dict[str, Any]:
    """One real KedroSession run of ``project`` in this process."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project)
    with KedroSession.create(project_path=project, env=env) as session:
        result: dict[str, Any] = session.run(pipeline_names=list(pipelines) or None)
    return result


def entries(project: Path) -> list[Entry]:
    db = project / ".lifegate" / "ledger.db"
    if not db.exists():
        return []
    return list(Ledger(SqlStore(f"sqlite:///{db}")).entries())


def gate_runs(project: Path) -> list[tuple[str, str, dict[str, str]]]:
    """(gate id, verdict, platform refs) of each gate-run record, in ledger order."""
    out = []
    for e in entries(project):
        if e.kind == "gate-run":
            result, ctx = e.predicate["result"], e.predicate["context"]
            out.append((result["gate_id"], result["verdict"], ctx["platform"]["refs"]))
    return out


def plant(path: Path, row: int, column: str, value: str) -> None:
    """Replace one cell of a CSV file (row: index of the data row)."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[row + 1].split(",")
    cells[header.index(column)] = value
    lines[row + 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
