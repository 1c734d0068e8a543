"""Gate commands: ``lifegate inventory``, ``lifegate threat-model check``, ``lifegate check``."""

from __future__ import annotations

import click

from lifegate.cli.options import policy_options, run_cli_gate, show_run
from lifegate.core import GATES, Phase, Policy


@click.command("inventory")
@policy_options
def inventory_cmd(policy: Policy) -> None:
    """LG-INV: hash the models, datasets, configs and prompts the policy names."""
    run_cli_gate("LG-INV", policy)


@click.group("threat-model")
def threat_group() -> None:
    """Threat model commands."""


@threat_group.command("check")
@policy_options
def threat_check(policy: Policy) -> None:
    """LG-THREAT: check coverage, completeness and freshness of threat_model.yaml."""
    run_cli_gate("LG-THREAT", policy)


@click.command("check")
@click.option("--phase", type=click.Choice([p.value for p in Phase]), default=None,
              help="run the gates this phase requires")
@click.option("--gate", "gate_ids", multiple=True, type=click.Choice(sorted(GATES)),
              help="run this gate (repeatable)")
@policy_options
def check_cmd(policy: Policy, phase: str | None, gate_ids: tuple[str, ...]) -> None:
    """Run gates by id or by lifecycle phase; exit 1 if any blocks."""
    from lifegate.core import make_context, run_gate_by_id

    ids = list(gate_ids)
    if not ids and phase:
        ids = policy.phases.get(Phase(phase), [])
    if not ids:
        raise click.UsageError("name --gate or a --phase whose gates the policy lists")
    blocked = 0
    for gid in ids:
        ctx = make_context(policy, Phase(phase)) if phase else None
        try:
            show_run(run_gate_by_id(gid, policy, ctx, raise_on_block=False))
        except SystemExit:
            blocked += 1
    if blocked:
        raise SystemExit(1)


COMMANDS = [inventory_cmd, threat_group, check_cmd]
