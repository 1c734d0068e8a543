"""The parts of the ML-BOM that cyclonedx-python-lib does not model, as plain JSON: the model
card, each dataset's ``data`` entry, and ``formulation`` (the steps that made the model).

The model card reads two top-level sections of ``system_card.yaml`` (other tools read other
sections of the same file, so unknown top-level keys are left alone): ``model_card`` and
``considerations``; docs/sbom.md lists their keys.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lifegate.core._yamlio import read_json
from lifegate.core.errors import ConfigError

__all__ = ["ArtifactRef", "CardSections", "DatasetSpec", "MetricSpec", "StepSpec",
           "data_entry", "formulation", "iso", "load_steps", "metrics_from_file", "model_card",
           "read_system_card"]

_SHA = r"^[0-9a-f]{64}$"
TaskType = Literal["copy", "clone", "lint", "scan", "merge", "build", "test", "deliver",
                   "deploy", "release", "clean", "other"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetSpec(_Strict):
    """One dataset: where its bytes are (or their digest), what it is, where it came from."""

    name: str = Field(min_length=1)
    path: str | None = Field(default=None, description="local copy, hashed by the gate")
    sha256: str | None = Field(default=None, pattern=_SHA,
                               description="digest, when no local copy is at hand")
    classification: str | None = None
    source: str | None = Field(default=None, description="URL or path the data came from")
    retrieved_at: datetime | None = None
    custodian: str | None = None
    public: bool = False
    use: str = Field(default="training", description="training, fine-tuning, evaluation ...")
    description: str | None = None


class MetricSpec(_Strict):
    type: str = Field(min_length=1)
    value: str | int | float
    slice: str | None = None
    lower: str | int | float | None = None
    upper: str | int | float | None = None


class ArtifactRef(_Strict):
    name: str = Field(min_length=1)
    sha256: str | None = Field(default=None, pattern=_SHA)


class StepSpec(_Strict):
    """One pipeline step (a DVC stage, a Kedro node, an Airflow task, a script)."""

    name: str = Field(min_length=1)
    platform: str = "cli"
    command: str | None = None
    task_type: TaskType = "build"
    inputs: list[ArtifactRef] = Field(default_factory=list)
    outputs: list[ArtifactRef] = Field(default_factory=list)
    params: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None


class _Steps(_Strict):
    steps: list[StepSpec]


class CardSections(_Strict):
    """What the model card takes from the system card."""

    parameters: dict[str, Any] = Field(default_factory=dict)
    considerations: dict[str, Any] = Field(default_factory=dict)


_PARAM_KEYS = {"approach", "task", "architecture_family", "model_architecture", "inputs",
               "outputs"}
_LIST_KEYS = {"users": "users", "use_cases": "useCases",
              "technical_limitations": "technicalLimitations",
              "performance_tradeoffs": "performanceTradeoffs"}
_CONSIDER_KEYS = {*_LIST_KEYS, "ethical_considerations", "fairness_assessments"}
_FALLBACKS = {"users": ("intended_users",), "use_cases": ("purpose",),
              "technical_limitations": ("limitations", "failure_modes")}


def _strings(value: Any, key: str, where: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v for v in value if v.strip()]
    raise ConfigError(f"'{key}' must be a text or a list of texts", where=where,
                      fix="write it as a YAML list of strings")


def _section(data: dict[str, Any], key: str, allowed: set[str], where: str) -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"'{key}' must be a mapping", where=where,
                          fix=f"see docs/sbom.md for the keys of '{key}'")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ConfigError(f"unknown key(s) in '{key}': {', '.join(unknown)}", where=where,
                          fix=f"use only: {', '.join(sorted(allowed))}")
    return value


def read_system_card(path: Path) -> CardSections:
    """The model-card sections of the system card (missing file: ConfigError)."""
    from lifegate.core._yamlio import read_yaml

    data, _ = read_yaml(path)
    where = str(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name} must be a mapping of keys", where=where)
    params = _section(data, "model_card", _PARAM_KEYS, where)
    given = _section(data, "considerations", _CONSIDER_KEYS, where)
    out: dict[str, Any] = {}
    for key, field_name in _LIST_KEYS.items():
        values = _strings(given.get(key), f"considerations.{key}", where)
        fallbacks = () if key in given else _FALLBACKS.get(key, ())
        for old in fallbacks:
            values += _strings(data.get(old), old, where)
        if values:
            out[field_name] = values
    ethical = [_risk(r, where) for r in _list(given, "ethical_considerations", where)]
    fairness = [_fairness(f, where) for f in _list(given, "fairness_assessments", where)]
    if ethical:
        out["ethicalConsiderations"] = ethical
    if fairness:
        out["fairnessAssessments"] = fairness
    return CardSections(parameters=params, considerations=out)


def _list(data: dict[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise ConfigError(f"'considerations.{key}' must be a list", where=where)
    return value


def _risk(item: Any, where: str) -> dict[str, str]:
    if isinstance(item, str):
        return {"name": item}
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        out = {"name": item["name"]}
        if item.get("mitigation"):
            out["mitigationStrategy"] = str(item["mitigation"])
        return out
    raise ConfigError("each ethical consideration is a text or {name, mitigation}", where=where)


def _fairness(item: Any, where: str) -> dict[str, str]:
    keys = {"group_at_risk": "groupAtRisk", "benefits": "benefits", "harms": "harms",
            "mitigation": "mitigationStrategy"}
    if not isinstance(item, dict) or not set(item) <= set(keys):
        raise ConfigError("each fairness assessment is a mapping of "
                          f"{', '.join(keys)}", where=where)
    return {keys[k]: str(v) for k, v in item.items() if v is not None}


def model_card(name: str, card: CardSections, dataset_refs: list[str],
               metrics: list[MetricSpec]) -> dict[str, Any]:
    """The CycloneDX ``modelCard`` object (validated later, with the whole document)."""
    p = card.parameters
    params: dict[str, Any] = {}
    if p.get("approach"):
        params["approach"] = {"type": p["approach"]}
    for key, out in (("task", "task"), ("architecture_family", "architectureFamily"),
                     ("model_architecture", "modelArchitecture")):
        if p.get(key):
            params[out] = p[key]
    if dataset_refs:
        params["datasets"] = [{"ref": ref} for ref in dataset_refs]
    for key in ("inputs", "outputs"):
        formats = _strings(p.get(key), f"model_card.{key}", "system card")
        if formats:
            params[key] = [{"format": f} for f in formats]
    doc: dict[str, Any] = {"bom-ref": f"model-card:{name}"}
    if params:
        doc["modelParameters"] = params
    if metrics:
        doc["quantitativeAnalysis"] = {"performanceMetrics": [_metric(m) for m in metrics]}
    if card.considerations:
        doc["considerations"] = card.considerations
    return doc


def _metric(m: MetricSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"type": m.type, "value": str(m.value)}
    if m.slice:
        out["slice"] = m.slice
    if m.lower is not None or m.upper is not None:
        out["confidenceInterval"] = {k: str(v) for k, v in
                                     (("lowerBound", m.lower), ("upperBound", m.upper))
                                     if v is not None}
    return out


def metrics_from_file(path: Path) -> list[MetricSpec]:
    """A metrics JSON file (DVC style: nested objects; leaves are numbers or texts)."""
    data = read_json(path, "metrics")
    if not isinstance(data, dict):
        raise ConfigError(f"metrics file {path.name} must hold a JSON object", where=str(path))
    out: list[MetricSpec] = []

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(node, (int, float, str)) and not isinstance(node, bool):
            out.append(MetricSpec(type=prefix, value=node))

    walk("", data)
    return out


def data_entry(spec: DatasetSpec, source_is_url: bool) -> dict[str, Any]:
    """The component's ``data`` item: classification, contents URL, custodian."""
    out: dict[str, Any] = {"type": "dataset", "name": spec.name}
    if spec.source and source_is_url:
        out["contents"] = {"url": spec.source}
    if spec.classification:
        out["classification"] = spec.classification
    if spec.description:
        out["description"] = spec.description
    if spec.custodian:
        out["governance"] = {"custodians": [{"organization": {"name": spec.custodian}}]}
    return out


def load_steps(path: Path) -> list[StepSpec]:
    """Formulation steps from JSON: ``{"steps": [...]}`` or a bare list (adapters write it)."""
    from pydantic import ValidationError

    data = read_json(path, "formulation")
    try:
        return _Steps.model_validate(data if isinstance(data, dict) else {"steps": data}).steps
    except ValidationError as exc:
        raise ConfigError(f"formulation file {path.name} is malformed: "
                          f"{exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}",
                          where=str(path), fix="see docs/sbom.md for the step format") from None


def formulation(system: str, steps: list[StepSpec], known: dict[str, str]) -> dict[str, Any]:
    """One formula with one workflow; ``known`` maps artifact names to existing bom-refs."""
    refs = dict(known)
    components: list[dict[str, Any]] = []
    for art in (a for s in steps for a in [*s.inputs, *s.outputs]):
        if art.name in refs:
            continue
        refs[art.name] = f"artifact:{art.name}"
        comp: dict[str, Any] = {"type": "file", "name": art.name, "bom-ref": refs[art.name]}
        if art.sha256:
            comp["hashes"] = [{"alg": "SHA-256", "content": art.sha256}]
        components.append(comp)
    tasks = [_task(i, s, refs) for i, s in enumerate(steps)]
    producers = {a.name: t["bom-ref"] for s, t in zip(steps, tasks, strict=True)
                 for a in s.outputs}
    deps = []
    for s, t in zip(steps, tasks, strict=True):
        on = sorted({producers[a.name] for a in s.inputs if a.name in producers} - {t["bom-ref"]})
        deps.append({"ref": t["bom-ref"], **({"dependsOn": on} if on else {})})
    workflow = {"bom-ref": f"workflow:{system}", "uid": system, "name": f"{system} pipeline",
                "taskTypes": sorted({s.task_type for s in steps}), "tasks": tasks,
                "taskDependencies": deps}
    formula: dict[str, Any] = {"bom-ref": f"formula:{system}", "workflows": [workflow]}
    if components:
        formula["components"] = components
    return formula


def _task(i: int, step: StepSpec, refs: dict[str, str]) -> dict[str, Any]:
    task: dict[str, Any] = {"bom-ref": f"task:{i}:{step.name}", "uid": step.name,
                            "name": step.name, "taskTypes": [step.task_type],
                            "properties": [{"name": "lifegate:platform",
                                            "value": step.platform}]}
    if step.command:
        task["steps"] = [{"name": step.name, "commands": [{"executed": step.command}]}]
    inputs: list[dict[str, Any]] = [{"resource": {"ref": refs[a.name]}} for a in step.inputs]
    if step.params:
        inputs.append({"parameters": [
            {"name": k, "value": "" if v is None else str(v), "dataType": type(v).__name__}
            for k, v in sorted(step.params.items())]})
    if inputs:
        task["inputs"] = inputs
    if step.outputs:
        task["outputs"] = [{"type": "artifact", "resource": {"ref": refs[a.name]}}
                           for a in step.outputs]
    for key, value in (("timeStart", step.started_at), ("timeEnd", step.finished_at)):
        if value is not None:
            task[key] = iso(value)
    return task


def iso(value: datetime) -> str:
    """RFC 3339 text; a time without a zone is taken as UTC."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
