"""``policy_phases`` (read on every DAG parse by insert_gates and the cluster policy) gives what
a full YAML load of the policy gives, for every policy in this repository and for YAML that
hides, aliases or mis-types ``phases``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lifegate.core import ConfigError
from lifegate.operators._insert import _phases_fast, _phases_node, policy_phases

REPO = Path(__file__).resolve().parents[3]
POLICIES = sorted(p for pattern in ("example_pipelines/**/lifegate.yaml", "src/**/*.yaml")
                  for p in REPO.glob(pattern) if "phases" in p.read_text())


def _full_load(text: str) -> dict[str, list[str]]:
    data: Any = yaml.safe_load(text)
    return {str(k): [str(g) for g in v] for k, v in (data.get("phases") or {}).items()}


def test_the_repositorys_policies_are_read_the_fast_way() -> None:
    """Each takes the fastest path (its ``phases`` block alone), and the slower one agrees."""
    assert POLICIES
    for path in POLICIES:
        text = path.read_text()
        assert _phases_fast(text) == _phases_node(text) == _full_load(text) != {}, path


@pytest.mark.parametrize("text", [
    "system: {name: x}\nphases:\n  secure-design: [LG-THREAT]\n",
    "phases: {secure-design: [LG-THREAT], secure-development: [LG-DATA, LG-SIGN]}\n",
    "phases:\n- not: a mapping\n",
    "a: \"x\nphases: {secure-design: [LG-HIDDEN]}\"\nphases:\n  secure-design: [LG-THREAT]\n",
    "a: [x,\nphases, y]\nphases: {secure-design: [LG-INV]}\n",
    "gates: &ids [LG-THREAT, LG-INV]\nphases:\n  secure-design: *ids\n",
    "base: &p {secure-design: [LG-THREAT]}\nphases:\n  <<: *p\n  secure-deployment: [LG-VERIFY]\n",
    "phases:\n  secure-design: [LG-THREAT]\nphases:\n  secure-design: [LG-INV]\n",
    "phases:\n  secure-design:\n    - LG-THREAT  # why\n    - 'LG-INV'\n",
    "phases:\nsystem: {name: x}\n",
    "phases: ~\n",
    "system: {name: x}\n",
    "'phases': {secure-design: [LG-THREAT]}\n",
    "--- \nphases: {secure-design: [LG-THREAT]}\n",
    "phases:\r\n  secure-design: [LG-THREAT]\r\n\r\n  secure-deployment: [LG-VERIFY]\r\n",
    "phases:\n  secure-design: [LG-THREAT]\n? phases\n: {secure-design: [LG-INV]}\n",
    "phases: {secure-design: [LG-THREAT]}\n'phases': {secure-design: [LG-INV]}\n",
    "ids: &ids [LG-THREAT]\nphases:\n  secure-design: *ids\n",
    "phases:\n  secure-design:\n  - LG-THREAT\n\n  # later\n  secure-deployment:\n  - LG-VERIFY\n",
    "a: 'it''s\nphases: {secure-design: [LG-HIDDEN]}'\nphases: {secure-design: [LG-INV]}\n",
    "a: \"x\\\"\nphases: {secure-design: [LG-HIDDEN]}\"\nphases: {secure-design: [LG-INV]}\n",
], ids=["block", "flow", "list-at-top", "quoted-lookalike", "flow-lookalike", "alias", "merge",
        "duplicate", "comments-quotes", "empty", "null", "absent", "quoted-key", "document",
        "crlf-blank-line", "explicit-key", "quoted-duplicate", "outside-anchor", "gaps",
        "single-quote-escape", "double-quote-escape"])
def test_phases_equal_a_full_load(tmp_path: Path, text: str) -> None:
    policy = tmp_path / "lifegate.yaml"
    policy.write_text(text)
    try:
        expected: dict[str, list[str]] | type[ConfigError] = _full_load(text)
    except (AttributeError, TypeError):
        expected = ConfigError
    if expected is ConfigError:
        with pytest.raises(ConfigError, match="phases"):
            policy_phases(str(policy))
    else:
        assert policy_phases(str(policy)) == expected


@pytest.mark.parametrize("text", ["phases: [unclosed\n", "- a\n- b\n", "phases: x\n"])
def test_unreadable_phases_are_a_config_error(tmp_path: Path, text: str) -> None:
    policy = tmp_path / "lifegate.yaml"
    policy.write_text(text)
    with pytest.raises(ConfigError, match="cannot read the phases"):
        policy_phases(str(policy))


def test_a_missing_policy_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the phases"):
        policy_phases(str(tmp_path / "nope.yaml"))
