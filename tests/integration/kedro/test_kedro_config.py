"""lifegate reads ``conf/<env>/lifegate*.yml`` through Kedro's own ``OmegaConfigLoader``: what it
gets equals what a separate loader returns for the same folder, the files it names are the files
that loader reads, and whatever the loader rejects stops the run as a ConfigError that keeps
Kedro's message (file and line where Kedro gives them)."""

from __future__ import annotations

import ast
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from kedro.config import MissingConfigException, OmegaConfigLoader
from omegaconf.errors import OmegaConfBaseException

from lifegate.core import ConfigError
from lifegate.plugins._kedro_config import CONFIG_KEY, CONFIG_PATTERNS, config_files, load_config

PLUGINS = Path(__file__).resolve().parents[3] / "plugins" / "lifegate" / "plugins"
VALID = """system: {name: iris, version: "1.0.0"}
ledger: {url: "sqlite:///.lifegate/ledger.db"}
kedro: {before_pipeline: []}
"""
POLICY = """system: {name: iris, version: "1.0.0"}
ledger: {url: "sqlite:///.lifegate/ledger.db"}
_shared: &ttl 30
gates:
  LG-THREAT: {settings: {max_age_days: *ttl, ratio: 1e3, when: 2024-01-01, off: no}}
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


def _loader(conf: Path, **kwargs: Any) -> OmegaConfigLoader:
    return OmegaConfigLoader(str(conf), base_env="base", default_run_env="local", **kwargs)


def _kedro_reads(conf: Path, **kwargs: Any) -> tuple[dict[str, Any], set[Path]]:
    """What a separate loader returns for the pattern, and the files it reads (through its
    public ``load_and_merge_dir_config``, which reports them)."""
    loader = _loader(conf, **kwargs)
    loader.config_patterns.setdefault(CONFIG_KEY, CONFIG_PATTERNS)
    data = dict(loader[CONFIG_KEY])
    read: set[Path] = set()
    for env in ("base", "local"):
        loader.load_and_merge_dir_config(str(conf / env), CONFIG_PATTERNS, CONFIG_KEY, read)
    return data, read


def _lifegate_reads(conf: Path, **kwargs: Any) -> tuple[dict[str, Any], set[Path]]:
    from lifegate.plugins._kedro_config import read_config

    files = config_files(conf, ["base", "local"])
    data = read_config(_loader(conf, **kwargs), files, complete=True, label=conf)
    assert data is not None
    return data, set(files)


@pytest.mark.parametrize(("files", "kwargs"), [
    ({"base/lifegate.yml": POLICY}, {}),
    ({"base/lifegate.yml": POLICY, "local/lifegate.yml": "kedro: {before_pipeline: []}\n"}, {}),
    ({"base/lifegate.yml": POLICY, "base/lifegate_keys.yaml": "keys: {trusted: [a.pub]}\n"}, {}),
    ({"base/lifegate.json": '{"system": {"name": "x", "version": "1"}, "_x": 1}'}, {}),
    ({"local/lifegate.yml": "ledger: {url: 'sqlite:///l.db'}\n"}, {}),
    ({"base/lifegate.yml": POLICY + "conformity: {title: '${system.name} report'}\n"}, {}),
    ({"base/lifegate.yml": POLICY + "ledger_note: ${runtime_params:note}\n"},
     {"runtime_params": {"note": "from the run"}}),
    ({"base/lifegate/policy.yml": POLICY, "base/lifegate/more/keys.yml": "keys: {dir: k}\n",
      "base/lifegate/.hidden/x.yml": "waivers: []\n", "base/lifegate/notes.txt": "x"}, {}),
    ({"base/lifegate.yml": POLICY, "local/lifegate.yml": "gates: {LG-INV: {}}\n"},
     {"merge_strategy": {CONFIG_KEY: "soft"}}),
], ids=["base", "env-overrides-base", "two-files", "json", "env-only", "interpolation",
        "runtime-params", "folder", "soft-merge"])
def test_lifegate_reads_what_the_kedro_loader_reads(
        tmp_path: Path, files: dict[str, str], kwargs: dict[str, Any]) -> None:
    conf = _conf(tmp_path, files)
    assert _lifegate_reads(conf, **kwargs) == _kedro_reads(conf, **kwargs)


def test_config_in_a_lifegate_folder_governs_the_run(tmp_path: Path) -> None:
    conf = _conf(tmp_path, {"base/lifegate/policy.yml": VALID})
    config = load_config(_loader(conf), tmp_path)
    assert config is not None
    assert config.files == (conf / "base/lifegate/policy.yml",)
    assert config.policy.system.name == "iris"


def test_config_in_a_conf_archive_governs_the_run(tmp_path: Path) -> None:
    conf = _conf(tmp_path, {"base/lifegate.yml": VALID})
    archive = tmp_path / "conf.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(conf, arcname="conf")
    config = load_config(_loader(archive), tmp_path)
    assert config is not None
    assert config.files == (archive,)
    assert config.policy.system.name == "iris"


def test_patterns_the_project_sets_for_lifegate_are_kedro_s_to_apply(tmp_path: Path) -> None:
    conf = _conf(tmp_path, {"base/governance.yml": VALID, "base/lifegate.yml": "x: [1\n"})
    loader = _loader(conf, config_patterns={CONFIG_KEY: ["governance*"]})
    config = load_config(loader, tmp_path)
    assert config is not None
    assert config.policy.system.name == "iris"
    assert config.files == (conf,)


def test_a_value_set_on_the_loader_wins_as_in_kedro(tmp_path: Path) -> None:
    conf = _conf(tmp_path, {"base/lifegate.yml": VALID})
    loader = _loader(conf)
    loader[CONFIG_KEY] = {**yaml.safe_load(VALID), "system": {"name": "set", "version": "2"}}
    config = load_config(loader, tmp_path)
    assert config is not None
    assert config.policy.system.name == "set"


@pytest.mark.parametrize("files", [
    {},
    {"base/catalog.yml": "{}\n", "base/lifegate.txt": "x", "base/lifegate/.hidden.yml": VALID},
], ids=["nothing", "nothing-kedro-reads"])
def test_without_lifegate_config_the_project_is_left_alone(
        tmp_path: Path, files: dict[str, str]) -> None:
    conf = _conf(tmp_path, files)
    assert load_config(_loader(conf), tmp_path) is None
    with pytest.raises(MissingConfigException):
        _kedro_reads(conf)


@pytest.mark.parametrize(("files", "kedro_says"), [
    ({"base/lifegate.yml": "system: {name: [unclosed\n"},
     r"Invalid YAML or JSON file .*/conf/base/lifegate\.yml, unable to read line 1"),
    ({"base/lifegate.yml": VALID + "ledger: {url: x}\n"}, r"found duplicate key ledger"),
    ({"base/lifegate.yml": VALID, "base/lifegate_more.yml": "ledger: {url: x}\n"},
     r"Duplicate keys found in .*lifegate.* and .*lifegate.*: ledger"),
    ({"base/lifegate.yml": VALID + "conformity: {title: '${oc.env:HOME}'}\n"},
     r"Unsupported interpolation type oc\.env"),
    ({"base/lifegate.yml": VALID + "conformity: {title: '${nowhere}'}\n"},
     r"Interpolation key 'nowhere' not found"),
    ({"base/lifegate.yml": "[1, 2]\n"}, r"ListConfig"),
], ids=["bad-yaml", "duplicate-key", "duplicate-keys-in-two-files", "env-resolver",
        "missing-key", "not-a-mapping"])
def test_what_kedro_rejects_is_a_config_error_with_its_message(
        tmp_path: Path, files: dict[str, str], kedro_says: str) -> None:
    conf = _conf(tmp_path, files)
    with pytest.raises((yaml.YAMLError, ValueError, OmegaConfBaseException), match=kedro_says):
        _kedro_reads(conf)
    with pytest.raises(ConfigError, match=kedro_says) as failed:
        load_config(_loader(conf), tmp_path)
    assert "conf/base/lifegate" in (failed.value.where or "")
    assert failed.value.fix


def test_unknown_key_names_file_key_and_line(tmp_path: Path) -> None:
    conf = _conf(tmp_path, {"base/lifegate.yml": VALID + "\nledgr: {url: x}\n"})
    with pytest.raises(ConfigError, match=r"ledgr") as failed:
        load_config(_loader(conf), tmp_path)
    assert "conf/base/lifegate.yml" in str(failed.value)
    assert "conf/base/lifegate.yml:5" in str(failed.value)


def _private_imports(path: Path) -> list[str]:
    """Imports of a private module or name of omegaconf or kedro in one source file."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("omegaconf", "kedro")
                  and any(p.startswith("_") for p in n.split("."))]
    return found


def _private_attributes(path: Path) -> list[str]:
    """``x._name`` and ``getattr(x, "_name")`` on anything but ``self`` (dunders aside)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) != "self":
            name = node.attr
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr" \
                and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
            name = str(node.args[1].value)
        else:
            continue
        if name.startswith("_") and not name.startswith("__"):
            found.append(f"{path.name}:{node.lineno}: {name}")
    return found


def test_the_kedro_plugin_imports_no_private_api_of_kedro_or_omegaconf() -> None:
    modules = sorted([*PLUGINS.glob("_kedro_*.py"), *PLUGINS.glob("kedro_*.py")])
    assert len(modules) >= 4
    assert [use for m in modules for use in _private_imports(m)] == []


def test_the_config_reader_reads_no_private_attribute_of_the_loader() -> None:
    assert _private_attributes(PLUGINS / "_kedro_config.py") == []
