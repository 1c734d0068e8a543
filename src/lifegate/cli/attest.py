"""``lifegate attest`` and ``lifegate na``: signed human statements about provisions."""

from __future__ import annotations

import datetime
import getpass
from pathlib import Path

import click

from lifegate.cli.options import console, policy_options
from lifegate.core import Policy
from lifegate.core.errors import ConfigError

KEY_ENV = "LIFEGATE_PERSONAL_KEY"  # the attesting person's own private key, if not --key


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
@click.option("--by", required=True, help="the person making the statement (listed in "
              "roles.<role> and, with their public key, in people)")
@click.option("--role", required=True,
              type=click.Choice(["developer", "system_operator", "data_custodian"]))
@click.option("--key", "key", default=None, envvar=KEY_ENV, show_envvar=True,
              type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="the person's own PEM private key (ECDSA P-256): the attestation is "
              "signed with it")
@click.option("--statement", "text", required=True, help="what is attested, with references")
@click.option("--expires", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="date after which the attestation no longer counts")
@policy_options
def attest_cmd(policy: Policy, provision: str, by: str, role: str, key: Path | None, text: str,
               expires: datetime.datetime | None) -> None:
    """Record an attestation that PROVISION is met (e.g. staff training), signed with the
    attesting person's own key."""
    from lifegate.evidence.approvals import personal_signer
    from lifegate.evidence.keys import Signer
    from lifegate.evidence.ledger import open_ledger
    from lifegate.evidence.statement import PredicateType, attestation_statement

    _check(policy, provision, by, role)
    if key is None:
        raise ConfigError(f"an attestation is signed with the attesting person's own key, and "
                          f"none was given for {by}", fix=f"pass --key PATH (or set {KEY_ENV}) "
                          f"to {by}'s PEM private key; their public key belongs under people:")
    signer = personal_signer(policy, by, role, Signer.from_file(key.resolve()))
    if expires is not None and expires.date() < datetime.date.today():
        raise ConfigError(f"--expires {expires.date()} is in the past")
    stmt = attestation_statement(system=policy.system.name, version=policy.system.version,
                                 provision=provision, by=by, role=role, text=text,
                                 expires=expires.date().isoformat() if expires else None,
                                 signer=signer)
    ref = open_ledger(policy).append(stmt, PredicateType.ATTESTATION)
    console.print(f"attestation for {provision} by {by} ({role}), signed with key "
                  f"{signer.keyid[:12]}, recorded as {ref}")


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
