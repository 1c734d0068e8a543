"""lifegate's direct read of ``conf/<env>/lifegate*.yml`` gives exactly what Kedro's own
``OmegaConfigLoader`` gives, and hands every case it cannot match over to the loader."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader

from lifegate.plugins._kedro_config import CONFIG_KEY, CONFIG_PATTERNS, read_plain

POLICY = """system: {name: iris, version: "1.0.0"}
ledger: {url: "sqlite:///.lifegate/ledger.db"}
_shared: &ttl 30
gates:
  LG-THREAT: {settings: {max_age_days: *ttl, ratio: 1e3, when: 2024-01-01}}
kedro: {before_pipeline: [LG-THREAT], datasets: [{match: "raw_*"}]}
"""


def _conf(tmp_path: Path, files: dict[str, str]) -> Path:
    conf = tmp_path / "conf"
    for env in ("base", "local"):
        (conf / env).mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        (conf / rel).parent.mkdir(parents=True, exist_ok=True)
        (conf / rel).write_text(text)
    return conf


def _loader(conf: Path, **kwargs: object) -> OmegaConfigLoader:
    return OmegaConfigLoader(str(conf), base_env="base", default_run_env="local", **kwargs)


def _kedro_reads(conf: Path, **kwargs: object) -> dict[str, object]:
    loader = _loader(conf, **kwargs)
    loader.config_patterns.setdefault(CONFIG_KEY, CONFIG_PATTERNS)
    return dict(loader[CONFIG_KEY])


@pytest.mark.parametrize("files", [
    {"base/lifegate.yml": POLICY},
    {"base/lifegate.yml": POLICY, "local/lifegate.yml": "kedro: {before_pipeline: []}\n"},
    {"base/lifegate.yml": POLICY, "base/lifegate_keys.yaml": "keys: {trusted: [a.pub]}\n"},
    {"base/lifegate.json": '{"system": {"name": "x", "version": "1"}, "_x": 1}'},
    {"local/lifegate.yml": "ledger: {url: 'sqlite:///l.db'}\n"},
], ids=["base", "env-overrides-base", "two-files", "json", "env-only"])
def test_direct_read_equals_the_kedro_loader(tmp_path: Path, files: dict[str, str]) -> None:
    conf = _conf(tmp_path, files)
    direct = read_plain(_loader(conf), conf, "base", "local")
    assert direct is not None
    assert direct == _kedro_reads(conf)


@pytest.mark.parametrize(("files", "kwargs"), [
    ({"base/lifegate.yml": POLICY + "conformity: {title: '${oc.env:HOME}'}\n"}, {}),
    ({"base/lifegate/policy.yml": POLICY}, {}),
    ({"base/lifegate.yml": POLICY, "base/lifegate_more.yml": "ledger: {url: x}\n"}, {}),
    ({"base/lifegate.yml": "[1, 2]\n"}, {}),
    ({"base/lifegate.yml": "system: {name: [unclosed\n"}, {}),
    ({"base/lifegate.yml": POLICY}, {"merge_strategy": {CONFIG_KEY: "soft"}}),
], ids=["interpolation", "folder", "duplicate-keys", "not-a-mapping", "bad-yaml", "soft-merge"])
def test_cases_the_loader_must_decide_go_to_the_loader(
        tmp_path: Path, files: dict[str, str], kwargs: dict[str, object]) -> None:
    conf = _conf(tmp_path, files)
    assert read_plain(_loader(conf, **kwargs), conf, "base", "local") is None


def test_a_value_set_on_the_loader_goes_to_the_loader(tmp_path: Path) -> None:
    conf = _conf(tmp_path, {"base/lifegate.yml": POLICY})
    loader = _loader(conf)
    loader[CONFIG_KEY] = {"system": {"name": "set in code", "version": "1"}}
    assert read_plain(loader, conf, "base", "local") is None


def test_duplicate_keys_in_one_file_go_to_the_loader(tmp_path: Path) -> None:
    conf = _conf(tmp_path, {"base/lifegate.yml": POLICY + "ledger: {url: x}\n"})
    assert read_plain(_loader(conf), conf, "base", "local") is None
    with pytest.raises(Exception, match="duplicate key"):
        _kedro_reads(conf)
