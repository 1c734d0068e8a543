"""``lifegate catalog``: list the EN 304 223 provisions and the gates that evidence them."""

from __future__ import annotations

import json

import click
from rich.table import Table

from lifegate.catalog import load_catalog
from lifegate.cli.options import console
from lifegate.core import GATES, Phase, gate_class


def gates_by_provision() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for gid in GATES:
        for pid in gate_class(gid).provisions:
            out.setdefault(pid, []).append(gid)
    return out


@click.command("catalog")
@click.option("--phase", type=click.Choice([p.value for p in Phase]), default=None)
@click.option("--principle", type=click.IntRange(1, 13), default=None)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def catalog_cmd(phase: str | None, principle: int | None, fmt: str) -> None:
    """List provisions, filtered by lifecycle phase or principle."""
    cat = load_catalog()
    rows = cat.select(Phase(phase) if phase else None, principle)
    gates = gates_by_provision()
    if fmt == "json":
        data = [{**p.model_dump(mode="json"), "gates": gates.get(p.id, [])} for p in rows]
        click.echo(json.dumps({"standard": cat.standard, "count": len(data),
                               "provisions": data}, indent=2))
        return
    table = Table(title=f"{cat.standard}: {len(rows)} provisions")
    for col in ("id", "phase", "modal", "roles", "summary", "gates"):
        table.add_column(col, overflow="fold")
    for p in rows:
        table.add_row(p.id, p.phase.value, p.modal.value, ", ".join(p.roles), p.summary,
                      ", ".join(gates.get(p.id, [])) or p.evidence.value)
    console.print(table)


COMMANDS = [catalog_cmd]
