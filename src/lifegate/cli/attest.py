"""``lifegate attest`` and ``lifegate na``: signed human statements about provisions."""

from __future__ import annotations

import datetime
import getpass

import click

from lifegate.cli.options import console, policy_options
from lifegate.core import Policy
from lifegate.core.errors import ConfigError


def _check(policy: Policy, provision: str, by: str, role: str | None) -> None:
    from lifegate.catalog import load_catalog

    prov = load_catalog().get(provision)
    if role is not None and role not in prov.roles:
        raise ConfigError(f"{provision} applies to {', '.join(prov.roles)}, not {role}",
                          fix="attest with one of those roles")
    if role is not None and policy.roles.model_dump().get(role) and \
            by not in getattr(policy.roles, role):
        raise ConfigError(f"{by} is not listed as {role} in {policy.source}",
                          fix=f"add {by} under roles.{role}, or attest as someone who is")


@click.command("attest")
@click.argument("provision")
@click.option("--by", required=True, help="the person making the statement")
@click.option("--role", required=True,
              type=click.Choice(["developer", "system_operator", "data_custodian"]))
@click.option("--statement", "text", required=True, help="what is attested, with references")
@click.option("--expires", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="date after which the attestation no longer counts")
@policy_options
def attest_cmd(policy: Policy, provision: str, by: str, role: str, text: str,
               expires: datetime.datetime | None) -> None:
    """Record a signed attestation that PROVISION is met (e.g. staff training)."""
    from lifegate.evidence.ledger import open_ledger
    from lifegate.evidence.statement import PredicateType, attestation_statement

    _check(policy, provision, by, role)
    if expires is not None and expires.date() < datetime.date.today():
        raise ConfigError(f"--expires {expires.date()} is in the past")
    stmt = attestation_statement(system=policy.system.name, version=policy.system.version,
                                 provision=provision, by=by, role=role, text=text,
                                 expires=expires.date().isoformat() if expires else None)
    ref = open_ledger(policy).append(stmt, PredicateType.ATTESTATION)
    console.print(f"attestation for {provision} by {by} recorded as {ref}")


@click.command("na")
@click.argument("provision")
@click.option("--reason", required=True, help="why the provision does not apply")
@click.option("--by", default=None, help="who decided (default: current user)")
@policy_options
def na_cmd(policy: Policy, provision: str, reason: str, by: str | None) -> None:
    """Record that PROVISION does not apply to this system, and why."""
    from lifegate.evidence.ledger import open_ledger
    from lifegate.evidence.statement import PredicateType, not_applicable_statement

    _check(policy, provision, by or "", None)
    if len(reason.strip()) < 10:
        raise ConfigError("--reason is too short to justify a not-applicable",
                          fix="say why the provision does not apply to this system")
    stmt = not_applicable_statement(system=policy.system.name, version=policy.system.version,
                                    provision=provision, by=by or getpass.getuser(),
                                    reason=reason)
    ref = open_ledger(policy).append(stmt, PredicateType.NOT_APPLICABLE)
    console.print(f"not-applicable for {provision} recorded as {ref}")


COMMANDS = [attest_cmd, na_cmd]
