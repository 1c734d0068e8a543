"""The release check's rules: workspace against dvc.lock, params, and the files of outputs."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

import yaml

from lifegate.core.model import Finding
from lifegate.plugins._dvc_digests import Digests, dir_md5
from lifegate.plugins._dvc_project import Project, Stage, Tracked

__all__ = ["expand", "lock_findings", "output_files"]

_MISSING = object()
_DVC_SPECIAL = {".git", ".hg", ".dvc", ".dvcignore"}


def _f(rule: str, message: str, location: str | None = None) -> Finding:
    return Finding(rule=rule, message=message, location=location)


def output_files(root: Path, rel: str) -> list[str] | None:
    """The files of a tracked path, relative to the root; None when it does not exist."""
    path = root / rel
    if path.is_symlink() or path.is_file():
        return [rel]
    if not path.is_dir():
        return None
    out = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        base = Path(dirpath).relative_to(root).as_posix()
        out += [f"{base}/{n}" for n in filenames]
        out += [f"{base}/{d}" for d in dirnames if (Path(dirpath) / d).is_symlink()]
    return sorted(out)


def expand(project: Project, skip: set[str], extra: list[str],
           ) -> tuple[dict[str, list[str]], list[str]]:
    """Files of every local dep and out (and of ``extra`` paths); paths that do not exist."""
    paths = {t.path for s in project.stages if s.name not in skip
             for t in (*s.deps, *s.outs) if not t.external} | set(extra)
    files: dict[str, list[str]] = {}
    missing = []
    for p in sorted(paths):
        found = output_files(project.root, p)
        if found is None:
            missing.append(p)
        else:
            files[p] = found
    return files, missing


def _current_md5(t: Tracked, files: list[str], digests: Digests) -> str | None:
    md5s = [f.md5 for f in (digests.facts.get(rel) for rel in files) if f is not None]
    if len(md5s) != len(files):
        return None  # a symlink: reported on its own
    if not t.isdir:
        return md5s[0] if files == [t.path] else None
    prefix = t.path.rstrip("/") + "/"
    listed = dict(zip(files, md5s, strict=True))
    kept = _dvc_listed(digests.root, t.path, files)
    return dir_md5((rel.removeprefix(prefix), listed[rel]) for rel in kept)


def _dvc_listed(root: Path, folder: str, files: list[str]) -> list[str]:
    """The files of a folder that DVC's ``.dir`` hash lists: without those DVC ignores (its
    defaults ``.git``, ``.hg``, ``.dvc``, and ``.dvcignore`` patterns), as DVC decides it.
    Without any of these (the usual case) nothing is filtered and DVC is not imported."""
    parts = Path(folder).parts
    ignores = any((root.joinpath(*parts[:i]) / ".dvcignore").exists()
                  for i in range(len(parts) + 1))
    if not ignores and not any(set(Path(rel).parts) & _DVC_SPECIAL for rel in files):
        return files
    from dvc.fs import LocalFileSystem
    from dvc.ignore import DvcIgnoreFilter

    fs = LocalFileSystem()
    ignore = DvcIgnoreFilter(fs, os.fspath(root))
    return [rel for rel in files if not ignore.is_ignored_file(os.fspath(root / rel))]


def _tracked_findings(t: Tracked, files: dict[str, list[str]], digests: Digests,
                      ) -> list[Finding]:
    where = f"stage {t.stage}: {t.kind} {t.path}"
    if t.external:
        return [_f("RELEASE-EXTERNAL", f"{where} is outside the workspace; the release check "
                   "cannot hash it (import it with `dvc import` into a tracked file)", t.path)]
    if t.hash_name != "md5" or not t.md5:
        return [_f("RELEASE-LEGACY-HASH", f"{where} has no DVC 3 md5 in the lock "
                   f"(hash {t.hash_name!r}); run `dvc commit` with DVC 3", t.path)]
    if t.path not in files:
        return [_f("RELEASE-MISSING", f"{where} is missing from the workspace; run "
                   "`dvc checkout` or `dvc repro`", t.path)]
    now = _current_md5(t, files[t.path], digests)
    if now is None or now != t.md5:
        return [_f("RELEASE-CHANGED", f"{where} was changed after dvc.lock was written "
                   f"(lock md5 {t.md5}, workspace {now or 'not comparable'}); run "
                   "`dvc repro`, or `dvc checkout` to restore the locked version", t.path)]
    return []


def _show(value: Any) -> str:
    return "missing" if value is _MISSING else json.dumps(value, default=str)


def _read_params(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        return tomllib.loads(text)
    if path.suffix == ".json":
        return json.loads(text)
    return yaml.safe_load(text)


def _lookup(data: Any, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(data, dict) or part not in data:
            return _MISSING
        data = data[part]
    return data


def _leaves(key: str, locked: Any, now: Any) -> list[tuple[str, Any, Any]]:
    """Differing values; a tracked section (a mapping) is compared key by key."""
    if isinstance(locked, dict) and isinstance(now, dict):
        return [leaf for k in sorted(locked.keys() | now.keys(), key=str)
                for leaf in _leaves(f"{key}.{k}", locked.get(k, _MISSING), now.get(k, _MISSING))]
    return [] if locked == now else [(key, locked, now)]


def _changed(values: dict[str, Any], data: Any) -> list[tuple[str, Any, Any]]:
    return [leaf for key, locked in sorted(values.items())
            for leaf in _leaves(key, locked, _lookup(data, key))]


def _params_findings(root: Path, stage: Stage) -> list[Finding]:
    findings = []
    for file, values in stage.params.items():
        try:
            data = _read_params(root / file)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            findings.append(_f("RELEASE-PARAMS-UNREADABLE", f"stage {stage.name}: cannot read "
                               f"params file {file}: {exc}", file))
            continue
        findings += [_f("RELEASE-PARAM-CHANGED", f"stage {stage.name}: param {key} in {file} "
                        f"is {_show(now)}, dvc.lock has {_show(locked)}; run `dvc repro`",
                        f"{file}:{key}") for key, locked, now in _changed(values, data)]
    return findings


def _stage_findings(stage: Stage) -> list[Finding]:
    if stage.frozen:
        return []
    if not stage.locked:
        return [_f("RELEASE-NOT-REPRODUCED", f"stage {stage.name} has no entry in dvc.lock: "
                   "it has not run to completion; run `dvc repro`", stage.source)]
    cmd = stage.cmd
    if cmd is not None and "${" not in json.dumps(cmd) and cmd != stage.locked_cmd:
        return [_f("RELEASE-CMD-CHANGED", f"stage {stage.name}: its command in "
                   f"{stage.source} differs from the one dvc.lock recorded; run `dvc repro`",
                   stage.source)]
    return []


def lock_findings(project: Project, skip: set[str], files: dict[str, list[str]],
                  digests: Digests) -> list[Finding]:
    """Every stage ran, with today's command and params, and left today's files."""
    findings: list[Finding] = []
    for stage in project.stages:
        if stage.name in skip:
            continue
        findings += _stage_findings(stage)
        findings += _params_findings(project.root, stage)
        for t in (*stage.deps, *stage.outs):
            findings += _tracked_findings(t, files, digests)
    return findings
