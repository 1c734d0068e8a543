"""``lifegate init``: write a commented starter policy, threat model and system card."""

from __future__ import annotations

import datetime
import getpass
from importlib import resources
from pathlib import Path

import click

from lifegate.cli.options import console
from lifegate.core.errors import ConfigError

STARTERS = ("lifegate.yaml", "threat_model.yaml", "system_card.yaml")


@click.command("init")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=Path("."),
              show_default=True, help="where to write the starter files")
@click.option("--name", default=None, help="AI system name (default: the folder name)")
@click.option("--owner", default=None, help="accountable owner (default: current user)")
def init_cmd(directory: Path, name: str | None, owner: str | None) -> None:
    """Write starter lifegate.yaml, threat_model.yaml and system_card.yaml (never overwrites)."""
    directory.mkdir(parents=True, exist_ok=True)
    existing = [f for f in STARTERS if (directory / f).exists()]
    if existing:
        raise ConfigError(f"{', '.join(existing)} already exist in {directory}",
                          fix="lifegate init never overwrites; remove them or use --dir")
    values = {"{name}": name or directory.resolve().name, "{owner}": owner or getpass.getuser(),
              "{today}": datetime.date.today().isoformat()}
    for fname in STARTERS:
        text = resources.files("lifegate.cli").joinpath("starters", fname).read_text()
        for key, value in values.items():
            text = text.replace(key, value)
        (directory / fname).write_text(text)
        console.print(f"wrote {directory / fname}")
    console.print("next: `lifegate keys generate`, then fill in threat_model.yaml")


COMMANDS = [init_cmd]
