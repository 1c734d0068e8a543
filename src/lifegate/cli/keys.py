"""``lifegate keys``: generate the system's evidence signing key and trust it in the policy."""

from __future__ import annotations

import os
from pathlib import Path

import click

from lifegate.cli.options import console
from lifegate.core import load_policy
from lifegate.core.errors import ConfigError
from lifegate.core.policy import find_policy_file


@click.group("keys")
def keys_group() -> None:
    """Manage evidence signing keys."""


def _record_in_policy(policy_file: Path, private: Path, public: Path, name: str,
                      keyid: str) -> None:
    """Set keys.signing_key and add keys.trusted, keeping the file's comments."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    data = yaml.load(policy_file.read_text())
    keys = data.setdefault("keys", {})
    base = policy_file.parent.resolve()
    keys["signing_key"] = os.path.relpath(private.resolve(), base)
    trusted = keys.get("trusted") or []
    trusted.append({"name": name, "public_key": os.path.relpath(public.resolve(), base),
                    "fingerprint": keyid})
    keys["trusted"] = trusted
    tmp = policy_file.with_suffix(".yaml.part")
    with tmp.open("w") as f:
        yaml.dump(data, f)
    tmp.replace(policy_file)


@keys_group.command("generate")
@click.option("--policy", "-p", "policy_path", type=click.Path(path_type=Path),
              envvar="LIFEGATE_POLICY", help="lifegate.yaml to record the key in")
@click.option("--name", default="lifegate", show_default=True, help="key file name")
def generate(policy_path: Path | None, name: str) -> None:
    """Write an ECDSA P-256 key pair (private key mode 0600) and trust it in the policy."""
    from lifegate.evidence.keys import generate_keypair

    policy_file = find_policy_file(policy_path)
    policy = load_policy(policy_file)
    pair = generate_keypair(policy.resolve(policy.keys.dir), name)
    console.print(f"private key: {pair.private} (mode 0600)\npublic key:  {pair.public}\n"
                  f"fingerprint: {pair.keyid}")
    if policy_file is None:
        raise ConfigError("no lifegate.yaml found, so the key is not recorded in a policy",
                          fix="run `lifegate init` first, or add keys.signing_key and "
                          "keys.trusted by hand")
    _record_in_policy(policy_file, pair.private, pair.public, name, pair.keyid)
    load_policy(policy_file)  # the edited policy must still validate
    console.print(f"recorded as signing key and trusted key in {policy_file}")


COMMANDS = [keys_group]
