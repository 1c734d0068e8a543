"""YAML loading with errors that name the file, the key and the line."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from lifegate.core.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

_FIXES = {
    "extra_forbidden": "remove the key, or check its spelling against the documentation",
    "missing": "add the key",
}


def read_json(path: Path, what: str, fix: str | None = None) -> Any:
    """Parse a JSON input file; a missing or malformed one is a ConfigError naming ``what``."""
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} file not found: {path}", where=str(path), fix=fix) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc}", where=str(path),
                          fix=fix) from None


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """Parse ``path``; return the data and the node tree (for line numbers)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"file not found: {path}", where=str(path),
                          fix="create it (lifegate init writes starters) or pass the right path",
                          ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", where=str(path),
                          fix="check the file's permissions and that it is UTF-8 text") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path.name} is not valid YAML: {problem}", where=where,
                          fix="fix the YAML syntax at that line (indentation, quotes, colons)",
                          ) from None
    return data, node


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    node = value
                    line = key.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) \
                and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def validate(model: type[M], data: Any, path: Path, node: yaml.Node | None = None) -> M:
    """Validate ``data`` against ``model``; a ConfigError names file, key, line and fix."""
    if data is None:
        data = {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        first_where = str(path)
        for i, err in enumerate(exc.errors()):
            loc = tuple(p for p in err["loc"]
                        if not (isinstance(p, str) and p.startswith("function-")))
            key = ".".join(str(p) for p in loc) or "(top level)"
            line = _line_of(node, loc)
            where = f"{path}:{line}" if line else str(path)
            if i == 0:
                first_where = where
            fix = _FIXES.get(err["type"], "")
            problems.append(f"  {where}: '{key}': {err['msg']}" + (f" ({fix})" if fix else ""))
        raise ConfigError(
            f"{path.name} is not a valid {model.__name__}:\n" + "\n".join(problems),
            where=first_where,
            fix="correct the keys listed above",
        ) from None


def load_model(model: type[M], path: Path) -> M:
    data, node = read_yaml(path)
    return validate(model, data, path, node)
