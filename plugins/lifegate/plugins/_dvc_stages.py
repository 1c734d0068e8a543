"""Ready-made ``dvc.yaml`` stages for lifegate's gates, printed or added to a pipeline."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from lifegate.core.errors import ConfigError

__all__ = ["add_stages", "render", "stages", "upstream_outputs"]

POLICY = "lifegate.yaml"
RECEIPTS = ".lifegate/receipts"


def _gate(gate: str, deps: list[str], **artifacts: str) -> dict[str, Any]:
    """A gate stage; its receipt (an uncached out) lets later stages depend on it."""
    args = "".join(f" --artifact {role}={path}" for role, path in artifacts.items())
    receipt = f"{RECEIPTS}/{gate}.json"
    return {"cmd": f"lifegate dvc gate {gate}{args} --receipt {receipt}",
            "deps": [*deps, POLICY], "outs": [{receipt: {"cache": False}}]}


def stages(model: str, datasets: list[str], upstream: list[str]) -> dict[str, Any]:
    """Data gates, scan, sign, lineage, SBOM, disclosure, then the release check.

    ``upstream`` are the pipeline's other outputs: the release check depends on all of them,
    so DVC runs it last. It is ``always_changed``: the run cache must never skip it.
    """
    sig = f"{model}.sig"
    out: dict[str, Any] = {}
    for i, ds in enumerate(datasets):
        out[f"lifegate_data{'' if i == 0 else f'_{i + 1}'}"] = _gate("LG-DATA", [ds], dataset=ds)
    out["lifegate_scan"] = _gate("LG-SCAN", [model], model=model)
    out["lifegate_sign"] = _gate("LG-SIGN", [model], model=model)
    out["lifegate_sign"]["outs"].append({sig: {"cache": False}})
    out["lifegate_lineage"] = {"cmd": "lifegate dvc lineage --out lineage.json",
                               "deps": [*upstream, sig], "outs": [{"lineage.json":
                                                                   {"cache": False}}]}
    out["lifegate_sbom"] = _gate("LG-SBOM", [sig, "lineage.json"], model=model,
                                 formulation="lineage.json")
    out["lifegate_disclose"] = _gate("LG-DISCLOSE", [sig, "system_card.yaml"], model=model)
    receipts = [next(iter(o)) for st in out.values() for o in st["outs"]]
    out["release_check"] = {"cmd": "lifegate dvc release-check",
                            "deps": sorted({*upstream, *receipts}),
                            "always_changed": True}
    return out


def render(data: dict[str, Any]) -> str:
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 4096
    buf = io.StringIO()
    yaml.dump({"stages": data}, buf)
    return buf.getvalue()


def add_stages(dvc_yaml: Path, new: dict[str, Any], force: bool) -> list[str]:
    """Append ``new`` to the pipeline, keeping its comments; names already there are errors."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    data = yaml.load(dvc_yaml.read_text(encoding="utf-8")) if dvc_yaml.is_file() else {}
    data = data or {}
    existing = data.setdefault("stages", {})
    clash = sorted(set(existing) & set(new))
    if clash and not force:
        raise ConfigError(f"{dvc_yaml.name} already has stage(s) {', '.join(clash)}",
                          where=str(dvc_yaml), fix="rename or remove them, or pass --force")
    existing.update(new)
    tmp = dvc_yaml.with_name(dvc_yaml.name + ".part")
    with tmp.open("w", encoding="utf-8") as f:
        yaml.dump(data, f)
    tmp.replace(dvc_yaml)
    return list(new)


def upstream_outputs(dvc_yaml: Path) -> list[str]:
    """Outputs (and metrics) of the stages already in the pipeline."""
    from lifegate.plugins._dvc_project import load_yaml

    data = load_yaml(dvc_yaml) or {}
    found: list[str] = []
    for spec in (data.get("stages") or {}).values():
        for key in ("outs", "metrics", "plots"):
            for o in (spec or {}).get(key) or []:
                found.append(next(iter(o)) if isinstance(o, dict) else str(o))
    return sorted(set(found))
