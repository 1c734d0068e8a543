"""Read a DVC project's stage graph from ``dvc.yaml``, ``dvc.lock`` and ``*.dvc`` files.

Plain YAML parsing, no DVC import: this is what the release check and the lineage need, and
it costs milliseconds. Paths are made relative to the DVC root (POSIX style).
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lifegate.core.errors import ConfigError, EvidenceError

__all__ = ["Project", "Stage", "Tracked", "load_yaml", "read_project"]

LOCK_SCHEMA = "2.0"


@dataclass(frozen=True)
class Tracked:
    """One dependency or output as DVC recorded it (``md5`` is None when not recorded)."""

    stage: str
    kind: str  # "dep" | "out"
    path: str
    md5: str | None
    hash_name: str
    cache: bool = True
    external: bool = False

    @property
    def isdir(self) -> bool:
        return bool(self.md5 and self.md5.endswith(".dir"))


@dataclass
class Stage:
    """A stage of dvc.yaml with what dvc.lock says about its last run (or a .dvc file)."""

    name: str
    cmd: Any = None
    locked_cmd: Any = None
    locked: bool = False
    always_changed: bool = False
    frozen: bool = False
    deps: list[Tracked] = field(default_factory=list)
    outs: list[Tracked] = field(default_factory=list)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = "dvc.yaml"


@dataclass
class Project:
    root: Path
    stages: list[Stage]
    lock_file: Path

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)

    def producer(self, path: str) -> Stage | None:
        """The stage (or .dvc file) whose output is ``path`` or contains it."""
        for s in self.stages:
            for o in s.outs:
                if path == o.path or path.startswith(o.path.rstrip("/") + "/"):
                    return s
        return None


def load_yaml(path: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise EvidenceError(f"cannot read {path.name}: {exc}", where=str(path),
                            fix="restore the file from git, or fix its YAML") from None


def _rel(root: Path, base: Path, path: str) -> str:
    """``path`` (relative to ``base``) as a POSIX path relative to the DVC root."""
    joined = posixpath.normpath(posixpath.join(base.relative_to(root).as_posix(), path))
    return joined.removeprefix("./")


def _tracked(root: Path, base: Path, stage: str, kind: str, entry: Any) -> Tracked:
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        raise EvidenceError(f"stage {stage}: malformed {kind} entry {entry!r}",
                            fix="restore dvc.lock (or the .dvc file) from git and run dvc repro")
    path = entry["path"]
    external = "://" in path or os.path.isabs(path) or "repo" in entry
    md5 = entry.get("md5")
    return Tracked(stage, kind, path if external else _rel(root, base, path),
                   str(md5) if md5 else None,
                   str(entry.get("hash", "md5-dos2unix" if md5 else "md5")),
                   bool(entry.get("cache", True)), external)


def _declared_stages(dvc_yaml: Path) -> dict[str, dict[str, Any]]:
    data = load_yaml(dvc_yaml)
    if data is None:
        return {}  # a project may track data with .dvc files only
    stages = data.get("stages") if isinstance(data, dict) else None
    if not isinstance(stages, dict):
        raise EvidenceError(f"{dvc_yaml} has no `stages` mapping", where=str(dvc_yaml))
    out: dict[str, dict[str, Any]] = {}
    for name, spec in stages.items():
        spec = spec if isinstance(spec, dict) else {}
        if "foreach" in spec or "matrix" in spec:
            out[f"{name}@*"] = spec  # expanded names are matched by prefix in the lock
        else:
            out[str(name)] = spec
    return out


def _locked_stages(lock: Path) -> dict[str, dict[str, Any]]:
    data = load_yaml(lock)
    if data is None:
        return {}
    if not isinstance(data, dict) or str(data.get("schema")) != LOCK_SCHEMA:
        raise EvidenceError(f"{lock} is not a DVC 3 lock file (schema {LOCK_SCHEMA})",
                            where=str(lock), fix="run `dvc repro` with DVC 3 to rewrite it")
    stages = data.get("stages") or {}
    if not isinstance(stages, dict):
        raise EvidenceError(f"{lock}: `stages` is not a mapping", where=str(lock))
    return {str(k): v if isinstance(v, dict) else {} for k, v in stages.items()}


def _not_data(root: Path, wdir: Path, spec: dict[str, Any]) -> set[str]:
    """Outputs dvc.yaml declares uncached, and metrics and plots: not datasets."""
    found = set()
    for key in ("outs", "metrics", "plots"):
        for o in spec.get(key) or []:
            path, opts = next(iter(o.items())) if isinstance(o, dict) else (o, None)
            if key != "outs" or (isinstance(opts, dict) and opts.get("cache") is False):
                found.add(_rel(root, wdir, str(path)))
    return found


def _stage(root: Path, base: Path, name: str, spec: dict[str, Any],
           locked: dict[str, Any] | None, source: str) -> Stage:
    stage = Stage(name=name, cmd=spec.get("cmd"), source=source,
                  always_changed=bool(spec.get("always_changed")),
                  frozen=bool(spec.get("frozen")))
    if locked is not None:
        wdir = base / str(spec.get("wdir", "."))
        stage.locked = True
        stage.locked_cmd = locked.get("cmd")
        stage.deps = [_tracked(root, wdir, name, "dep", d) for d in locked.get("deps") or []]
        plain = _not_data(root, wdir, spec)
        stage.outs = [_tracked(root, wdir, name, "out", o) for o in locked.get("outs") or []]
        stage.outs = [replace(t, cache=False) if t.path in plain else t for t in stage.outs]
        params = locked.get("params") or {}
        stage.params = {_rel(root, wdir, f): dict(v or {}) for f, v in params.items()}
    return stage


def _pipeline(root: Path, dvc_yaml: Path) -> list[Stage]:
    declared = _declared_stages(dvc_yaml)
    locked = _locked_stages(dvc_yaml.with_name("dvc.lock"))
    source = dvc_yaml.relative_to(root).as_posix()
    stages = []
    for name, spec in declared.items():
        if name.endswith("@*"):
            prefix = name[:-1]
            matches = [k for k in locked if k.startswith(prefix)]
            stages += [_stage(root, dvc_yaml.parent, k, spec, locked[k], source)
                       for k in matches]
            if not matches:
                stages.append(_stage(root, dvc_yaml.parent, name, spec, None, source))
        else:
            stages.append(_stage(root, dvc_yaml.parent, name, spec, locked.get(name), source))
    return stages


def _dvc_files(root: Path, skip: set[str]) -> list[Path]:
    """``*.dvc`` files under the root, not descending into .git, .dvc or tracked outputs."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root).as_posix()
        dirnames[:] = sorted(d for d in dirnames if d not in (".git", ".dvc", ".lifegate")
                             and posixpath.normpath(f"{rel}/{d}") not in skip)
        found += [Path(dirpath) / f for f in sorted(filenames) if f.endswith(".dvc")]
    return found


def _dvc_file_stage(root: Path, path: Path) -> Stage:
    data = load_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("outs"), list):
        raise EvidenceError(f"{path} is not a DVC file (no `outs` list)", where=str(path))
    name = path.relative_to(root).as_posix()
    return _stage(root, path.parent, name, {}, data, name)


def read_project(root: Path, pipelines: list[str]) -> Project:
    """Every pipeline stage and every ``.dvc`` file of the project at ``root``."""
    root = root.resolve()
    if not (root / ".dvc").is_dir():
        raise ConfigError(f"{root} is not a DVC project (no .dvc folder)", where=str(root),
                          fix="run `dvc init`, or point the gate's `dvc_root` at the project")
    stages: list[Stage] = []
    for p in pipelines:
        stages += _pipeline(root, root / p)
    skip = {o.path for s in stages for o in s.outs}
    stages += [_dvc_file_stage(root, f) for f in _dvc_files(root, skip)]
    if not stages:
        raise ConfigError(f"{root} has no DVC stages and no .dvc files", where=str(root),
                          fix="run the release check in the DVC project's root, or set the "
                          "gate's `dvc_root` and `pipelines`")
    return Project(root, stages, root / Path(pipelines[0]).with_name("dvc.lock"))
