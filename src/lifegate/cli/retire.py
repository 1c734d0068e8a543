"""``lifegate retire plan|request|approve|execute|verify-certificate``: end of life."""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from lifegate.cli.options import console, policy_options, run_cli_gate
from lifegate.core import Policy
from lifegate.core.errors import ConfigError

_plan_arg = click.argument("plan_path", type=click.Path(path_type=Path, dir_okay=False))


@click.group("retire")
def retire_group() -> None:
    """Retire a model or system: plan, approval, disposal, certificate (LG-RETIRE)."""


@retire_group.command("plan")
@click.option("--model", "model", default=None, help="the model to retire (its signature, "
              "release manifest and bound files are included)")
@click.option("--root", "roots", multiple=True, required=True,
              help="a folder the retirement may touch (repeatable); nothing outside is")
@click.option("--dvc-repo", default=None, help="include DVC cache copies from this repo")
@click.option("--dvc-remote", "dvc_remotes", multiple=True,
              help="a local or mounted DVC remote folder to include (repeatable)")
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False),
              default=Path("retirement.yaml"), show_default=True)
@policy_options
def plan_cmd(policy: Policy, model: str | None, roots: tuple[str, ...], dvc_repo: str | None,
             dvc_remotes: tuple[str, ...], out: Path) -> None:
    """Write a plan from the inventory and the model's release: every copy, action dispose."""
    from lifegate.gates._retire_plan import DvcSource, generate_plan, write_plan

    if out.exists():
        raise ConfigError(f"{out} exists; lifegate does not overwrite a plan",
                          fix="remove it or pass --out")
    dvc = DvcSource(repo=dvc_repo, remotes=list(dvc_remotes)) if dvc_repo else None
    plan = generate_plan(policy, model=model, roots=list(roots), dvc=dvc)
    write_plan(plan, out)
    files = sum(len(a.files) for a in plan.assets)
    for path in plan.excluded:
        console.print(f"outside the roots, left out (add a --root to include it): {path}",
                      markup=False)
    console.print(f"wrote {out}: {len(plan.assets)} assets, {files} files, digest "
                  f"{plan.digest()[:12]}. Edit actions if needed, then `lifegate retire "
                  f"request {out}`.", markup=False)


@retire_group.command("request")
@_plan_arg
@click.option("--by", default=None, help="who asks (default: current user)")
@click.option("--note", default="", help="why the model or system is retired")
@policy_options
def request_cmd(policy: Policy, plan_path: Path, by: str | None, note: str) -> None:
    """Ask a data custodian to approve this exact plan."""
    from lifegate.evidence.approvals import request_approval
    from lifegate.gates._retire_plan import load_plan
    from lifegate.gates.retirement import PLAN_SUBJECT

    digest = load_plan(plan_path).digest()
    ref = request_approval(policy, {PLAN_SUBJECT: digest}, by or getpass.getuser(), note)
    console.print(f"approval of plan {digest[:12]} requested, recorded as {ref}")


@retire_group.command("approve")
@_plan_arg
@click.option("--by", "approver", required=True, help="the data custodian (as in the policy)")
@click.option("--key", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              required=True, help="the approver's own PEM private key")
@click.option("--reject", is_flag=True, help="record a rejection instead")
@click.option("--comment", default="", help="what was reviewed")
@policy_options
def approve_cmd(policy: Policy, plan_path: Path, approver: str, key: Path, reject: bool,
                comment: str) -> None:
    """Sign a decision on this exact plan as a data custodian."""
    from lifegate.evidence.keys import Signer
    from lifegate.gates.retirement import record_plan_decision

    ref, digest = record_plan_decision(policy, plan_path, approver, Signer.from_file(key.resolve()),
                                       "reject" if reject else "approve", comment)
    console.print(f"{'rejection' if reject else 'approval'} of plan {digest[:12]} by "
                  f"{approver} signed and recorded as {ref}")


@retire_group.command("execute")
@_plan_arg
@click.option("--execute", "execute", is_flag=True,
              help="really dispose (default: dry run, nothing is touched)")
@policy_options
def execute_cmd(policy: Policy, plan_path: Path, execute: bool) -> None:
    """LG-RETIRE: carry out PLAN (dry run unless --execute); resumes an interrupted run."""
    from lifegate.core.policy import GateConfig

    policy.gates.setdefault("LG-RETIRE", GateConfig()).settings["execute"] = execute
    run_cli_gate("LG-RETIRE", policy, plan=str(plan_path.resolve()))


@retire_group.command("verify-certificate")
@click.argument("certificate", type=click.Path(path_type=Path, dir_okay=False))
@policy_options
def verify_cert_cmd(policy: Policy, certificate: Path) -> None:
    """Check a disposal certificate's signature against the policy's trusted keys."""
    from lifegate.evidence.ledger import trusted_keys
    from lifegate.gates._retire_cert import verify_certificate

    facts = verify_certificate(certificate, trusted_keys(policy))
    ab = facts["absence"]
    console.print(f"certificate valid: {facts['system']}, plan {facts['planDigest'][:12]}, "
                  f"{len(facts['assets'])} assets, absence "
                  f"{'verified' if ab['verified'] else 'NOT verified'}", markup=False)
    if not ab["verified"]:
        raise SystemExit(1)


COMMANDS = [retire_group]
