"""Policy loading: strict keys, line numbers, precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifegate.core import ConfigError, load_policy


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "lifegate.yaml"
    p.write_text(text)
    return p


def test_defaults_without_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LIFEGATE_POLICY", raising=False)
    policy = load_policy()
    assert policy.source == "<defaults>"
    assert policy.ledger_url() == f"sqlite:///{tmp_path.resolve()}/.lifegate/ledger.db"


def test_unknown_key_names_file_key_and_line(tmp_path: Path) -> None:
    p = write(tmp_path, "version: 1\nsystem:\n  name: x\n  colour: blue\n")
    with pytest.raises(ConfigError) as exc:
        load_policy(p)
    text = exc.value.diagnostics()
    assert "system.colour" in text and f"{p}:4" in text and "remove the key" in text


def test_wrong_type_in_nested_list(tmp_path: Path) -> None:
    p = write(tmp_path, "waivers:\n  - id: W1\n    gate: LG-INV\n    approver: b\n"
              "    justification: long enough text\n    expires: not-a-date\n")
    with pytest.raises(ConfigError) as exc:
        load_policy(p)
    assert "waivers.0.expires" in str(exc.value) and f"{p}:6" in str(exc.value)


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    p = write(tmp_path, "system:\n  name: [unclosed\n")
    with pytest.raises(ConfigError) as exc:
        load_policy(p)
    assert "not valid YAML" in str(exc.value) and str(p) in str(exc.value)


def test_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_policy(write(tmp_path, "- a\n- b\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_policy(tmp_path / "nope.yaml")


def test_precedence_argument_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = write(tmp_path, "system:\n  name: from-file\nledger:\n  url: sqlite:///file.db\n")
    assert load_policy(p).system.name == "from-file"
    monkeypatch.setenv("LIFEGATE_SYSTEM_NAME", "from-env")
    monkeypatch.setenv("LIFEGATE_LEDGER_URL", "sqlite:////tmp/env.db")
    policy = load_policy(p)
    assert policy.system.name == "from-env" and policy.ledger_url() == "sqlite:////tmp/env.db"
    explicit = load_policy(p, overrides={("system", "name"): "explicit"})
    assert explicit.system.name == "explicit"


def test_relative_paths_resolve_against_policy_folder(tmp_path: Path) -> None:
    sub = tmp_path / "proj"
    sub.mkdir()
    policy = load_policy(write(sub, "ledger:\n  url: sqlite:///db/l.db\n"))
    assert policy.resolve("data") == sub.resolve() / "data"
    assert policy.ledger_url() == f"sqlite:///{sub.resolve()}/db/l.db"


def test_policy_version_must_be_known(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="version"):
        load_policy(write(tmp_path, "version: 7\n"))


def test_short_waiver_justification_rejected(tmp_path: Path) -> None:
    p = write(tmp_path, "waivers:\n  - id: W1\n    gate: LG-INV\n    approver: b\n"
              "    justification: ok\n    expires: 2030-01-01\n")
    with pytest.raises(ConfigError, match="justification"):
        load_policy(p)


def test_digest_changes_with_content(tmp_path: Path) -> None:
    a = load_policy(write(tmp_path, "system:\n  name: a\n")).digest()
    b = load_policy(write(tmp_path, "system:\n  name: b\n")).digest()
    assert a != b and len(a) == 64
