"""The Kedro pipeline as LG-SBOM's formulation: one step per node, with the digests of the
file-backed datasets it read and wrote and the parameters it was given."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["formulation"]

Scalar = str | int | float | bool | None


def _flatten(prefix: str, value: Any, out: dict[str, Scalar]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    elif value is None or isinstance(value, str | int | float | bool):
        out[prefix] = value
    else:
        out[prefix] = repr(value)


def _digest(catalog: Any, name: str, cache: dict[str, str | None]) -> str | None:
    """sha256 of a local file-backed dataset (tree digest for a folder), else None."""
    if name in cache:
        return cache[name]
    from lifegate.core.errors import ConfigError
    from lifegate.core.hashing import hash_files, tree_digest, walk_files
    from lifegate.plugins._kedro_run import dataset_path

    digest = None
    try:
        path = Path(dataset_path(catalog, name))
    except ConfigError:
        path = None
    if path is not None and "://" not in str(path) and path.exists():
        if path.is_dir():
            files = hash_files(walk_files(path))
            digest = tree_digest((d.path.relative_to(path).as_posix(), d.sha256) for d in files)
        else:
            digest = hash_files([path])[0].sha256
    cache[name] = digest
    return digest


def _params(catalog: Any, inputs: list[str]) -> dict[str, Scalar]:
    out: dict[str, Scalar] = {}
    for name in inputs:
        if name == "parameters" or name.startswith("params:"):
            _flatten(name.removeprefix("params:"), catalog.load(name), out)
    return out


def _command(node: Any) -> str:
    func = getattr(node, "func", None)
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"


def formulation(pipeline: Any, catalog: Any, timings: dict[str, list[datetime]]
                ) -> list[dict[str, Any]]:
    """LG-SBOM ``formulation`` steps (``StepSpec`` mappings) for the nodes of ``pipeline``."""
    cache: dict[str, str | None] = {}
    steps = []
    for node in pipeline.nodes:
        data_in = [n for n in node.inputs if not (n == "parameters" or n.startswith("params:"))]
        times = timings.get(node.name, [])
        steps.append({
            "name": node.name, "platform": "kedro", "command": _command(node),
            "inputs": [{"name": n, "sha256": _digest(catalog, n, cache)} for n in data_in],
            "outputs": [{"name": n, "sha256": _digest(catalog, n, cache)}
                        for n in node.outputs],
            "params": _params(catalog, list(node.inputs)),
            "started_at": times[0].isoformat() if times else None,
            "finished_at": times[-1].isoformat() if len(times) > 1 else None,
        })
    return steps
