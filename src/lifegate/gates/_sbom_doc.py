"""Assemble the ML-BOM: cyclonedx-python-lib builds and serializes what it models (metadata,
environment, model and dataset components, dependencies, vulnerabilities); the model card,
the datasets' ``data`` and ``formulation`` are then added to the JSON. The result is never
loaded back through the library (it would drop those sections)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lifegate.gates._sbom_card import DatasetSpec, data_entry, iso
from lifegate.gates._sbom_env import Dist, EnvScan
from lifegate.gates._sbom_policy import Advisory
from lifegate.gates._sbom_schema import SpecVersion, is_iri, is_iri_reference

__all__ = ["BomInput", "DataPart", "ModelPart", "build_document"]

HASH_METHOD_DIST = "tree digest of the sha256 entries in RECORD (see docs/sbom.md)"
HASH_METHOD_TREE = "tree digest of the sha256 of each file (see docs/sbom.md)"


@dataclass(frozen=True)
class ModelPart:
    name: str
    version: str
    sha256: str
    files: list[tuple[str, str]]  # (relative path, sha256); one entry for a single file
    is_dir: bool


@dataclass(frozen=True)
class DataPart:
    spec: DatasetSpec
    sha256: str | None
    files: int

    @property
    def ref(self) -> str:
        return f"data:{self.spec.name}"


@dataclass
class BomInput:
    system: str
    version: str
    spec: SpecVersion
    env: EnvScan
    model: ModelPart | None = None
    datasets: list[DataPart] = field(default_factory=list)
    hits: list[tuple[Dist, Advisory]] = field(default_factory=list)
    model_card: dict[str, Any] | None = None
    formulation: dict[str, Any] | None = None
    complete: bool = True
    tool_version: str = "unknown"


def _prop(name: str, value: object) -> Any:
    from cyclonedx.model import Property

    return Property(name=name, value=str(value))


def _sha(hex_digest: str) -> Any:
    from cyclonedx.model import HashAlgorithm, HashType

    return HashType(alg=HashAlgorithm.SHA_256, content=hex_digest)


def _refs(pairs: list[tuple[str, str]]) -> list[Any]:
    """External references; URLs that are not valid IRI references are left out."""
    from cyclonedx.model import ExternalReference, ExternalReferenceType, XsUri

    return [ExternalReference(type=ExternalReferenceType(kind), url=XsUri(url))
            for kind, url in pairs if is_iri_reference(url)]


def _license(dist: Dist) -> list[Any]:
    from cyclonedx.model.license import DisjunctiveLicense, LicenseExpression

    lic = dist.license
    if lic is None:
        return []
    if lic.kind == "expression":
        return [LicenseExpression(lic.value)]
    return [DisjunctiveLicense(id=lic.value) if lic.kind == "id"
            else DisjunctiveLicense(name=lic.value)]


def _dist_component(dist: Dist) -> Any:
    from cyclonedx.model.component import Component, ComponentType
    from packageurl import PackageURL

    props = [_prop("lifegate:origin", dist.origin),
             _prop("lifegate:record-files", dist.record_files)]
    if dist.sha256:
        props.append(_prop("lifegate:hash-method", HASH_METHOD_DIST))
    links = list(dist.urls)
    if dist.origin_url:
        links.append(("vcs" if dist.origin == "vcs" else "distribution", dist.origin_url))
    return Component(type=ComponentType.LIBRARY, name=dist.name, version=dist.version,
                     bom_ref=dist.purl,
                     purl=PackageURL(type="pypi", name=dist.key, version=dist.version),
                     hashes=[_sha(dist.sha256)] if dist.sha256 else None,
                     licenses=_license(dist), external_references=_refs(links),
                     properties=props)


def _model_component(model: ModelPart) -> Any:
    from cyclonedx.model.component import Component, ComponentType

    files = [Component(type=ComponentType.FILE, name=rel, bom_ref=f"model:{model.name}/{rel}",
                       hashes=[_sha(digest)]) for rel, digest in model.files] \
        if model.is_dir else None
    method = HASH_METHOD_TREE if model.is_dir else "sha256 of the file"
    return Component(type=ComponentType.MACHINE_LEARNING_MODEL, name=model.name,
                     version=model.version, bom_ref=f"model:{model.name}",
                     hashes=[_sha(model.sha256)], components=files,
                     properties=[_prop("lifegate:hash-method", method)])


def _data_component(part: DataPart) -> Any:
    from cyclonedx.model.component import Component, ComponentType

    spec = part.spec
    props = [_prop("lifegate:data:use", spec.use),
             _prop("lifegate:data:public", str(spec.public).lower())]
    if spec.source:
        props.append(_prop("lifegate:provenance:source", spec.source))
    if spec.retrieved_at:
        props.append(_prop("lifegate:provenance:retrieved-at", iso(spec.retrieved_at)))
    if spec.custodian:
        props.append(_prop("lifegate:provenance:custodian", spec.custodian))
    if part.sha256:
        props.append(_prop("lifegate:hash-method", HASH_METHOD_TREE if part.files > 1
                           else "sha256 of the file"))
    links = [("distribution", spec.source)] if spec.source and is_iri(spec.source) else []
    return Component(type=ComponentType.DATA, name=spec.name, bom_ref=part.ref,
                     hashes=[_sha(part.sha256)] if part.sha256 else None,
                     external_references=_refs(links), properties=props)


def _vulnerability(dist: Dist, adv: Advisory) -> Any:
    from cyclonedx.model.vulnerability import BomTarget, Vulnerability, VulnerabilitySource

    return Vulnerability(bom_ref=f"vuln:{adv.id}:{dist.key}", id=adv.id,
                         source=VulnerabilitySource(name="OSV advisory directory"),
                         description=adv.summary or None,
                         affects=[BomTarget(ref=dist.purl)],
                         properties=[_prop("lifegate:advisory-aliases", ",".join(adv.aliases))]
                         if adv.aliases else None)


def _library_bom(inp: BomInput) -> Any:
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.dependency import Dependency
    from cyclonedx.model.lifecycle import LifecyclePhase, PredefinedLifecycle
    from cyclonedx.model.tool import ToolRepository

    system = Component(type=ComponentType.APPLICATION, name=inp.system, version=inp.version,
                       bom_ref=f"system:{inp.system}")
    tool = Component(type=ComponentType.APPLICATION, name="lifegate", version=inp.tool_version)
    bom = Bom(metadata=BomMetaData(
        component=system, tools=ToolRepository(components=[tool]),
        lifecycles=[PredefinedLifecycle(LifecyclePhase.BUILD)],
        properties=[_prop("lifegate:complete", str(inp.complete).lower())]))
    by_key = {d.key: _dist_component(d) for d in inp.env.dists}
    data = [_data_component(p) for p in inp.datasets]
    required = {r for d in inp.env.dists for r in d.requires}
    top = [by_key[d.key] for d in inp.env.dists if d.key not in required]
    edges = [(by_key[d.key], [by_key[r] for r in d.requires]) for d in inp.env.dists]
    edges += [(comp, []) for comp in data]
    if inp.model is not None:
        model = _model_component(inp.model)
        edges.append((model, data))
        top = [model, *top]
    bom.components.update(c for c, _ in edges)
    edges.append((system, top))
    bom.dependencies.update(
        Dependency(ref=comp.bom_ref, dependencies=[Dependency(ref=d.bom_ref) for d in on])
        for comp, on in edges)
    bom.vulnerabilities.update(_vulnerability(d, a) for d, a in inp.hits)
    return bom


def build_document(inp: BomInput) -> dict[str, Any]:
    """The complete ML-BOM as a JSON object (not yet validated)."""
    from cyclonedx.output.json import JsonV1Dot6, JsonV1Dot7

    out = (JsonV1Dot7 if inp.spec == "1.7" else JsonV1Dot6)(_library_bom(inp))
    doc: dict[str, Any] = json.loads(out.output_as_string())
    comps = {c.get("bom-ref"): c for c in doc.get("components", [])}
    if inp.model is not None and inp.model_card is not None:
        comps[f"model:{inp.model.name}"]["modelCard"] = inp.model_card
    for part in inp.datasets:
        source_is_url = bool(part.spec.source) and is_iri(part.spec.source)
        comps[part.ref]["data"] = [data_entry(part.spec, source_is_url)]
    if inp.formulation is not None:
        doc["formulation"] = [inp.formulation]
    return doc
