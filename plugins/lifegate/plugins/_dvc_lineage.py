"""The DVC stage graph as the ML-BOM's formulation, and each dataset's provenance.

``steps`` follow LG-SBOM's step format (``{"steps": [...]}``, the gate's ``formulation``
setting or ``formulation`` artifact reads the file); digests are SHA-256 computed from the
files, never DVC's MD5.
"""

from __future__ import annotations

import json
from typing import Any

from lifegate.plugins._dvc_checks import expand
from lifegate.plugins._dvc_digests import Digests
from lifegate.plugins._dvc_models import whole_digest
from lifegate.plugins._dvc_project import Project, Stage, Tracked

__all__ = ["dataset_provenance", "formulation_steps", "lineage"]

Scalar = str | int | float | bool | None


def _ref(t: Tracked, files: dict[str, list[str]], digests: Digests) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": t.path}
    fs = files.get(t.path)
    if fs is not None and all(f in digests.facts for f in fs):
        ref["sha256"] = whole_digest(t.path, fs, digests)
    return ref


def _flat(key: str, value: Any) -> list[tuple[str, Scalar]]:
    if isinstance(value, dict):
        return [leaf for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
                for leaf in _flat(f"{key}.{k}", v)]
    if isinstance(value, str | int | float | bool) or value is None:
        return [(key, value)]
    return [(key, json.dumps(value, sort_keys=True, default=str))]


def _params(stage: Stage) -> dict[str, Scalar]:
    return dict(leaf for file, values in sorted(stage.params.items())
                for key, value in sorted(values.items()) for leaf in _flat(f"{file}:{key}", value))


def _command(stage: Stage) -> str | None:
    cmd = stage.locked_cmd if stage.locked_cmd is not None else stage.cmd
    if isinstance(cmd, list):
        return " && ".join(str(c) for c in cmd)
    return str(cmd) if cmd is not None else None


def formulation_steps(project: Project, files: dict[str, list[str]], digests: Digests,
                      skip: set[str]) -> list[dict[str, Any]]:
    """One step per stage that ran (and per .dvc file, as a 'copy' of source data)."""
    steps = []
    for s in project.stages:
        if s.name in skip or not s.locked:
            continue
        dvc_file = s.name.endswith(".dvc")
        steps.append({
            "name": s.name, "platform": "dvc", "command": _command(s),
            "task_type": "copy" if dvc_file else "build",
            "inputs": [_ref(t, files, digests) for t in s.deps],
            "outputs": [_ref(t, files, digests) for t in s.outs],
            "params": _params(s)})
    return steps


def dataset_provenance(project: Project, files: dict[str, list[str]], digests: Digests,
                       models: set[str], skip: set[str]) -> list[dict[str, Any]]:
    """Each cached output that is not a model: who made it, from what, or where it entered."""
    out = []
    for s in project.stages:
        if s.name in skip:
            continue
        for t in s.outs:
            if not t.cache or t.path in models or t.external:
                continue
            entry = _ref(t, files, digests)
            if s.name.endswith(".dvc"):
                entry["source"] = f"tracked with {s.name} (dvc add or dvc import)"
            else:
                inputs = ", ".join(d.path for d in s.deps)
                entry["source"] = f"DVC stage {s.name}: `{_command(s)}` from {inputs}"
            entry["path"] = t.path
            out.append(entry)
    return out


def lineage(project: Project, digests: Digests, models: set[str], skip: set[str],
            ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Hash what the graph names (reusing ``digests``), then steps and dataset provenance."""
    files, _ = expand(project, skip, [])
    digests.digest(sorted({f for fs in files.values() for f in fs}), lambda rel: None)
    return ({"steps": formulation_steps(project, files, digests, skip)},
            dataset_provenance(project, files, digests, models, skip))
