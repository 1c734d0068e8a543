"""Facts for the disclosure, read from the ledger and the signed release manifest only.

Absent facts (no data validation yet, no SBOM yet) are ``None`` and the page says "not
recorded"; facts that are present but unreadable or inconsistent raise, so that a notice
never describes evidence it could not check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from lifegate.core._yamlio import read_json
from lifegate.core.errors import ConfigError, EvidenceError
from lifegate.core.hashing import sha256_file
from lifegate.core.policy import Policy
from lifegate.evidence.ledger import Entry, decode, open_ledger
from lifegate.evidence.release import ReleaseManifest
from lifegate.evidence.statement import PredicateType

__all__ = ["Facts", "GateFact", "ReleaseFact", "SbomFact", "WaiverFact", "collect_facts",
           "gate_runs", "read_metrics", "summary"]


class GateFact(BaseModel):
    """The latest recorded run of a gate."""

    gate: str
    verdict: str
    seq: int
    recorded_at: datetime
    metrics: dict[str, float] = Field(default_factory=dict)
    about_this_release: bool | None = None


class ReleaseFact(BaseModel):
    model_name: str
    model_root_digest: str
    hash_type: str
    signer: str
    entries: dict[str, str] = Field(default_factory=dict, description="kind -> sha256")


class SbomFact(BaseModel):
    uri: str
    sha256: str
    components: dict[str, str] = Field(default_factory=dict, description="name -> version")


class WaiverFact(BaseModel):
    id: str
    gate: str
    rule: str | None
    approver: str
    justification: str
    expires: date


class Facts(BaseModel):
    system: str
    version: str
    release: ReleaseFact | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    metrics_source: str | None = None
    data_validation: GateFact | None = None
    sbom: SbomFact | None = None
    verification: GateFact | None = None
    waivers: list[WaiverFact] = Field(default_factory=list)


def gate_runs(policy: Policy, gate_id: str) -> Iterator[Entry]:
    """Recorded runs of ``gate_id`` for the policy's system, newest first."""
    for rec in open_ledger(policy).store.newest(PredicateType.GATE_RUN.kind):
        entry = decode(rec)
        pred = entry.predicate
        if pred.get("result", {}).get("gate_id") == gate_id and \
                pred.get("context", {}).get("system") == policy.system.name:
            yield entry


def _gate_fact(policy: Policy, gate_id: str, root: str | None) -> GateFact | None:
    entry = next(gate_runs(policy, gate_id), None)
    if entry is None:
        return None
    result = entry.predicate["result"]
    metrics = {k: float(v) for k, v in result.get("metrics", {}).items()
               if k != "duration_seconds"}
    about = None if root is None else root in entry.subjects.values()
    return GateFact(gate=gate_id, verdict=str(result.get("verdict")), seq=entry.seq,
                    recorded_at=entry.recorded_at, metrics=metrics, about_this_release=about)


def read_metrics(path: Path) -> dict[str, float]:
    """A JSON object of metric name -> number (e.g. written by the training step)."""
    data = read_json(path, "metrics", fix="write the evaluation metrics there as a JSON "
                     "object of metric name -> number, or unset metrics_file")
    ok = isinstance(data, dict) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in data.values())
    if not ok or not data:
        raise ConfigError(f"{path} is not a non-empty JSON object of metric name -> number",
                          where=str(path), fix='e.g. {"accuracy": 0.95}')
    return {str(k): float(v) for k, v in data.items()}


def _metrics(policy: Policy, metrics_file: Path | None,
             evaluation_gate: str | None) -> tuple[dict[str, float], str | None]:
    if metrics_file is not None:
        return read_metrics(metrics_file), metrics_file.name
    if evaluation_gate:
        fact = _gate_fact(policy, evaluation_gate, None)
        if fact is not None and fact.metrics:
            return fact.metrics, f"{evaluation_gate} (ledger record #{fact.seq})"
    return {}, None


def _components(path: Path) -> dict[str, str]:
    try:
        bom = json.loads(path.read_text(encoding="utf-8"))
        items = bom.get("components", [])
        return {str(c["name"]): str(c.get("version", "")) for c in items}
    except (OSError, ValueError, AttributeError, KeyError, TypeError) as exc:
        raise EvidenceError(f"cannot read the components of the SBOM {path}: {exc}",
                            where=str(path), fix="re-create the SBOM with `lifegate sbom`"
                            ) from None


def _sbom(policy: Policy, manifest: ReleaseManifest | None) -> SbomFact | None:
    if manifest is not None and "sbom" in manifest.entries:
        entry = manifest.entries["sbom"]
        uri, digest = entry.uri, entry.sha256
    else:
        run = next(gate_runs(policy, "LG-SBOM"), None)
        found = [e for e in (run.predicate["result"].get("evidence", []) if run else [])
                 if "sbom" in str(e.get("kind", ""))]
        if not found:
            return None
        uri, digest = str(found[0]["uri"]), str(found[0]["sha256"])
    path = policy.resolve(uri)
    if not path.is_file() or sha256_file(path) != digest:
        raise EvidenceError(f"the SBOM at {path} is missing or differs from the digest "
                            f"{digest[:12]} the release records", where=str(path),
                            fix="re-create the SBOM for this release with `lifegate sbom`")
    return SbomFact(uri=uri, sha256=digest, components=_components(path))


def _waivers(policy: Policy) -> list[WaiverFact]:
    return [WaiverFact(id=w.id, gate=w.gate, rule=w.rule, approver=w.approver,
                       justification=w.justification, expires=w.expires)
            for w in policy.waivers if w.active()]


def _release(manifest: ReleaseManifest | None) -> ReleaseFact | None:
    if manifest is None:
        return None
    return ReleaseFact(model_name=manifest.model_name,
                       model_root_digest=manifest.model_root_digest,
                       hash_type=manifest.hash_type, signer=manifest.signer,
                       entries={k: e.sha256 for k, e in sorted(manifest.entries.items())
                                if not k.startswith(("disclosure", "approval"))})


def collect_facts(policy: Policy, manifest: ReleaseManifest | None, *,
                  metrics_file: Path | None, evaluation_gate: str | None) -> Facts:
    """Everything the ledger and the release say about the system now."""
    root = manifest.model_root_digest if manifest else None
    metrics, source = _metrics(policy, metrics_file, evaluation_gate)
    return Facts(system=policy.system.name, version=policy.system.version,
                 release=_release(manifest), metrics=metrics, metrics_source=source,
                 data_validation=_gate_fact(policy, "LG-DATA", None),
                 sbom=_sbom(policy, manifest),
                 verification=_gate_fact(policy, "LG-VERIFY", root),
                 waivers=_waivers(policy))


def summary(facts: Facts) -> dict[str, Any]:
    """What the next release's change notice compares against (kept in the gate result)."""
    return {"version": facts.version,
            "model": facts.release.model_root_digest if facts.release else None,
            "metrics": facts.metrics,
            "waivers": {w.id: w.justification for w in facts.waivers},
            "sbom": facts.sbom.sha256 if facts.sbom else None,
            "components": facts.sbom.components if facts.sbom else {},
            "data_validation": facts.data_validation.verdict if facts.data_validation
            else None}
