"""LG-SBOM: a CycloneDX ML-BOM of the Python environment, the model with its model card, the
datasets with their provenance, and the steps that made the model; validated against the
official schema before it is written, checked against the policy, bound to the release."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from lifegate.core import progress
from lifegate.core.errors import ConfigError, EvidenceError
from lifegate.core.gate import GateSettings
from lifegate.core.hashing import (
    hash_files,
    regular_files,
    sha256_file,
    subject_digest,
    subject_name,
)
from lifegate.core.model import Evidence, Finding, GateResult, Phase, RunContext, Severity, Subject
from lifegate.core.policy import Policy
from lifegate.gates._sbom_card import (
    CardSections,
    DatasetSpec,
    MetricSpec,
    StepSpec,
    formulation,
    load_steps,
    metrics_from_file,
    model_card,
    read_system_card,
)
from lifegate.gates._sbom_doc import BomInput, DataPart, ModelPart, build_document
from lifegate.gates._sbom_env import EnvScan, scan_environment
from lifegate.gates._sbom_policy import Rule

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/vnd.cyclonedx+json"


class LicenseRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allow: list[str] = Field(default_factory=list, description="SPDX ids; empty: any")
    deny: list[str] = Field(default_factory=list, description="SPDX ids")
    unknown: Rule = "warn"


class SbomSettings(GateSettings):
    spec_version: Literal["1.6", "1.7"] = "1.6"
    out: str | None = Field(default=None, description="default: <model>.cdx.json beside the "
                            "model, else sbom.cdx.json beside the policy")
    model: str | None = None
    model_name: str | None = None
    system_card: str = "system_card.yaml"
    datasets: list[DatasetSpec] = Field(default_factory=list)
    metrics: list[MetricSpec] | dict[str, int | float | str] = Field(default_factory=list)
    metrics_file: str | None = None
    metrics_gate: str | None = Field(default=None, description="take the metrics of this "
                                     "gate's latest run in the ledger")
    formulation: list[StepSpec] | str | None = Field(default=None, description="steps, or a "
                                                     "JSON file of steps")
    environment: bool = True
    paths: list[str] | None = Field(default=None, description="folders to scan for installed "
                                    "distributions; default: the running interpreter's path")
    licenses: LicenseRules = Field(default_factory=LicenseRules)
    unknown_origin: Rule = "fail"
    advisories: str | None = Field(default=None, description="folder of OSV JSON advisories")
    release_manifest: bool = True
    private_key: str | None = None
    private_key_env: str = "LIFEGATE_MODEL_SIGNING_KEY"


@dataclass(frozen=True)
class _Hashed:
    model: ModelPart | None
    datasets: list[DataPart]


# What the BOM evidences: the supply chain's components checked against the policy (5.2.3-1);
# with a model and the environment, an inventory of model, data and software with their
# dependencies (5.2.1-1); with public datasets, their source and retrieval time (5.2.4-2.1).
# Not 5.2.4-1 / 5.2.4-1.1 (the model card is not the design documentation and maintenance
# plan, nor checked for its security details), 5.2.4-1.2 (LG-SIGN publishes the hashes a
# recipient checks) or 5.2.4-2 (how public data was obtained is not required).
P_SUPPLY, P_INVENTORY, P_PROVENANCE_FIELDS = "5.2.3-1", "5.2.1-1", "5.2.4-2.1"
# What fails each provision's own checks: a distribution left out of the BOM leaves the
# supply chain unchecked, and so the inventory incomplete.
CHECKED: dict[str, tuple[str, ...]] = {
    P_SUPPLY: (), P_INVENTORY: (P_SUPPLY,), P_PROVENANCE_FIELDS: ()}


class SbomGate:
    id: ClassVar[str] = "LG-SBOM"
    title: ClassVar[str] = "ML-BOM of environment, model, data and formulation"
    phase: ClassVar[Phase] = Phase.DEVELOPMENT
    provisions: ClassVar[tuple[str, ...]] = (P_SUPPLY, P_INVENTORY, P_PROVENANCE_FIELDS)
    Settings: ClassVar[type[SbomSettings]] = SbomSettings

    def __init__(self, settings: SbomSettings, policy: Policy) -> None:
        self.settings = settings
        self.policy = policy

    def check(self, context: RunContext) -> GateResult:
        s = self.settings
        model_path = self._path(context, "model", s.model)
        hashed = self._hash_assets(model_path)
        findings = self._data_findings(hashed.datasets)
        card, more = self._card(hashed.model)
        findings += more
        env = scan_environment(self._scan_paths()) if s.environment else EnvScan([], [], [], [])
        findings += _env_findings(env)
        hits, more = self._policy_findings(env)
        findings += more
        inp = BomInput(system=self.policy.system.name, version=self.policy.system.version,
                       spec=s.spec_version, env=env, model=hashed.model,
                       datasets=hashed.datasets, hits=hits, complete=not env.broken,
                       tool_version=_version("lifegate", self._own(env)))
        if hashed.model is not None:
            refs = [p.ref for p in hashed.datasets]
            inp.model_card = model_card(hashed.model.name, card, refs, self._metrics(context))
        steps = self._steps(context)
        findings += _digest_findings(hashed, steps)
        if steps:
            known = {p.spec.name: p.ref for p in hashed.datasets}
            if hashed.model is not None:
                known[hashed.model.name] = f"model:{hashed.model.name}"
            inp.formulation = formulation(self.policy.system.name, steps, known)
        out = self._out_path(context, model_path)
        doc, digest = write_bom(build_document(inp), s.spec_version, out)
        evidence = [Evidence(kind="sbom", uri=str(out), media_type=MEDIA_TYPE, sha256=digest)]
        if model_path is not None and s.release_manifest:
            evidence += self._bind_release(model_path, out)
        claimed = _claimed(hashed, s.environment)
        return GateResult.from_findings(
            self.id, findings, evidence=evidence, provisions=claimed,
            checked={p: CHECKED[p] for p in claimed},
            subjects=_subjects(out, digest, hashed, model_path, self.policy),
            metrics={"components": float(len(doc.get("components", []))),
                     "distributions": float(len(env.dists)),
                     "vulnerabilities": float(len(hits)),
                     "datasets": float(len(hashed.datasets))},
            tool_versions={"cyclonedx-python-lib": _version("cyclonedx-python-lib",
                                                            self._own(env))},
            details={"bom": str(out), "spec_version": s.spec_version,
                     "serial_number": doc.get("serialNumber"),
                     "formulation_steps": len(steps)})

    # -- inputs ---------------------------------------------------------------------------

    def _path(self, context: RunContext, role: str, configured: str | None) -> Path | None:
        value = context.artifacts.get(role) or configured
        return self.policy.resolve(value) if value else None

    def _own(self, env: EnvScan) -> EnvScan:
        """The scan, when it is of the running interpreter (whose tools made the BOM)."""
        return env if self.settings.paths is None else EnvScan([], [], [], [])

    def _scan_paths(self) -> list[str] | None:
        if self.settings.paths is None:
            return None
        return [str(self.policy.resolve(p)) for p in self.settings.paths]

    def _out_path(self, context: RunContext, model: Path | None) -> Path:
        chosen = self._path(context, "sbom", self.settings.out)
        if chosen is not None:
            return chosen
        if model is not None:
            return model.parent / f"{model.name}.cdx.json"
        return self.policy.base_dir / "sbom.cdx.json"

    def _hash_assets(self, model_path: Path | None) -> _Hashed:
        """Hash the model and every local dataset in one pool, on all cores."""
        roots: list[Path] = []
        if model_path is not None:
            roots.append(model_path)
        specs = self.settings.datasets
        roots += [self.policy.resolve(d.path) for d in specs if d.path]
        listed = [(i, p) for i, root in enumerate(roots) for p in _files(root)]
        total = sum(p.stat().st_size for _, p in listed)
        with progress.task("hashing model and data", total) as advance:
            digests = hash_files([p for _, p in listed], progress=advance)
        per_root: list[list[tuple[str, str]]] = [[] for _ in roots]
        for (i, path), d in zip(listed, digests, strict=True):
            rel = path.relative_to(roots[i]).as_posix() if roots[i].is_dir() else path.name
            per_root[i].append((rel, d.sha256))
        model = None
        if model_path is not None:
            files = per_root.pop(0)
            model = ModelPart(self.settings.model_name or model_path.name,
                              self.policy.system.version, _digest(files, model_path), files,
                              model_path.is_dir())
        parts, it = [], iter(zip(roots[1 if model_path else 0:], per_root, strict=True))
        for spec in specs:
            if spec.path:
                root, files = next(it)
                parts.append(DataPart(spec, _digest(files, root), len(files)))
            else:
                parts.append(DataPart(spec, spec.sha256, 0))
        return _Hashed(model, parts)

    def _card(self, model: ModelPart | None) -> tuple[CardSections, list[Finding]]:
        if model is None:
            return CardSections(), [Finding(
                rule="SBOM-NO-MODEL", severity=Severity.INFO, blocking=False,
                message="no model given: the BOM describes the environment only")]
        path = self.policy.resolve(self.settings.system_card)
        if not path.exists():
            return CardSections(), [Finding(
                rule="SBOM-CARD-MISSING", location=str(path),
                message=f"system card {path} not found: the model card has no intended users, "
                "use cases, limitations or ethical considerations")]
        return read_system_card(path), []

    def _metrics(self, context: RunContext) -> list[MetricSpec]:
        s = self.settings
        given = s.metrics
        out = ([MetricSpec(type=k, value=v) for k, v in given.items()]
               if isinstance(given, dict) else list(given))
        file = self._path(context, "metrics", s.metrics_file)
        if file is not None:
            out += metrics_from_file(file)
        if s.metrics_gate:
            from lifegate.evidence.ledger import latest_result

            entry = latest_result(self.policy, s.metrics_gate)
            if entry is None:
                raise ConfigError(f"no {s.metrics_gate} run in the ledger to take metrics from",
                                  fix=f"run {s.metrics_gate} first, or unset metrics_gate")
            recorded = entry.predicate["result"].get("metrics", {})
            out += [MetricSpec(type=k, value=v) for k, v in sorted(recorded.items())
                    if k != "duration_seconds"]
        return out

    def _steps(self, context: RunContext) -> list[StepSpec]:
        given = self.settings.formulation
        file = context.artifacts.get("formulation") or (given if isinstance(given, str)
                                                        else None)
        if file:
            return load_steps(self.policy.resolve(file))
        return list(given) if isinstance(given, list) else []

    # -- checks ---------------------------------------------------------------------------

    def _data_findings(self, parts: list[DataPart]) -> list[Finding]:
        out = []
        for part in parts:
            spec = part.spec
            if part.sha256 is None:
                out.append(Finding(rule="SBOM-DATA-NO-HASH",
                                   location=spec.name, message=f"dataset {spec.name} has no "
                                   "path to hash and no sha256"))
            missing = [k for k in ("source", "retrieved_at") if getattr(spec, k) is None]
            if spec.public and missing:
                out.append(Finding(rule="SBOM-DATA-PROVENANCE", provision=P_PROVENANCE_FIELDS,
                                   location=spec.name, message=f"public dataset {spec.name} "
                                   f"has no {' and no '.join(missing)}: record where it came "
                                   "from and when it was retrieved"))
            elif not spec.public and not (spec.source or spec.custodian):
                out.append(Finding(rule="SBOM-DATA-PROVENANCE", severity=Severity.MEDIUM,
                                   blocking=False, location=spec.name,
                                   message=f"dataset {spec.name} names no source and no "
                                   "custodian"))
            if not spec.classification:
                out.append(Finding(rule="SBOM-DATA-CLASSIFICATION", severity=Severity.MEDIUM,
                                   blocking=False, location=spec.name,
                                   message=f"dataset {spec.name} has no classification"))
        return out

    def _policy_findings(self, env: EnvScan) -> tuple[list[Any], list[Finding]]:
        from lifegate.gates import _sbom_policy as pol

        rules = self.settings.licenses
        findings = pol.license_findings(env.dists, rules.allow, rules.deny, rules.unknown)
        findings += pol.origin_findings(env.dists, self.settings.unknown_origin)
        hits: list[Any] = []
        if self.settings.advisories:
            advisories = pol.load_advisories(self.policy.resolve(self.settings.advisories))
            hits = pol.match_advisories(env.dists, advisories)
            findings += pol.vulnerability_findings(hits)
        return hits, findings

    def _bind_release(self, model: Path, bom: Path) -> list[Evidence]:
        """Add the BOM's digest to the signed release manifest, when the model has one."""
        from lifegate.evidence.ledger import open_ledger, trusted_keys
        from lifegate.evidence.release import add_entry, manifest_path
        from lifegate.gates._keysource import model_signing_key

        path = manifest_path(model)
        if not path.exists():
            return []
        with model_signing_key(self.policy, self.settings.private_key,
                               self.settings.private_key_env) as (signer, _):
            add_entry(path, "sbom", bom, signer, trusted_keys(self.policy),
                      open_ledger(self.policy), media_type=MEDIA_TYPE)
        return [Evidence(kind="release-manifest", uri=str(path), sha256=sha256_file(path),
                         media_type="application/vnd.in-toto+json")]


def _claimed(hashed: _Hashed, environment: bool) -> list[str]:
    """The provisions this run evidences (see CHECKED)."""
    return [P_SUPPLY, *([P_INVENTORY] if hashed.model is not None and environment else []),
            *([P_PROVENANCE_FIELDS] if any(p.spec.public for p in hashed.datasets) else [])]


def _files(root: Path) -> list[Path]:
    files = regular_files(root)  # refuses links and special files
    if not files:
        raise EvidenceError(f"{root} contains no files", where=str(root))
    return files


def _digest(files: list[tuple[str, str]], root: Path) -> str:
    """The root's subject digest (as every gate computes it) from the digests just made."""
    return subject_digest(root, {"." if not root.is_dir() else rel: d for rel, d in files})


def _env_findings(env: EnvScan) -> list[Finding]:
    out = [Finding(rule="SBOM-DIST-BROKEN", provision=P_SUPPLY, location=loc,
                   message=f"installed distribution with broken metadata ({why}): it is left "
                   "out of the BOM, which is therefore incomplete") for loc, why in env.broken]
    out += [Finding(rule="SBOM-DIST-SHADOWED", severity=Severity.INFO, blocking=False,
                    location=loc, message=f"shadowed by {winner}, which is the one imported")
            for loc, winner in env.shadowed]
    out += [Finding(rule="SBOM-DIST-NO-HASH", severity=Severity.MEDIUM, blocking=False,
                    provision=P_SUPPLY, location=d.purl,
                    message=f"{d.name} {d.version} has no RECORD with sha256 entries")
            for d in env.dists if d.sha256 is None]
    out += [Finding(rule="SBOM-DEP-MISSING", severity=Severity.LOW, blocking=False,
                    location=name, message=f"{name} requires {req}, which is not installed")
            for name, req in env.missing_requirements]
    return out


def _digest_findings(hashed: _Hashed, steps: list[StepSpec]) -> list[Finding]:
    """Declared digests (a dataset's ``sha256``, a step's inputs and outputs) that differ from
    the bytes hashed here: the data or model is not the one the record says."""
    actual = {p.spec.name: p.sha256 for p in hashed.datasets if p.spec.path and p.sha256}
    if hashed.model is not None:
        actual[hashed.model.name] = hashed.model.sha256
    declared = [(p.spec.name, p.spec.sha256, "the dataset's sha256 setting")
                for p in hashed.datasets if p.spec.path and p.spec.sha256]
    declared += [(a.name, a.sha256, f"step {s.name}") for s in steps
                 for a in [*s.inputs, *s.outputs] if a.sha256]
    return [Finding(rule="SBOM-DIGEST-MISMATCH", location=name,
                    message=f"{name} hashes to {actual[name][:12]}…, but {where} says "
                    f"{digest[:12]}…")
            for name, digest, where in declared
            if name in actual and actual[name] != digest]


def _subjects(bom: Path, digest: str, hashed: _Hashed, model: Path | None,
              policy: Policy) -> list[Subject]:
    """Files and folders by the name and digest every gate gives them; a dataset with no
    path by its BOM reference and the digest the policy declares."""
    base = policy.base_dir
    out = [Subject(name=subject_name(bom, base), sha256=digest)]
    if hashed.model is not None and model is not None:
        out.append(Subject(name=subject_name(model, base), sha256=hashed.model.sha256))
    out += [Subject(name=subject_name(policy.resolve(p.spec.path), base) if p.spec.path
                    else p.ref, sha256=p.sha256) for p in hashed.datasets if p.sha256]
    return out


def write_bom(doc: dict[str, Any], spec: Literal["1.6", "1.7"], out: Path,
              ) -> tuple[dict[str, Any], str]:
    """Validate against the CycloneDX schema, then write atomically; return doc and sha256.

    An invalid document is an EvidenceError and nothing is written."""
    from lifegate.gates._sbom_schema import schema_errors

    errors = schema_errors(doc, spec)
    if errors:
        raise EvidenceError(f"the ML-BOM does not validate against CycloneDX {spec}: "
                            + "; ".join(errors), where=str(out),
                            fix="correct the input named in the schema path (system card, "
                            "dataset or formulation); the BOM was not written")
    data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(out)
    import hashlib

    return doc, hashlib.sha256(data).hexdigest()


def _version(dist: str, env: EnvScan) -> str:
    """The version installed here: from the scan when it saw it (a metadata search costs)."""
    from importlib.metadata import PackageNotFoundError, version

    found = next((d.version for d in env.dists if d.key == dist), None)
    if found is not None:
        return found
    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"
