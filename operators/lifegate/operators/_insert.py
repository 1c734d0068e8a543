"""insert_gates: wire the policy's gates into an existing DAG without touching its tasks.

The DAG author names which of their tasks are which lifecycle step (``ingest``, ``train``,
``deploy``, ``monitor``, ``retire``) by task-id pattern (``fnmatch``), or by operator class
(``type:PythonOperator``). Each gate the policy requires is placed before or after its step;
several gates at one place run in a chain. The edges around the step are re-wired so that
nothing downstream of a gated step runs before its gates have passed.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    from airflow.sdk import DAG, BaseOperator

    from lifegate.core import Policy

__all__ = ["DEFAULT_PLACEMENTS", "GatePlacement", "insert_gates", "policy_phases"]

Position = Literal["before", "after"]


class GatePlacement(NamedTuple):
    """Where a gate goes: ``position`` ("before"/"after") the tasks of lifecycle ``step``.

    (A NamedTuple, not a dataclass: building a dataclass costs most of this module's import,
    and DAG files import it on every parse.)
    """

    step: str
    position: Position = "after"
    artifacts: Mapping[str, str] = MappingProxyType({})
    settings: Mapping[str, Any] = MappingProxyType({})


# In chain order: gates at the same place run in the order they appear here.
DEFAULT_PLACEMENTS: dict[str, GatePlacement] = {
    "LG-THREAT": GatePlacement("ingest", "before"),
    "LG-DATA": GatePlacement("ingest"),
    "LG-INV": GatePlacement("train"),
    "LG-SCAN": GatePlacement("train"),
    "LG-SIGN": GatePlacement("train"),  # starts the release manifest; SBOM and notice join it
    "LG-SBOM": GatePlacement("train"),
    "LG-DISCLOSE": GatePlacement("train"),
    "LG-APPROVE": GatePlacement("deploy", "before"),
    "LG-VERIFY": GatePlacement("deploy", "before"),
    "LG-DRIFT": GatePlacement("monitor"),
    "LG-RETIRE": GatePlacement("retire"),
}


def _matches(task: Any, selector: str) -> bool:
    if selector.startswith("type:"):
        return type(task).__name__ == selector.removeprefix("type:")
    return fnmatch.fnmatchcase(task.task_id, selector)


def _step_tasks(dag: DAG, selectors: str | Sequence[str]) -> list[BaseOperator]:
    sels = [selectors] if isinstance(selectors, str) else list(selectors)
    return [t for t in dag.tasks if any(_matches(t, s) for s in sels)]  # type: ignore[misc]


def policy_phases(policy: str | Policy | None) -> dict[str, list[str]]:
    """The policy's ``phases`` (phase -> gate ids). A path is read with YAML only, not
    validated: DAG parsing stays cheap, and the gates validate the full policy when they run."""
    import os

    if policy is not None and not isinstance(policy, str):
        return {p.value: list(ids) for p, ids in policy.phases.items()}
    path = policy or os.environ.get("LIFEGATE_POLICY") or "lifegate.yaml"
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        found = _phases_fast(text)
        if found is None:
            found = _phases_node(text)
        if found is None:
            data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
            found = {str(k): [str(g) for g in v] for k, v in (data.get("phases") or {}).items()}
        return found
    except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError, TypeError) as exc:
        from lifegate.core.errors import ConfigError  # imports lifegate.core: only on error

        raise ConfigError(f"cannot read the phases of policy {path}: {exc}", where=str(path),
                          fix="check the path and the policy's `phases:` mapping") from None


def _phases_block(text: str) -> str | None:
    """The top-level ``phases:`` block cut out by its lines (the key at column 0 and the
    indented, blank, comment or ``-`` lines after it): a tenth of composing the whole policy.
    None unless that is surely what the whole document holds under ``phases``: every line at
    column 0 is a comment, a list item or a plain key (no quoted, explicit, anchored or merge
    key, no document marker or directive), ``phases`` is one of them exactly once, and no line
    before it could carry a quoted scalar or a flow collection over a line break (odd quotes,
    an unclosed bracket), which could hide a look-alike line."""
    lines = text.split("\n")
    start = None
    for i, line in enumerate(lines):
        if _continues(line):
            continue
        if not (line[0].isalnum() or line[0] == "_"):
            return None
        if line.startswith("phases") and line[6:].lstrip(" \t").startswith(":"):
            if start is not None:
                return None
            start = i
    if start is None or not all(map(_closed, lines[:start])):
        return None
    end = start + 1
    while end < len(lines) and _continues(lines[end]):
        end += 1
    return "\n".join(lines[start:end])


def _continues(line: str) -> bool:
    """A line that cannot start a new top-level key: blank, indented, a comment, a list item."""
    return not line.rstrip("\r") or line[0] in " \t#" or \
        (line[0] == "-" and line[1:2] in ("", " ", "\t", "\r"))


def _phases_fast(text: str) -> dict[str, list[str]] | None:
    """``phases`` from its block alone, or None (the whole document then decides)."""
    import yaml

    block = _phases_block(text)
    if block is None:
        return None
    try:
        return _phases_node(block)
    except yaml.YAMLError:  # an alias to an anchor outside the block, say
        return None


def _closed(line: str) -> bool:
    """No quote or bracket of ``line`` is left open (escapes of double quotes aside): too
    strict for quotes in plain scalars and trailing comments, which only costs the fast path.
    A whole-line comment opens nothing."""
    if line.lstrip(" \t").startswith("#"):
        return True
    if "\\" in line:
        line = re.sub(r"\\.", "", line)
    return line.count('"') % 2 == 0 and line.count("'") % 2 == 0 \
        and line.count("[") <= line.count("]") and line.count("{") <= line.count("}")


def _phases_node(text: str) -> dict[str, list[str]] | None:
    """``phases`` from the YAML node tree, composed in C without typing any scalar: a third of
    a full load of the policy, and DAG files pay it on every parse. None when the value is
    anything but a mapping of lists of plain strings (the full load then decides)."""
    import yaml

    root = yaml.compose(text, Loader=getattr(yaml, "CBaseLoader", yaml.BaseLoader))
    if not isinstance(root, yaml.MappingNode):
        return None
    values = [v for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "phases"
              and k.tag == "tag:yaml.org,2002:str"]
    if not values:
        return {}
    node = values[-1]
    if isinstance(node, yaml.ScalarNode) and not node.style and \
            node.value in ("", "~", "null", "Null", "NULL"):
        return {}
    if not isinstance(node, yaml.MappingNode):
        return None
    phases: dict[str, list[str]] = {}
    for key, ids in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.value == "<<" \
                or not isinstance(ids, yaml.SequenceNode) \
                or not all(isinstance(g, yaml.ScalarNode) for g in ids.value):
            return None
        phases[key.value] = [g.value for g in ids.value]
    return phases


def _required_gates(phases_of: dict[str, list[str]], phases: list[str] | None) -> list[str]:
    gates: list[str] = []
    for phase, ids in phases_of.items():
        if phases is None or phase in phases:
            gates += [g for g in ids if g not in gates]
    return gates


def _rewire(dag: DAG, step: list[BaseOperator], chain: list[BaseOperator],
            position: Position) -> None:
    """Put ``chain`` right after (or before) the step's tasks, moving the edges across."""
    ids = {t.task_id for t in step}
    first, last = chain[0], chain[-1]
    for a, b in itertools.pairwise(chain):
        a >> b
    for task in step:
        others = (task.downstream_task_ids if position == "after"
                  else task.upstream_task_ids) - ids
        for other_id in sorted(others):
            other = dag.get_task(other_id)
            if position == "after":
                task.downstream_task_ids.discard(other_id)
                other.upstream_task_ids.discard(task.task_id)
                last >> other
            else:
                task.upstream_task_ids.discard(other_id)
                other.downstream_task_ids.discard(task.task_id)
                other >> first
        if position == "after":
            task >> first
        else:
            last >> task


def _mark(dag: DAG, phases_of: dict[str, list[str]], inserted: Iterable[str],
          phases: list[str] | None) -> None:
    """Tag the DAG as a governed AI pipeline and with the phases it covers (cluster policy)."""
    if phases is None:
        phases = [p for p, ids in phases_of.items() if set(ids) & set(inserted)]
    dag.tags |= {"ai-pipeline", *(f"lifegate:{p}" for p in phases)}


def insert_gates(dag: DAG, policy: str | Policy | None = None, *,
                 steps: Mapping[str, str | Sequence[str]],
                 placements: Mapping[str, GatePlacement] | None = None,
                 phases: Iterable[str] | None = None, gates: Sequence[str] | None = None,
                 lifegate_conn_id: str = "lifegate_default") -> dict[str, BaseOperator]:
    """Add the gates the policy requires (or ``gates``) to ``dag``; return them by gate id.

    :param steps: lifecycle step -> task-id pattern(s) or ``type:OperatorClass``.
    :param placements: per gate id, where it goes and its artifacts/settings (merged over
        :data:`DEFAULT_PLACEMENTS`).
    :param phases: only the gates of these policy phases (default: every phase).
    """
    from lifegate.operators._base import LifegateGateOperator

    where = {**DEFAULT_PLACEMENTS, **(placements or {})}
    policy_path = policy if isinstance(policy, str) else None
    phases_of = policy_phases(policy)
    matched = {step: _step_tasks(dag, sel) for step, sel in steps.items()}
    phases = None if phases is None else list(phases)
    wanted = list(gates) if gates is not None else _required_gates(phases_of, phases)
    order = list(DEFAULT_PLACEMENTS)
    wanted.sort(key=lambda g: order.index(g) if g in order else len(order))
    groups: dict[tuple[str, Position], list[BaseOperator]] = {}
    added: dict[str, BaseOperator] = {}
    for gate_id in wanted:
        place = where.get(gate_id)
        if place is None:
            from lifegate.core.errors import ConfigError

            raise ConfigError(f"no placement for gate {gate_id} in DAG {dag.dag_id}",
                              fix=f"pass placements={{'{gate_id}': GatePlacement(...)}}")
        if place.step not in steps:
            continue
        op = LifegateGateOperator(
            task_id=f"lifegate_{gate_id.lower().replace('-', '_')}", dag=dag, gate_id=gate_id,
            policy=policy_path, artifacts=dict(place.artifacts), settings=dict(place.settings),
            lifegate_conn_id=lifegate_conn_id)
        groups.setdefault((place.step, place.position), []).append(op)
        added[gate_id] = op
    _mark(dag, phases_of, added, phases)
    for (step, position), chain in groups.items():
        tasks = matched[step]
        if not tasks:
            from lifegate.core.errors import ConfigError

            raise ConfigError(f"step {step!r} matches no task of DAG {dag.dag_id}",
                              fix=f"check the pattern {steps[step]!r} against the task ids")
        _rewire(dag, tasks, chain, position)
    return added
