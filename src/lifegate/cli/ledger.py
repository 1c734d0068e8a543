"""``lifegate ledger``: verify, export, checkpoint and show the evidence ledger."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from lifegate.cli.options import console, policy_options
from lifegate.core import Policy
from lifegate.core.errors import ConfigError
from lifegate.evidence.verify import VerifyReport


@click.group("ledger")
def ledger_group() -> None:
    """Inspect and check the tamper-evident evidence ledger."""


def _show(report: VerifyReport, where: str) -> None:
    console.print(f"[green]ledger OK[/green]: {report.records} records ({report.signed} signed),"
                  f" head #{report.head_seq} {report.head_hash[:16]} in {where}")


def _verify_file(file: Path, public_keys: tuple[Path, ...], checkpoints: tuple[Path, ...]
                 ) -> None:
    from lifegate.evidence.keys import fingerprint, load_public_key
    from lifegate.evidence.ledger import read_checkpoint, read_export
    from lifegate.evidence.verify import verify_records

    if not public_keys:
        raise ConfigError("verifying an export needs the signer's public key",
                          fix="pass --public-key KEY.pub (the file's own keys are not trusted)")
    trusted = {fingerprint(k): k for k in map(load_public_key, public_keys)}
    header, records = read_export(file)
    known = {kid: load_public_key(pem) for kid, pem in header.get("keys", {}).items()}
    known.update(trusted)
    head = header.get("head", {})
    anchors = [read_checkpoint(c, trusted) for c in checkpoints]
    report = verify_records(records, known_keys=known, trusted=set(trusted),
                            require_signatures=True,
                            head=(int(head.get("seq", 0)), str(head.get("record_hash", ""))),
                            anchors=anchors)
    _show(report, str(file))


@ledger_group.command("verify")
@click.option("--file", "file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="verify an exported JSONL file instead of the database")
@click.option("--public-key", "public_keys", multiple=True,
              type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="trusted signer public key (repeatable); required with --file")
@click.option("--checkpoint", "checkpoints", multiple=True,
              type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="signed checkpoint the ledger must still contain (repeatable)")
@policy_options
def verify_cmd(policy: Policy, file: Path | None, public_keys: tuple[Path, ...],
               checkpoints: tuple[Path, ...]) -> None:
    """Check every record: order, hash chain, content, signatures, head and checkpoints."""
    if file is not None:
        _verify_file(file, public_keys, checkpoints)
        return
    from lifegate.evidence.ledger import open_ledger, read_checkpoint

    led = open_ledger(policy)
    anchors = [read_checkpoint(c, led.known_keys()) for c in checkpoints]
    _show(led.verify(anchors), led.location)


@ledger_group.command("export")
@click.argument("out", type=click.Path(path_type=Path, dir_okay=False))
@policy_options
def export_cmd(policy: Policy, out: Path) -> None:
    """Write the ledger as portable JSONL that verifies without a database."""
    from lifegate.evidence.ledger import open_ledger

    n = open_ledger(policy).export(out)
    console.print(f"exported {n} records to {out}")


@ledger_group.command("checkpoint")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="where to write it (default .lifegate/checkpoints/); keep a copy elsewhere")
@policy_options
def checkpoint_cmd(policy: Policy, out: Path | None) -> None:
    """Sign the current head, so a later truncation of the ledger is detected."""
    from lifegate.evidence.ledger import open_ledger

    path = open_ledger(policy).checkpoint(out)
    console.print(f"checkpoint written to {path}")


@ledger_group.command("show")
@click.option("--last", default=20, show_default=True, help="how many records")
@policy_options
def show_cmd(policy: Policy, last: int) -> None:
    """List the most recent records."""
    from collections import deque

    from lifegate.evidence.ledger import open_ledger

    table = Table(title="evidence ledger")
    for col in ("seq", "recorded", "kind", "about", "verdict", "signed"):
        table.add_column(col)
    for e in deque(open_ledger(policy).entries(), maxlen=last):
        p = e.predicate
        about = p.get("result", {}).get("gate_id") or p.get("provision") or ""
        table.add_row(str(e.seq), f"{e.recorded_at:%Y-%m-%d %H:%M:%S}", e.kind, about,
                      p.get("result", {}).get("verdict", ""), "yes" if e.signed else "no")
    console.print(table)


COMMANDS = [ledger_group]
