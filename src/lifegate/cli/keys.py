"""``lifegate keys``: generate the system's evidence signing key and trust it in the policy."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from lifegate.cli.options import console
from lifegate.cli.policyfile import edit_policy
from lifegate.core import load_policy
from lifegate.core.errors import ConfigError
from lifegate.core.policy import find_policy_file


@click.group("keys")
def keys_group() -> None:
    """Manage evidence signing keys."""


def _record_in_policy(policy_file: Path, private: Path, public: Path, name: str,
                      keyid: str) -> None:
    """Set keys.signing_key and add keys.trusted, keeping the file's comments."""
    base = policy_file.parent.resolve()

    def change(data: Any) -> None:
        keys = data.setdefault("keys", {})
        keys["signing_key"] = os.path.relpath(private.resolve(), base)
        trusted = keys.get("trusted") or []
        trusted.append({"name": name, "public_key": os.path.relpath(public.resolve(), base),
                        "fingerprint": keyid})
        keys["trusted"] = trusted
        keys["require_signatures"] = True  # a forged unsigned record must never count

    edit_policy(policy_file, change)


@keys_group.command("generate")
@click.option("--policy", "-p", "policy_path", type=click.Path(path_type=Path),
              envvar="LIFEGATE_POLICY", help="lifegate.yaml to record the key in")
@click.option("--name", default="lifegate", show_default=True, help="key file name")
@click.option("--allow-git-tracked", is_flag=True,
              help="write the private key even where git would track it")
def generate(policy_path: Path | None, name: str, allow_git_tracked: bool) -> None:
    """Write an ECDSA P-256 key pair (private key mode 0600) and trust it in the policy."""
    from lifegate.evidence.keys import generate_keypair

    policy_file = find_policy_file(policy_path)
    policy = load_policy(policy_file)
    folder = policy.resolve(policy.keys.dir)
    if not allow_git_tracked:
        refuse_git_tracked(folder / f"{name}.key")
    pair = generate_keypair(folder, name)
    console.print(f"private key: {pair.private} (mode 0600)\npublic key:  {pair.public}\n"
                  f"fingerprint: {pair.keyid}")
    if policy_file is None:
        raise ConfigError("no lifegate.yaml found, so the key is not recorded in a policy",
                          fix="run `lifegate init` first, or add keys.signing_key and "
                          "keys.trusted by hand")
    _record_in_policy(policy_file, pair.private, pair.public, name, pair.keyid)
    console.print(f"recorded as signing key and trusted key in {policy_file}")


def refuse_git_tracked(private: Path) -> None:
    """A private key must not land where ``git add .`` would pick it up."""
    import shutil
    import subprocess

    git = shutil.which("git")
    parent = private.parent
    while not parent.exists():
        parent = parent.parent
    if git is None:
        return
    inside = subprocess.run([git, "-C", str(parent), "rev-parse", "--is-inside-work-tree"],
                            capture_output=True, text=True, check=False)
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return  # not in a git work tree
    ignored = subprocess.run([git, "-C", str(parent), "check-ignore", "-q", str(private)],
                             capture_output=True, check=False)
    if ignored.returncode != 0:
        raise ConfigError(f"{private} would be tracked by git (it is inside a work tree and "
                          "not ignored)", where=str(private),
                          fix="add `.lifegate/keys/*.key` to .gitignore (`lifegate init` does), "
                          "put keys.dir outside the repository, or pass --allow-git-tracked")


COMMANDS = [keys_group]
