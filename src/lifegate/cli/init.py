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
    for ignore in _write_ignores(directory):
        console.print(f"updated {ignore}")
    console.print("next: `lifegate keys generate`, then fill in threat_model.yaml")


# What never belongs in git or DVC: private keys, the ledger database and its journal files,
# the listener's spool of unrecorded events. Public keys, policy and checkpoints may be shared.
IGNORED = (".lifegate/keys/*.key", ".lifegate/ledger.db", ".lifegate/ledger.db-*",
           ".lifegate/spool/")


def _write_ignores(directory: Path) -> list[Path]:
    """Add the missing IGNORED lines to .gitignore (always) and .dvcignore (in DVC projects),
    keeping what the files already say."""
    targets = [directory / ".gitignore"]
    if (directory / ".dvc").is_dir() or (directory / ".dvcignore").exists():
        targets.append(directory / ".dvcignore")
    changed = []
    for path in targets:
        text = path.read_text() if path.exists() else ""
        have = {line.strip() for line in text.splitlines()}
        missing = [line for line in IGNORED if line not in have]
        if not missing:
            continue
        sep = "" if not text or text.endswith("\n") else "\n"
        path.write_text(text + sep + "# lifegate: private keys and the evidence database\n"
                        + "\n".join(missing) + "\n")
        changed.append(path)
    return changed


COMMANDS = [init_cmd]
