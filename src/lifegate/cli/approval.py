"""``lifegate disclose``, ``approve``, ``reject`` and ``approval request|check``."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from lifegate.cli.options import console, policy_options, run_cli_gate
from lifegate.core import Policy

if TYPE_CHECKING:
    from lifegate.core import RunContext
    from lifegate.gates.approval import ApprovalGate

_model_arg = click.argument("model_path", type=click.Path(path_type=Path), required=False)


def _abs(path: Path | None) -> str | None:
    return str(path.resolve()) if path is not None else None


def _artifacts(**paths: Path | None) -> dict[str, str]:
    return {k: v for k, p in paths.items() if (v := _abs(p)) is not None}


def _gate(policy: Policy) -> ApprovalGate:
    from lifegate.core.gate import load_gate
    from lifegate.gates.approval import ApprovalGate

    gate = load_gate("LG-APPROVE", policy)
    assert isinstance(gate, ApprovalGate)
    return gate


def _context(policy: Policy, model_path: Path | None) -> RunContext:
    from lifegate.core import Phase, make_context

    return make_context(policy, Phase.DEPLOYMENT, artifacts=_artifacts(model=model_path))


def _me() -> str:
    return os.environ.get("LIFEGATE_ACTOR") or getpass.getuser()


@click.command("disclose")
@click.option("--system-card", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="system card (default: the gate's setting, system_card.yaml)")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="folder for disclosure.html/.md/.json (default: disclosure)")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="the released model (default: the model of the latest LG-SIGN run)")
@click.option("--templates", "templates_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="folder with your own (e.g. translated) templates")
@click.option("--metrics", "metrics", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="JSON object of evaluation metrics (name -> number)")
@policy_options
def disclose_cmd(policy: Policy, system_card: Path | None, out_dir: Path | None,
                 model_path: Path | None, templates_dir: Path | None,
                 metrics: Path | None) -> None:
    """LG-DISCLOSE: write the end-user disclosure and bind it to the signed release."""
    run_cli_gate("LG-DISCLOSE", policy, **_artifacts(
        system_card=system_card, out_dir=out_dir, model=model_path,
        templates_dir=templates_dir, metrics=metrics))


_decision_options = [
    click.option("--by", "approver", required=True, help="the approver (as in the policy)"),
    click.option("--key", "key", required=True,
                 type=click.Path(path_type=Path, dir_okay=False, exists=True),
                 help="the approver's own PEM private key (ECDSA P-256)"),
    click.option("--role", default=None, help="role to decide as (default: the required role "
                 "the approver holds)"),
]


def _decide(policy: Policy, model_path: Path | None, decision: str, approver: str, key: Path,
            role: str | None, comment: str, valid_days: int | None) -> None:
    from lifegate.evidence.keys import Signer

    gate = _gate(policy)
    ref, file = gate.decide(approver=approver, signer=Signer.from_file(key.resolve()),
                            decision="approve" if decision == "approve" else "reject",
                            comment=comment, role=role, valid_days=valid_days,
                            context=_context(policy, model_path))
    console.print(f"{decision} by {approver} signed and recorded as {ref}; record: {file}",
                  markup=False)


@click.command("approve")
@_model_arg
@_decision_options[0]
@_decision_options[1]
@_decision_options[2]
@click.option("--comment", default="", help="what was reviewed")
@click.option("--valid-days", type=click.IntRange(min=1), default=None,
              help="days the approval stays valid (default and maximum: the policy's)")
@policy_options
def approve_cmd(policy: Policy, model_path: Path | None, approver: str, key: Path,
                role: str | None, comment: str, valid_days: int | None) -> None:
    """Approve the current release of MODEL_PATH (signed with the approver's key)."""
    _decide(policy, model_path, "approve", approver, key, role, comment, valid_days)


@click.command("reject")
@_model_arg
@_decision_options[0]
@_decision_options[1]
@_decision_options[2]
@click.option("--comment", required=True, help="why the release is rejected")
@policy_options
def reject_cmd(policy: Policy, model_path: Path | None, approver: str, key: Path,
               role: str | None, comment: str) -> None:
    """Reject the current release of MODEL_PATH: LG-APPROVE stays closed until they approve."""
    _decide(policy, model_path, "reject", approver, key, role, comment, None)


@click.group("approval")
def approval_group() -> None:
    """Approval requests and the LG-APPROVE gate."""


@approval_group.command("request")
@_model_arg
@click.option("--by", "requested_by", default=None,
              help="who requests the release (default: $LIFEGATE_ACTOR or the current user)")
@click.option("--note", default="", help="what is to be approved, and why")
@policy_options
def request_cmd(policy: Policy, model_path: Path | None, requested_by: str | None,
                note: str) -> None:
    """Ask for the current release of MODEL_PATH to be approved (recorded in the ledger)."""
    who = requested_by or _me()
    ref, subjects = _gate(policy).request(who, note, _context(policy, model_path))
    console.print(f"approval requested by {who}, recorded as {ref}", markup=False)
    for kind, digest in sorted(subjects.items()):
        console.print(f"  {kind}  sha256:{digest}", markup=False)


@approval_group.command("check")
@_model_arg
@policy_options
def check_cmd(policy: Policy, model_path: Path | None) -> None:
    """LG-APPROVE: are there enough valid approvals for the current release?"""
    run_cli_gate("LG-APPROVE", policy, **_artifacts(model=model_path))


COMMANDS = [disclose_cmd, approve_cmd, reject_cmd, approval_group]
