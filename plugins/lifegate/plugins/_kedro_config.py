"""``conf/<env>/lifegate.yml``: a lifegate policy plus a ``kedro:`` section that says which
gates run at which hook, read through the project's Kedro config loader.

The file holds the same keys as ``lifegate.yaml`` (system, roles, phases, gates, keys, ledger,
conformity, waivers), translated into the same :class:`~lifegate.core.Policy`; relative paths
are relative to the project folder. Unknown keys are errors that name the file and the key.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lifegate.core.errors import ConfigError
from lifegate.core.policy import Policy

__all__ = ["CONFIG_KEY", "CONFIG_PATTERNS", "DatasetRule", "KedroSection", "LifegateConfig",
           "ModelRule", "config_files", "load_config", "read_config", "use_patterns",
           "with_settings"]

CONFIG_KEY = "lifegate"
CONFIG_PATTERNS = ["lifegate*", "lifegate*/**"]
_SUFFIXES = (".yml", ".yaml", ".json")  # what Kedro's OmegaConfigLoader reads


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Rule(_Strict):
    match: str = Field(min_length=1, description="dataset name or glob pattern (fnmatch)")
    settings: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="gate id -> settings that override the policy's "
        "gates.<id>.settings for datasets this rule matches")

    def matches(self, dataset: str) -> bool:
        return dataset == self.match or fnmatch.fnmatchcase(dataset, self.match)


class DatasetRule(_Rule):
    """Gates run after a matching dataset is loaded (default: LG-DATA)."""

    gates: list[str] = Field(default_factory=lambda: ["LG-DATA"])


class ModelRule(_Rule):
    """A model dataset: checked before it is loaded, released after the pipeline runs."""

    before_load: list[str] = Field(default_factory=lambda: ["LG-VERIFY", "LG-SCAN"])
    before_load_same_run: list[str] = Field(
        default_factory=lambda: ["LG-SCAN"], description="gates before loading a model this "
        "same run saved (it has no release yet: it is signed after the run)")
    after_run: list[str] = Field(default_factory=lambda: ["LG-SCAN", "LG-SIGN"],
                                 description="run in this order when the run saved the model")


class KedroSection(_Strict):
    enabled: bool = True
    before_pipeline: list[str] | None = Field(
        default=None, description="gates before any node runs; default: the policy's "
        "secure-design phase")
    datasets: list[DatasetRule] = Field(default_factory=list)
    models: list[ModelRule] = Field(default_factory=list)
    record_errors: bool = Field(default=True, description="record a failed run in the ledger")


class _KedroPart(_Strict):
    kedro: KedroSection


@dataclass(frozen=True)
class LifegateConfig:
    policy: Policy
    kedro: KedroSection
    files: tuple[Path, ...]
    env: str

    def pre_run_gates(self) -> list[str]:
        from lifegate.core.model import Phase

        configured = self.kedro.before_pipeline
        return list(configured if configured is not None
                    else self.policy.phases.get(Phase.DESIGN, []))

    def dataset_rules(self, name: str) -> list[DatasetRule]:
        return [r for r in self.kedro.datasets if r.matches(name)]

    def model_rule(self, name: str) -> ModelRule | None:
        return next((r for r in self.kedro.models if r.matches(name)), None)

    def uses(self) -> list[tuple[str, dict[str, Any]]]:
        """Each gate the hooks may run, with a rule's settings overrides."""
        used: list[tuple[str, dict[str, Any]]] = [(g, {}) for g in self.pre_run_gates()]
        for d in self.kedro.datasets:
            used += [(g, d.settings.get(g, {})) for g in d.gates]
        for m in self.kedro.models:
            ids = dict.fromkeys([*m.before_load, *m.before_load_same_run, *m.after_run])
            used += [(g, m.settings.get(g, {})) for g in ids]
        return used


def with_settings(policy: Policy, gate_id: str, overrides: dict[str, Any]) -> Policy:
    """The policy with ``overrides`` merged into ``gates.<gate_id>.settings``."""
    if not overrides:
        return policy
    from lifegate.core.policy import GateConfig

    merged = policy.model_copy(deep=True)
    cfg = merged.gates.setdefault(gate_id, GateConfig())
    cfg.settings = {**cfg.settings, **overrides}
    return merged


def _check_settings(config: LifegateConfig) -> None:
    """Build every gate the hooks may run, so bad settings fail before the run starts."""
    from lifegate.core.gate import load_gate

    for gate_id, overrides in config.uses():
        load_gate(gate_id, with_settings(config.policy, gate_id, overrides))


def config_files(conf_source: Path, envs: list[str], *, ignore_hidden: bool = True
                 ) -> list[Path]:
    """The files Kedro's loader reads for the ``lifegate*`` patterns, per environment in order:
    ``lifegate*.yml``/``.yaml``/``.json`` and those anywhere under a ``lifegate*/`` folder
    (hidden ones left out, as the loader leaves them out). They name the config in messages;
    the content always comes from the loader."""
    found: list[Path] = []
    for env in dict.fromkeys(envs):
        folder = conf_source / env
        for top in sorted(folder.glob("lifegate*")):
            inner = sorted(top.rglob("*")) if top.is_dir() else [top]
            found += [p for p in inner if p.is_file() and p.suffix in _SUFFIXES
                      and p not in found and not (ignore_hidden and _hidden(p, folder))]
    return found


def _hidden(path: Path, folder: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(folder).parts)


def _label(files: list[Path], project: Path) -> Path:
    names = []
    for f in files:
        try:
            names.append(f.relative_to(project).as_posix())
        except ValueError:
            names.append(str(f))
    return Path(" + ".join(names))


def _build(data: dict[str, Any], label: Path, project: Path, node: Any
           ) -> tuple[Policy, KedroSection]:
    from lifegate.core._yamlio import validate
    from lifegate.core.policy import policy_from_data

    policy_data = {k: v for k, v in data.items() if k != "kedro"}
    kedro = validate(_KedroPart, {"kedro": data.get("kedro") or {}}, label, node).kedro
    policy = policy_from_data(policy_data, source=label, base_dir=project, node=node)
    _check_gate_ids(kedro, policy, label)
    return policy, kedro


def _validate(data: dict[str, Any], files: list[Path], project: Path
              ) -> tuple[Policy, KedroSection]:
    """Validate; on an error in a single YAML file, validate again to name the line."""
    from lifegate.core._yamlio import read_yaml

    label = _label(files, project)
    try:
        return _build(data, label, project, None)
    except ConfigError:
        if len(files) != 1 or files[0].suffix not in (".yml", ".yaml"):
            raise
    return _build(data, label, project, read_yaml(files[0])[1])


def _check_gate_ids(kedro: KedroSection, policy: Policy, label: Path) -> None:
    from lifegate.core.gate import GATES

    named = [("kedro.before_pipeline", g) for g in kedro.before_pipeline or []]
    for i, d in enumerate(kedro.datasets):
        named += [(f"kedro.datasets.{i}.gates", g) for g in d.gates]
        named += [(f"kedro.datasets.{i}.settings", g) for g in d.settings]
    for i, m in enumerate(kedro.models):
        for key in ("before_load", "before_load_same_run", "after_run", "settings"):
            named += [(f"kedro.models.{i}.{key}", g) for g in getattr(m, key)]
    named += [(f"phases.{phase.value}", g) for phase, ids in policy.phases.items() for g in ids]
    unknown = [f"'{key}': {gate!r}" for key, gate in named if gate not in GATES]
    if unknown:
        raise ConfigError(f"{label} names unknown gates: {'; '.join(unknown)}", where=str(label),
                          fix=f"use gate ids of this lifegate: {', '.join(sorted(GATES))}")


def read_config(config_loader: Any, files: list[Path], *, complete: bool, label: Path
                ) -> dict[str, Any] | None:
    """The merged ``lifegate*`` config exactly as the project's config loader returns it
    (``config_loader["lifegate"]``, the way Kedro documents for a custom config pattern:
    environments, interpolations, resolvers, folders, merge strategy); None when there is none.

    ``files`` are :func:`config_files`; ``label`` names the config in errors; ``complete``
    says ``files`` are all the loader can read (a folder on this machine, lifegate's
    patterns): then, with none, the loader is not asked unless a value was set on it.
    Whatever the loader rejects is a :class:`ConfigError` that keeps its message (Kedro's
    names the file and line of a YAML syntax error).
    """
    from kedro.config import MissingConfigException
    from omegaconf.errors import OmegaConfBaseException
    from yaml import YAMLError

    use_patterns(config_loader)
    if complete and not files and CONFIG_KEY not in config_loader:
        return None
    try:
        data: Any = config_loader[CONFIG_KEY]
    except (MissingConfigException, KeyError) as exc:
        if not files:
            return None
        raise _unreadable(exc, label) from exc
    except (YAMLError, ValueError, OmegaConfBaseException) as exc:
        raise _unreadable(exc, label) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{label} must be a mapping of keys", where=str(label),
                          fix="write the lifegate config as a YAML mapping (system: ..., "
                          "kedro: ...)")
    return data


def use_patterns(config_loader: Any) -> bool:
    """Give the loader lifegate's patterns unless the project set its own; True when the
    loader reads lifegate's (so :func:`config_files` lists what it reads)."""
    patterns = getattr(config_loader, "config_patterns", None)
    if not isinstance(patterns, dict):
        return False
    return bool(patterns.setdefault(CONFIG_KEY, list(CONFIG_PATTERNS)) == CONFIG_PATTERNS)


def _unreadable(exc: Exception, label: Path) -> ConfigError:
    return ConfigError(f"Kedro's config loader cannot read the lifegate config: "
                       f"{type(exc).__name__}: {exc}", where=str(label),
                       fix="correct what the loader names (YAML syntax, a key set twice, an "
                       "interpolation), then run again")


def load_config(config_loader: Any, project: Path) -> LifegateConfig | None:
    """Read ``lifegate*.yml`` through the project's config loader; None when there is none."""
    conf_source = Path(getattr(config_loader, "conf_source", project / "conf"))
    if not conf_source.is_absolute():
        conf_source = project / conf_source
    base = getattr(config_loader, "base_env", None) or "base"
    run_env = getattr(config_loader, "env", None) or \
        getattr(config_loader, "default_run_env", None) or "local"
    ours = use_patterns(config_loader)
    files = config_files(conf_source, [base, run_env], ignore_hidden=getattr(
        config_loader, "ignore_hidden", True)) if ours else []
    shown = files or [conf_source]
    data = read_config(config_loader, files, complete=ours and conf_source.is_dir(),
                       label=_label(shown, project))
    if data is None:
        return None
    policy, kedro = _validate(data, shown, project)
    config = LifegateConfig(policy=policy, kedro=kedro, files=tuple(shown), env=run_env)
    _check_settings(config)
    return config
