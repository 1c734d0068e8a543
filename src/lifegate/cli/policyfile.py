"""Edit ``lifegate.yaml`` in place, keeping its comments, and check it still loads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["edit_policy"]


def edit_policy(policy_file: Path, change: Callable[[Any], None]) -> None:
    """Load the file with ruamel (comments kept), apply ``change`` to its mapping, write it
    atomically, and validate the result (a change that breaks the policy is undone)."""
    from ruamel.yaml import YAML

    from lifegate.core import load_policy

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    before = policy_file.read_text()
    data = yaml.load(before)
    change(data)
    tmp = policy_file.with_suffix(".yaml.part")
    with tmp.open("w") as f:
        yaml.dump(data, f)
    tmp.replace(policy_file)
    try:
        load_policy(policy_file)
    except Exception:
        policy_file.write_text(before)
        raise
