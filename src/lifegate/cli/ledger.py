"""``lifegate ledger``: verify, export, checkpoint and show the evidence ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from lifegate.cli.options import (
    console,
    load_cli_policy,
    policy_options,
    reader_policy_options,
)
from lifegate.core import Policy
from lifegate.core.errors import ConfigError
from lifegate.evidence.verify import VerifyReport


@click.group("ledger")
def ledger_group() -> None:
    """Inspect and check the tamper-evident evidence ledger."""


def _show(report: VerifyReport, where: str, policy: Policy | None = None) -> None:
    console.print(f"[green]ledger OK[/green]: {report.records} records ({report.signed} signed),"
                  f" head #{report.head_seq} {report.head_hash[:16]} in {where}")
    if report.checkpoint is not None:
        console.print(f"  checked against checkpoint of #{report.checkpoint.seq} "
                      f"({report.checkpoint.source})", markup=False)
    accepted = policy.keys.accept_unsigned if policy else None
    if report.unsigned_accepted and accepted is not None:
        console.print(f"  [yellow]waived[/yellow]: {report.unsigned_accepted} unsigned records "
                      f"up to #{accepted.through_seq}, accepted by {accepted.approver}: "
                      f"{accepted.justification}", highlight=False)
    for warning in report.warnings:
        console.print(f"  [yellow]warning[/yellow]: {warning}", highlight=False)


def _verify_file(file: Path, public_keys: tuple[Path, ...], checkpoints: tuple[Path, ...],
                 event_keys: tuple[Path, ...]) -> None:
    from lifegate.evidence.keys import fingerprint, load_public_key
    from lifegate.evidence.ledger import read_checkpoint, read_export
    from lifegate.evidence.verify import verify_records

    if not public_keys:
        raise ConfigError("verifying an export needs the signer's public key",
                          fix="pass --public-key KEY.pub (the file's own keys are not trusted)")
    trusted = {fingerprint(k): k for k in map(load_public_key, public_keys)}
    scoped = {fingerprint(k): k for k in map(load_public_key, event_keys)}
    header, records = read_export(file)
    known = {kid: load_public_key(pem) for kid, pem in header.get("keys", {}).items()}
    known.update({**trusted, **scoped})
    head = header.get("head", {})
    anchors = [read_checkpoint(c, {**trusted, **scoped}, header.get("origin"))
               for c in checkpoints]
    report = verify_records(records, known_keys=known, trusted=set(trusted) | set(scoped),
                            require_signatures=True,
                            head=(int(head.get("seq", 0)), str(head.get("record_hash", ""))),
                            anchors=anchors, scopes=dict.fromkeys(scoped, "platform-events"))
    _show(report, str(file))


@ledger_group.command("verify")
@click.option("--file", "file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="verify an exported JSONL file instead of the database")
@click.option("--public-key", "public_keys", multiple=True,
              type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="trusted signer public key (repeatable); required with --file")
@click.option("--event-public-key", "event_keys", multiple=True,
              type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="with --file: a key trusted for platform events only (repeatable)")
@click.option("--checkpoint", "checkpoints", multiple=True,
              type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="signed checkpoint the ledger must still contain (repeatable)")
@click.option("--policy", "-p", "policy_path", type=click.Path(path_type=Path),
              envvar="LIFEGATE_POLICY", help="lifegate.yaml (default: ./lifegate.yaml)")
@click.option("--ledger-url", envvar="LIFEGATE_LEDGER_URL",
              help="ledger database URL (overrides the policy)")
def verify_cmd(file: Path | None, public_keys: tuple[Path, ...], event_keys: tuple[Path, ...],
               checkpoints: tuple[Path, ...], policy_path: Path | None,
               ledger_url: str | None) -> None:
    """Check every record: order, hash chain, content, signatures, head and checkpoints.

    Needs public keys only. Against the database it also checks the newest checkpoint in the
    policy's checkpoint folders; with --file (an auditor's copy) only the export and the keys
    and checkpoints given are used."""
    if file is not None:
        _verify_file(file, public_keys, checkpoints, event_keys)
        return
    from lifegate.evidence.ledger import open_ledger, read_checkpoint

    policy = load_cli_policy(policy_path, ledger_url, reader=True)
    led = open_ledger(policy, write=False)
    anchors = [read_checkpoint(c, led.trusted or led.known_keys(), led.origin)
               for c in checkpoints]
    _show(led.verify(anchors), led.location, policy)


@ledger_group.command("export")
@click.argument("out", type=click.Path(path_type=Path, dir_okay=False))
@reader_policy_options
def export_cmd(policy: Policy, out: Path) -> None:
    """Write the ledger as portable JSONL that verifies without a database."""
    from lifegate.evidence.ledger import open_ledger

    n = open_ledger(policy, write=False).export(out)
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


@ledger_group.command("accept-unsigned")
@click.option("--through", "through_seq", type=click.IntRange(min=1), required=True,
              help="the last record that may be unsigned")
@click.option("--approver", required=True, help="the person who accepts them")
@click.option("--justification", required=True, help="why (at least 10 characters)")
@policy_options
def accept_unsigned_cmd(policy: Policy, through_seq: int, approver: str,
                        justification: str) -> None:
    """Accept the unsigned records of an older ledger up to one record, as a signed waiver.

    Checks that the ledger verifies with records #1..THROUGH allowed unsigned (and nothing
    after them), records the waiver in the ledger and sets keys.accept_unsigned in the
    policy. Unsigned records after THROUGH are still refused."""
    from lifegate.cli.policyfile import edit_policy
    from lifegate.core.policy import UnsignedAccepted, find_policy_file
    from lifegate.evidence.ledger import open_ledger

    accepted = UnsignedAccepted(through_seq=through_seq, approver=approver,
                                justification=justification)
    policy_file = find_policy_file(Path(policy.source)) if policy.source != "<defaults>" \
        else None
    if policy_file is None or not policy_file.is_file():
        raise ConfigError("accept-unsigned records its waiver in lifegate.yaml, and there is "
                          "none", fix="run it in the project folder or pass --policy")
    led = open_ledger(policy)
    ref = led.accept_unsigned(through_seq, approver, justification, policy.system.name)

    def change(data: Any) -> None:
        data.setdefault("keys", {})["accept_unsigned"] = accepted.model_dump()

    edit_policy(policy_file, change)
    console.print(f"unsigned records up to #{through_seq} accepted by {approver}: waiver "
                  f"recorded as {ref}, keys.accept_unsigned set in {policy_file}")


@ledger_group.command("show")
@click.option("--last", default=20, show_default=True, help="how many records")
@reader_policy_options
def show_cmd(policy: Policy, last: int) -> None:
    """List the most recent records."""
    from collections import deque

    from lifegate.evidence.ledger import open_ledger

    table = Table(title="evidence ledger")
    for col in ("seq", "recorded", "kind", "about", "verdict", "signed"):
        table.add_column(col)
    for e in deque(open_ledger(policy, write=False).entries(), maxlen=last):
        p = e.predicate
        about = p.get("result", {}).get("gate_id") or p.get("provision") or ""
        table.add_row(str(e.seq), f"{e.recorded_at:%Y-%m-%d %H:%M:%S}", e.kind, about,
                      p.get("result", {}).get("verdict", ""), "yes" if e.signed else "no")
    console.print(table)


COMMANDS = [ledger_group]
