"""LG-SBOM end to end: a real synthetic environment, real hashing, the official CycloneDX
schema, a real SQLite ledger, and the signed release manifest."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sbom_helpers import (
    DATASET,
    STEPS,
    advisory,
    assert_golden,
    ml_project,
    osv,
    sbom_policy,
    synthetic_env,
    write_dist,
)

from ledger_checks import assert_one_record_added, records
from lifegate.core import GateFailed, Policy, Verdict, make_context, run_gate_by_id
from lifegate.core.hashing import sha256_file, subject_digest
from lifegate.evidence.ledger import open_ledger
from lifegate.gates._sbom_schema import schema_errors

FULL: dict[str, Any] = {"model": "models/clf", "datasets": [DATASET],
                        "metrics": [{"type": "accuracy", "value": 0.91, "slice": "2025-Q1",
                                     "lower": 0.9, "upper": 0.92}],
                        "formulation": STEPS}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    ml_project(tmp_path)
    synthetic_env(tmp_path / "site")
    return tmp_path


@pytest.fixture
def make(project: Path) -> Callable[..., Policy]:
    def build(**settings: Any) -> Policy:
        return sbom_policy(project, project / "site", **{**FULL, **settings})

    return build


def run(policy: Policy, **artifacts: str):  # type: ignore[no-untyped-def]
    return run_gate_by_id("LG-SBOM", policy, make_context(policy, artifacts=artifacts),
                          raise_on_block=False)


def bom(project: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((project / "models" / "clf.cdx.json").read_text())
    return doc


def assert_valid(doc: dict[str, Any], spec: str) -> None:
    """Valid for lifegate's validator and for cyclonedx-python-lib's own (jsonschema)."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    assert schema_errors(doc, spec) == []  # type: ignore[arg-type]
    version = SchemaVersion.from_version(spec)
    assert JsonStrictValidator(version).validate_str(json.dumps(doc)) is None


def test_full_ml_bom_matches_golden_and_validates(project: Path, make) -> None:  # type: ignore[no-untyped-def]
    r = run(make()).result
    assert r.verdict is Verdict.PASS, r.findings
    # model, data, software and their dependencies: an inventory (5.2.1-1); a public dataset
    # with its source and retrieval time (5.2.4-2.1)
    assert r.provisions == ["5.2.3-1", "5.2.1-1", "5.2.4-2.1"]
    assert r.provision_checks == dict.fromkeys(r.provisions, "pass")
    doc = bom(project)
    assert_valid(doc, "1.6")
    assert_golden("ml-bom.cdx.json", doc)
    model = next(c for c in doc["components"] if c["type"] == "machine-learning-model")
    card = model["modelCard"]
    assert card["modelParameters"]["datasets"] == [{"ref": "data:train"}]
    assert card["considerations"]["users"] == ["fraud analysts"]
    data = next(c for c in doc["components"] if c["type"] == "data")
    assert data["hashes"][0]["content"] == sha256_file(project / "data/train.csv")
    assert data["data"][0]["governance"]["custodians"] == [{"organization": {
        "name": "Data Office"}}]
    tasks = doc["formulation"][0]["workflows"][0]["tasks"]
    assert [t["name"] for t in tasks] == ["prepare", "fit"]
    deps = {d["ref"]: d.get("dependsOn", []) for d in doc["dependencies"]}
    assert deps["system:fraud"] == ["model:clf", "pkg:pypi/alpha@1.0", "pkg:pypi/delta@3.0"]
    assert deps["pkg:pypi/alpha@1.0"] == ["pkg:pypi/beta@2.1", "pkg:pypi/gamma@0.5"]


def test_spec_1_7_validates(project: Path, make) -> None:  # type: ignore[no-untyped-def]
    assert run(make(spec_version="1.7")).result.verdict is Verdict.PASS
    doc = bom(project)
    assert doc["specVersion"] == "1.7"
    assert_valid(doc, "1.7")


def test_evidence_subjects_and_ledger(project: Path, make) -> None:  # type: ignore[no-untyped-def]
    policy = make()
    gate_run = run(policy)
    out = project / "models" / "clf.cdx.json"
    ev = gate_run.result.evidence[0]
    assert (ev.kind, Path(ev.uri), ev.media_type) == ("sbom", out,
                                                      "application/vnd.cyclonedx+json")
    assert ev.sha256 == sha256_file(out)
    subjects = {s.name: s.sha256 for s in gate_run.result.subjects}
    assert subjects["models/clf.cdx.json"] == ev.sha256
    assert subjects["data/train.csv"] == sha256_file(project / "data/train.csv")
    assert subjects["models/clf"] == subject_digest(project / "models/clf")
    entry = list(open_ledger(policy).entries())[-1]
    assert entry.seq == gate_run.record.seq and entry.subjects == subjects


def test_out_path_and_environment_only(project: Path) -> None:
    policy = sbom_policy(project, project / "site")
    result = run(policy, sbom=str(project / "out" / "env.cdx.json")).result
    assert result.verdict is Verdict.PASS
    assert [f.rule for f in result.findings] == ["SBOM-NO-MODEL"]
    assert result.provisions == ["5.2.3-1"]  # no model: the BOM is no inventory of the assets
    doc = json.loads((project / "out" / "env.cdx.json").read_text())
    assert {c["type"] for c in doc["components"]} == {"library"}


def test_metrics_from_a_file_and_from_the_ledger(project: Path, make) -> None:  # type: ignore[no-untyped-def]
    (project / "metrics.json").write_text('{"test": {"auc": 0.97, "n": 200}, "note": "ok"}')
    policy = make(metrics=[], metrics_gate="LG-INV",
                  **{"metrics_file": "metrics.json"})
    with pytest.raises(GateFailed, match="no LG-INV run in the ledger"):
        run_gate_by_id("LG-SBOM", policy)
    policy.gates["LG-INV"] = policy.gates["LG-SBOM"].model_copy(
        update={"settings": {"models": ["models/clf"]}})
    run_gate_by_id("LG-INV", policy)
    assert run(policy).result.verdict is Verdict.PASS
    model = next(c for c in bom(project)["components"] if c["type"].startswith("machine"))
    metrics = {m["type"]: m["value"] for m in
               model["modelCard"]["quantitativeAnalysis"]["performanceMetrics"]}
    assert metrics == {"test.auc": "0.97", "test.n": "200", "note": "ok", "bytes": "10255.0",
                       "changed": "0.0", "files": "2.0"}


def test_formulation_from_an_adapter_file(project: Path, make) -> None:  # type: ignore[no-untyped-def]
    steps = project / "steps.json"
    steps.write_text(json.dumps({"steps": [{"name": "train", "platform": "kedro",
                                            "outputs": [{"name": "clf"}]}]}))
    assert run(make(), formulation=str(steps)).result.verdict is Verdict.PASS
    task = bom(project)["formulation"][0]["workflows"][0]["tasks"][0]
    assert task["outputs"] == [{"type": "artifact", "resource": {"ref": "model:clf"}}]
    steps.write_text('{"steps": [{"platform": "kedro"}]}')
    with pytest.raises(GateFailed, match=r"formulation file steps\.json is malformed"):
        run_gate_by_id("LG-SBOM", make(), make_context(make(), artifacts={
            "formulation": str(steps)}))


def assert_blocked_and_ledger_kept(policy: Policy, project: Path, match: str,
                                   verdict: Verdict = Verdict.ERROR) -> GateFailed:
    """The gate blocks; the records already in the ledger are unchanged; no BOM is left."""
    before = records(policy)
    out = project / "models" / "clf.cdx.json"
    out.unlink(missing_ok=True)
    with pytest.raises(GateFailed, match=match) as exc:
        run_gate_by_id("LG-SBOM", policy)
    assert exc.value.result.verdict is verdict
    assert_one_record_added(policy, before)
    return exc.value


def test_missing_model_path(project: Path, make) -> None:  # type: ignore[no-untyped-def]
    run(make())
    assert_blocked_and_ledger_kept(make(model="models/nope"), project,
                                   "path not found.*models/nope")
    assert not (project / "models" / "nope.cdx.json").exists()


def test_unreadable_dataset(project: Path, make) -> None:  # type: ignore[no-untyped-def]
    run(make())
    os.symlink(project / "gone.csv", project / "data" / "link.csv")
    bad = {**DATASET, "path": "data/link.csv"}
    assert_blocked_and_ledger_kept(make(datasets=[bad]), project, "symlink")
    (project / "data" / "empty").mkdir()
    assert_blocked_and_ledger_kept(make(datasets=[{**DATASET, "path": "data/empty"}]), project,
                                   "contains no files")
    if os.geteuid() != 0:  # root reads files whatever their mode
        (project / "data" / "train.csv").chmod(0)
        assert_blocked_and_ledger_kept(make(), project, "cannot read")


def test_broken_distribution_fails_and_bom_says_incomplete(project: Path, make) -> None:  # type: ignore[no-untyped-def]
    info = write_dist(project / "site", "broken", "1")
    (info / "RECORD").write_text("broken/__init__.py,sha256=%%%,3\n")
    exc = assert_blocked_and_ledger_kept(make(), project, "broken metadata", Verdict.FAIL)
    assert exc.result.findings[0].location == str(info)
    doc = bom(project)  # written: valid, and marked incomplete
    assert {"name": "lifegate:complete", "value": "false"} in doc["metadata"]["properties"]
    assert "broken" not in {c["name"] for c in doc["components"]}


def test_malformed_advisory_file(project: Path, make) -> None:  # type: ignore[no-untyped-def]
    run(make())
    (project / "osv").mkdir()
    (project / "osv" / "x.json").write_text('{"id": "X", "affected": 3}')
    assert_blocked_and_ledger_kept(make(advisories="osv"), project, "x.json is not usable OSV")


def test_planted_vulnerability_blocks_fixed_version_passes(project: Path, make) -> None:  # type: ignore[no-untyped-def]
    osv(project / "osv", "a", advisory("PYSEC-2025-0101", "beta",
                                       [{"introduced": "2.0"}, {"fixed": "2.2"}]))
    osv(project / "osv", "b", advisory("PYSEC-2025-0102", "delta",
                                       [{"introduced": "0"}, {"fixed": "3.0"}]))
    r = run(make(advisories="osv")).result
    assert r.verdict is Verdict.FAIL
    assert [(f.rule, f.location) for f in r.findings] == [("SBOM-VULNERABLE",
                                                           "pkg:pypi/beta@2.1")]
    vulns = bom(project)["vulnerabilities"]
    assert [(v["id"], v["affects"]) for v in vulns] == [
        ("PYSEC-2025-0101", [{"ref": "pkg:pypi/beta@2.1"}])]


def test_broken_model_card_is_never_written(project: Path, make) -> None:  # type: ignore[no-untyped-def]
    run(make())
    card = project / "system_card.yaml"
    card.write_text(card.read_text().replace("approach: supervised", "approach: vibes"))
    exc = assert_blocked_and_ledger_kept(make(), project, "does not validate against CycloneDX")
    assert "modelCard.modelParameters.approach.type" in str(exc)


def test_malformed_system_card_is_a_clear_error(project: Path, make) -> None:  # type: ignore[no-untyped-def]
    (project / "system_card.yaml").write_text("model_card:\n  aproach: supervised\n")
    assert_blocked_and_ledger_kept(make(), project, "unknown key.*aproach")


def test_missing_system_card_blocks(project: Path, make) -> None:  # type: ignore[no-untyped-def]
    (project / "system_card.yaml").unlink()
    r = run(make()).result
    assert [(f.rule, f.blocking) for f in r.findings] == [("SBOM-CARD-MISSING", True)]


def test_public_data_without_provenance_and_data_without_hash(project: Path, make) -> None:  # type: ignore[no-untyped-def]
    no_prov = {"name": "scraped", "path": "data/train.csv", "classification": "public",
               "public": True, "source": "https://example.org/crawl"}
    no_hash = {"name": "remote", "classification": "internal", "custodian": "Data Office"}
    r = run(make(datasets=[no_prov, no_hash])).result
    assert r.verdict is Verdict.FAIL
    assert [(f.rule, f.location) for f in r.blocking_findings()] == [
        ("SBOM-DATA-PROVENANCE", "scraped"), ("SBOM-DATA-NO-HASH", "remote")]
    assert "retrieved_at" in r.findings[0].message
    assert r.provisions == ["5.2.3-1", "5.2.1-1", "5.2.4-2.1"]
    assert r.findings[0].provision == "5.2.4-2.1"
    # a dataset without a digest names no provision: it fails all the run's claims
    assert r.provision_checks == dict.fromkeys(r.provisions, "fail")


def test_licence_and_origin_policy(project: Path, make) -> None:  # type: ignore[no-untyped-def]
    write_dist(project / "site", "stray", "1", ["License: GPL-3.0-only"], installer=False)
    r = run(make(licenses={"deny": ["GPL-3.0-only"]})).result
    assert sorted(f.rule for f in r.blocking_findings()) == ["SBOM-LICENSE-DENIED",
                                                             "SBOM-ORIGIN-UNKNOWN"]
    r = run(make(licenses={"allow": ["MIT", "Apache-2.0", "GPL-3.0-only"]},
                 unknown_origin="warn")).result
    assert [(f.rule, f.location) for f in r.blocking_findings()] == [
        ("SBOM-LICENSE-NOT-ALLOWED", "pkg:pypi/delta@3.0")]


def test_unknown_setting_is_a_config_error(project: Path, make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Exception, match=r"extra_forbidden|Extra inputs"):
        run_gate_by_id("LG-SBOM", make(licences={"allow": ["MIT"]}))


def test_bom_joins_the_signed_release_manifest(tmp_path: Path, model: Path,
                                                signing_policy) -> None:  # type: ignore[no-untyped-def]
    from lifegate.evidence.ledger import trusted_keys
    from lifegate.evidence.release import manifest_path, read_manifest

    policy = signing_policy(**{"LG-SBOM": {"environment": False}})
    ctx = make_context(policy, artifacts={"model": str(model)})
    run_gate_by_id("LG-SIGN", policy, ctx)
    (tmp_path / "system_card.yaml").write_text("model_card: {approach: supervised}\n")
    gate_run = run_gate_by_id("LG-SBOM", policy, ctx)
    out = model.parent / "clf.cdx.json"
    manifest = read_manifest(manifest_path(model), trusted_keys(policy))
    assert manifest.entries["sbom"].sha256 == sha256_file(out)
    assert manifest.entries["sbom"].media_type == "application/vnd.cyclonedx+json"
    kinds = {e.kind: e.sha256 for e in gate_run.result.evidence}
    assert kinds["release-manifest"] == sha256_file(manifest_path(model))
    last = list(open_ledger(policy).entries())
    assert last[-2].kind == "release" and last[-1].seq == gate_run.record.seq


def test_declared_digests_must_match_the_bytes(project: Path, make) -> None:  # type: ignore[no-untyped-def]
    real = sha256_file(project / "data/train.csv")
    steps = [{"name": "fit", "inputs": [{"name": "train", "sha256": "0" * 64}],
              "outputs": [{"name": "clf"}]}]
    r = run(make(datasets=[{**DATASET, "sha256": real}], formulation=steps)).result
    assert [(f.rule, f.location) for f in r.blocking_findings()] == [
        ("SBOM-DIGEST-MISMATCH", "train")]
    assert "step fit says 000000000000" in r.findings[0].message
    r = run(make(datasets=[{**DATASET, "sha256": "f" * 64}])).result
    assert [f.rule for f in r.blocking_findings()] == ["SBOM-DIGEST-MISMATCH"]
    steps[0]["inputs"] = [{"name": "train", "sha256": real}]
    assert run(make(formulation=steps)).result.verdict is Verdict.PASS


def test_claims_provenance_only_for_public_data(project: Path, make) -> None:  # type: ignore[no-untyped-def]
    r = run(make(datasets=[{**DATASET, "public": False}])).result
    assert r.verdict is Verdict.PASS, r.findings
    assert r.provisions == ["5.2.3-1", "5.2.1-1"]  # the provenance check did not run
    r = run(make(environment=False)).result
    assert r.provisions == ["5.2.3-1", "5.2.4-2.1"]  # no software listed: no full inventory
