"""Builders for the LG-SBOM tests: a small synthetic Python environment (real ``*.dist-info``
folders with METADATA and RECORD), an ML project, OSV advisories, and golden-file handling."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

import golden_files
from lifegate.core import Policy, load_policy

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "sbom"


def record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def write_dist(site: Path, name: str, version: str, headers: list[str] | None = None, *,
               files: dict[str, bytes] | None = None, installer: bool = True,
               direct_url: dict[str, Any] | None = None, record: bool = True) -> Path:
    """A real installed distribution: its files, METADATA, INSTALLER and RECORD."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    meta = "\n".join(["Metadata-Version: 2.4", f"Name: {name}", f"Version: {version}",
                      *(headers or [])]) + "\n\nA long description.\n"
    (info / "METADATA").write_text(meta, encoding="utf-8")
    rows = []
    pkg = name.replace("-", "_")
    for rel, data in (files or {f"{pkg}/__init__.py": f"# {name}\n".encode()}).items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_bytes(data)
        rows.append(f"{rel},{record_hash(data)},{len(data)}")
    meta_rel = f"{info.name}/METADATA"
    rows.append(f"{meta_rel},{record_hash(meta.encode())},{len(meta.encode())}")
    if installer:
        (info / "INSTALLER").write_text("pip\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))
    if record:
        rows.append(f"{info.name}/RECORD,,")
        (info / "RECORD").write_text("\n".join(rows) + "\n")
    return info


def synthetic_env(site: Path) -> Path:
    """Four distributions covering licence forms, markers, extras and origins."""
    write_dist(site, "alpha", "1.0", [
        "License-Expression: MIT OR Apache-2.0",
        "Requires-Dist: beta>=2",
        'Requires-Dist: gamma; python_version >= "3"',
        'Requires-Dist: delta; extra == "docs"',
        'Requires-Dist: epsilon; python_version < "3"',
        "Project-URL: Source, https://example.org/alpha",
        "Project-URL: Documentation, https://docs.example.org/alpha",
        "Project-URL: Broken, https://example.org/a b",
    ])
    write_dist(site, "beta", "2.1", ["License: Apache-2.0", "Home-page: https://example.org/beta",
                                     "Requires-Dist: gamma (>=0.5)"])
    write_dist(site, "gamma", "0.5", ["Classifier: License :: OSI Approved :: MIT License"],
               direct_url={"url": "https://github.com/example/gamma",
                           "vcs_info": {"vcs": "git", "commit_id": "a" * 40}})
    write_dist(site, "delta", "3.0", ["License: BSD-3-Clause"])
    return site


def ml_project(root: Path) -> Path:
    """A model folder, a dataset, a system card with model-card sections, a metrics file."""
    model = root / "models" / "clf"
    model.mkdir(parents=True)
    (model / "weights.bin").write_bytes(bytes(range(256)) * 40)
    (model / "config.json").write_text('{"trees": 100}\n')
    (root / "data").mkdir()
    (root / "data" / "train.csv").write_text("amount,label\n10,0\n99,1\n")
    (root / "system_card.yaml").write_text(yaml.safe_dump({
        "name": "fraud", "purpose": "rank card transactions for review",
        "intended_users": ["fraud analysts"], "limitations": ["not for credit decisions"],
        "model_card": {"approach": "supervised", "task": "classification",
                       "architecture_family": "gradient-boosted trees",
                       "model_architecture": "HistGradientBoostingClassifier",
                       "inputs": ["tabular/csv"], "outputs": ["probability"]},
        "considerations": {"ethical_considerations": [
            {"name": "disparate impact", "mitigation": "quarterly audit"}],
            "fairness_assessments": [{"group_at_risk": "new customers",
                                      "harms": "more false alarms"}]},
    }))
    return root


DATASET: dict[str, Any] = {
    "name": "train", "path": "data/train.csv", "classification": "confidential",
    "source": "https://data.example.org/transactions/2025-01.csv",
    "retrieved_at": "2025-01-31T12:00:00+00:00", "custodian": "Data Office", "public": True}

STEPS: list[dict[str, Any]] = [
    {"name": "prepare", "platform": "dvc", "command": "python prepare.py",
     "inputs": [{"name": "raw.csv", "sha256": "1" * 64}], "outputs": [{"name": "train"}],
     "params": {"seed": 7}},
    {"name": "fit", "platform": "dvc", "command": "python fit.py", "inputs": [{"name": "train"}],
     "outputs": [{"name": "clf"}], "params": {"lr": 0.1, "trees": 100},
     "started_at": "2025-02-01T09:00:00Z", "finished_at": "2025-02-01T09:05:00Z"},
]


def sbom_policy(root: Path, site: Path | None, extra: dict[str, Any] | None = None,
                **settings: Any) -> Policy:
    """A policy whose LG-SBOM scans ``site`` only (so the BOM is stable)."""
    base: dict[str, Any] = {"paths": [str(site)]} if site is not None else {}
    data: dict[str, Any] = {"system": {"name": "fraud", "version": "1.4.0"},
                            "gates": {"LG-SBOM": {"settings": {**base, **settings}}}}
    data.update(extra or {})
    path = root / "lifegate.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_policy(path)


def osv(root: Path, name: str, doc: dict[str, Any]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{name}.json"
    path.write_text(json.dumps(doc))
    return path


def advisory(adv_id: str, package: str, events: list[dict[str, str]],
             versions: list[str] | None = None) -> dict[str, Any]:
    return {"id": adv_id, "modified": "2025-01-01T00:00:00Z", "summary": f"{package} flaw",
            "aliases": [f"CVE-2025-{adv_id[-4:]}"],
            "affected": [{"package": {"ecosystem": "PyPI", "name": package},
                          "ranges": [{"type": "ECOSYSTEM", "events": events}],
                          "versions": versions or []}],
            "database_specific": {"severity": "HIGH"}}


def normalised(doc: dict[str, Any]) -> dict[str, Any]:
    """The BOM without what changes per run: serial number, timestamp, tool version."""
    out = json.loads(json.dumps(doc))
    out["serialNumber"] = "urn:uuid:00000000-0000-0000-0000-000000000000"
    out["metadata"]["timestamp"] = "2025-01-01T00:00:00+00:00"
    for tool in out["metadata"].get("tools", {}).get("components", []):
        tool["version"] = "X"
    return out


def assert_golden(name: str, doc: dict[str, Any]) -> None:
    text = json.dumps(normalised(doc), indent=2, sort_keys=True) + "\n"
    golden_files.assert_golden(GOLDEN / name, text)
