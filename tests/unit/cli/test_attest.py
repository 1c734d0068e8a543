"""``lifegate attest``: an attestation is signed with the personal key of a person the policy
lists in that role (roles.<role>, and people: with their public key), and the report counts it
only then. Real keys, a real ledger, the real command."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from lifegate.core import load_policy
from lifegate.evidence.approvals import signed_personally
from lifegate.evidence.keys import KeyPair, generate_keypair, load_public_key
from lifegate.evidence.ledger import open_ledger
from lifegate.reports.conformity import Status, evaluate


@pytest.fixture
def project(tmp_path: Path, keys: KeyPair) -> Path:
    """A policy with a trusted signing key; Ada is a developer with her own key."""
    ada = generate_keypair(tmp_path / "people", "ada")
    generate_keypair(tmp_path / "people", "mallory")
    (tmp_path / "lifegate.yaml").write_text(yaml.safe_dump({
        "system": {"name": "sys", "version": "1"},
        "roles": {"developer": ["Ada"], "system_operator": []},
        "people": [{"name": "Ada", "public_key": str(ada.public)}],
        "keys": {"signing_key": str(keys.private),
                 "trusted": [{"name": "sys", "public_key": str(keys.public)}]}}))
    return tmp_path


def attest(project: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    from lifegate.cli.main import cli

    result = CliRunner().invoke(cli, ["attest", "5.1.1-1", "--statement", "training 2026-11",
                                      "-p", str(project / "lifegate.yaml"), *args], env=env)
    return result.exit_code, result.output + str(result.exception or "")


def attestations(project: Path) -> list[dict]:  # type: ignore[type-arg]
    led = open_ledger(load_policy(project / "lifegate.yaml"))
    return [e.predicate for e in led.entries() if e.kind == "attestation"]


def status(project: Path) -> tuple[Status, str]:
    policy = load_policy(project / "lifegate.yaml")
    row = next(p for p in evaluate(open_ledger(policy).entries(), policy).provisions
               if p.id == "5.1.1-1")
    return row.status, row.reason


def test_listed_person_signs_with_own_key_and_counts(project: Path) -> None:
    code, out = attest(project, "--by", "Ada", "--role", "developer",
                       "--key", str(project / "people" / "ada.key"))
    assert code == 0, out
    [pred] = attestations(project)
    ada = load_public_key(project / "people" / "ada.pub")
    assert signed_personally(pred["signedAttestation"], ada)
    assert status(project) == (Status.ATTESTED, "attested by Ada (developer)")


def test_key_may_come_from_the_environment(project: Path) -> None:
    code, out = attest(project, "--by", "Ada", "--role", "developer",
                       env={"LIFEGATE_PERSONAL_KEY": str(project / "people" / "ada.key")})
    assert code == 0, out
    assert status(project)[0] is Status.ATTESTED


@pytest.mark.parametrize(("args", "message"), [
    (["--by", "Mallory", "--role", "developer", "--key", "people/mallory.key"],
     "Mallory is not listed as developer"),
    (["--by", "Ada", "--role", "system_operator", "--key", "people/ada.key"],
     "Ada is not listed in roles.system_operator"),
    (["--by", "Ada", "--role", "developer", "--key", "people/mallory.key"],
     "the key given is not Ada's key"),
    (["--by", "Ada", "--role", "developer"], "none was given for Ada"),
])
def test_refused_unless_a_listed_person_signs_with_their_own_key(
        project: Path, args: list[str], message: str) -> None:
    args = [str(project / a) if a.startswith("people/") else a for a in args]
    code, out = attest(project, *args)
    assert code != 0 and message in out, out
    assert not (project / ".lifegate" / "ledger.db").exists() or attestations(project) == []


def test_listed_in_the_role_but_not_in_people_is_refused(project: Path) -> None:
    data = yaml.safe_load((project / "lifegate.yaml").read_text())
    data["roles"]["developer"].append("Bea")
    (project / "lifegate.yaml").write_text(yaml.safe_dump(data))
    bea = generate_keypair(project / "people", "bea")
    code, out = attest(project, "--by", "Bea", "--role", "developer", "--key", str(bea.private))
    assert code != 0 and "Bea is not listed in people with a public key" in out


def test_removed_from_the_role_the_attestation_no_longer_counts(project: Path) -> None:
    assert attest(project, "--by", "Ada", "--role", "developer",
                  "--key", str(project / "people" / "ada.key"))[0] == 0
    data = yaml.safe_load((project / "lifegate.yaml").read_text())
    data["roles"]["developer"] = []
    (project / "lifegate.yaml").write_text(yaml.safe_dump(data))
    assert status(project) == (Status.MISSING, "attestation #1 by Ada does not count: not "
                               "listed in roles.developer")
