"""LG-DISCLOSE: golden outputs for the demo card, every missing section named with its
provision, template overrides, binding to the signed release, change notices, fail-closed."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from disclosure_helpers import DEMO_CARD, GOLDEN, card, signed_release, snapshot

import golden_files
from lifegate.core import Policy, Verdict, make_context, run_gate_by_id
from lifegate.core.errors import ConfigError
from lifegate.core.hashing import sha256_file
from lifegate.evidence.ledger import trusted_keys
from lifegate.evidence.release import manifest_path, read_manifest
from lifegate.gates._disclosure_card import REQUIRED, load_card
from lifegate.gates._disclosure_changes import Change, ChangeNotice
from lifegate.gates._disclosure_facts import (
    Facts,
    GateFact,
    ReleaseFact,
    SbomFact,
    WaiverFact,
)
from lifegate.gates._disclosure_render import Disclosure, md_escape, render
from lifegate.gates.disclosure import DisclosureGate

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ROOT = "a0" * 32


def _facts() -> Facts:
    return Facts(
        system="iris-classifier", version="1.1.0",
        release=ReleaseFact(model_name="classifier", model_root_digest=ROOT, hash_type="sha256",
                            signer="5e" * 32, entries={"model-signature": "b1" * 32,
                                                       "sbom": "c2" * 32}),
        metrics={"accuracy": 0.953, "macro_f1": 0.95}, metrics_source="metrics.json",
        data_validation=GateFact(gate="LG-DATA", verdict="pass", seq=4,
                                 recorded_at=datetime(2025, 2, 28, 9, 0, tzinfo=UTC)),
        sbom=SbomFact(uri="sbom.cdx.json", sha256="c2" * 32,
                      components={"numpy": "2.4.6", "scikit-learn": "1.7.0"}),
        verification=GateFact(gate="LG-VERIFY", verdict="pass", seq=9,
                              recorded_at=datetime(2025, 3, 1, 11, 0, tzinfo=UTC),
                              about_this_release=True),
        waivers=[WaiverFact(id="W-7", gate="LG-SCAN", rule="SCAN-PICKLE", approver="carol",
                            justification="legacy tokenizer pickle, loaded in a sandbox only",
                            expires=date(2025, 6, 30))])


def _notice() -> ChangeNotice:
    return ChangeNotice(
        previous_version="1.0.0", previous_model="9f" * 32, previous_record=3,
        note="Retrained on the corrected measurements of 2025.",
        changes=[Change(kind="model", old="9f" * 32, new=ROOT),
                 Change(kind="version", old="1.0.0", new="1.1.0"),
                 Change(kind="waiver-added", name="W-7",
                        new="legacy tokenizer pickle, loaded in a sandbox only"),
                 Change(kind="metric", name="accuracy", old="0.94", new="0.953"),
                 Change(kind="component-updated", name="numpy", old="2.4.5", new="2.4.6")])


def _doc(notice: ChangeNotice | None = None) -> Disclosure:
    return Disclosure.build(load_card(DEMO_CARD), _facts(), notice, generated_at=T0)


def assert_golden(name: str, text: str) -> None:
    golden_files.assert_golden(GOLDEN / name, text)


@pytest.mark.parametrize(("kind", "name"), [("markdown", "disclosure.md"),
                                            ("html", "disclosure.html"),
                                            ("json", "disclosure.json")])
def test_demo_card_renders_its_golden_files(kind: str, name: str) -> None:
    text = render(_doc(_notice()), kind)
    assert text == render(_doc(_notice()), kind), "rendering must be deterministic"
    assert_golden(name, text)


def test_first_release_has_no_change_notice() -> None:
    md = render(_doc(), "markdown")
    assert "## What changed" not in md and "## About this system" in md
    assert "What changed" not in render(_doc(), "html")


def test_json_round_trips() -> None:
    doc = _doc(_notice())
    again = Disclosure.model_validate(json.loads(render(doc, "json")))
    assert again == doc and again.format == "lifegate-disclosure/v1"


@pytest.mark.parametrize("section", REQUIRED, ids=lambda s: s.key)
def test_each_missing_section_is_named_with_its_provision(
        section: object, tmp_path: Path, signing_policy: Callable[..., Policy],
        model: Path) -> None:
    from lifegate.gates._disclosure_card import Section

    assert isinstance(section, Section)
    policy = signed_release(signing_policy, model, tmp_path)
    data = yaml.safe_load(DEMO_CARD.read_text())
    top, _, sub = section.key.partition(".")
    if sub:
        data[top][sub] = "   "   # blank text counts as missing
    else:
        data[top] = [] if isinstance(data[top], list) else ""
    (tmp_path / "system_card.yaml").write_text(yaml.safe_dump(data))
    before = snapshot(policy)
    run = run_gate_by_id("LG-DISCLOSE", policy, make_context(policy, artifacts={
        "model": str(model)}), raise_on_block=False)
    assert run.result.verdict is Verdict.FAIL
    [finding] = run.result.blocking_findings()
    assert finding.rule == "DISCLOSE-MISSING" and finding.provision == section.provision
    assert f"'{section.key}'" in finding.message
    assert (section.provision or "the notice needs it") in finding.message
    # no notice is written, so End-users are told nothing: every provision of the gate fails
    assert run.result.provision_checks == dict.fromkeys(DisclosureGate.provisions, "fail")
    assert snapshot(policy)[:len(before)] == before
    assert not (tmp_path / "disclosure").exists(), "a failed notice writes nothing"


def test_all_missing_sections_are_reported_at_once(tmp_path: Path,
                                                   signing_policy: Callable[..., Policy],
                                                   model: Path) -> None:
    (tmp_path / "system_card.yaml").write_text("name: ''\nlanguage: en\nextra_key: 1\n")
    policy = signed_release(signing_policy, model, tmp_path)
    run = run_gate_by_id("LG-DISCLOSE", policy, raise_on_block=False)
    blocking = run.result.blocking_findings()
    assert len(blocking) == len(REQUIRED)
    assert {f.provision for f in blocking} == {s.provision for s in REQUIRED}
    checks = run.result.provision_checks
    assert set(checks) == set(DisclosureGate.provisions) and set(checks.values()) == {"fail"}
    notes = [f for f in run.result.findings if not f.blocking]
    assert [f.rule for f in notes] == ["DISCLOSE-UNKNOWN-KEY"] and "extra_key" in notes[0].message


def test_gate_writes_outputs_and_binds_them_to_the_release(
        tmp_path: Path, signing_policy: Callable[..., Policy], model: Path) -> None:
    (tmp_path / "metrics.json").write_text('{"accuracy": 0.95}')
    policy = signed_release(signing_policy, model, tmp_path,
                            **{"LG-DISCLOSE": {"metrics_file": "metrics.json"}})
    run = run_gate_by_id("LG-DISCLOSE", policy)   # model found through the LG-SIGN record
    assert run.result.verdict is Verdict.PASS, run.result.findings
    out = tmp_path / "disclosure"
    assert sorted(p.name for p in out.iterdir()) == ["disclosure.html", "disclosure.json",
                                                     "disclosure.md"]
    manifest = read_manifest(manifest_path(model), trusted_keys(policy))
    by_kind = {e.kind: e.sha256 for e in run.result.evidence}
    assert manifest.entries["disclosure"].sha256 == by_kind["disclosure-html"]
    assert manifest.entries["disclosure-data"].sha256 == by_kind["disclosure-json"]
    data = json.loads((out / "disclosure.json").read_text())
    assert data["facts"]["release"]["model_root_digest"] == manifest.model_root_digest
    assert data["facts"]["metrics"] == {"accuracy": 0.95}
    assert data["facts"]["data_validation"] is None and data["change_notice"] is None
    assert "Not recorded." in (out / "disclosure.md").read_text()
    subjects = {s.name: s.sha256 for s in run.result.subjects}
    assert subjects[f"model:{manifest.model_name}"] == manifest.model_root_digest
    assert subjects["disclosure/disclosure.html"] == by_kind["disclosure-html"]
    assert subjects["system_card.yaml"] == sha256_file(tmp_path / "system_card.yaml")


def test_change_notice_for_a_new_release(tmp_path: Path, signing_policy: Callable[..., Policy],
                                         model: Path) -> None:
    (tmp_path / "metrics.json").write_text('{"accuracy": 0.90}')
    policy = signed_release(signing_policy, model, tmp_path,
                            **{"LG-DISCLOSE": {"metrics_file": "metrics.json"}})
    run_gate_by_id("LG-DISCLOSE", policy)
    (model / "config.json").write_text('{"hidden": 32}')
    (tmp_path / "metrics.json").write_text('{"accuracy": 0.96}')
    card(tmp_path, changes="Larger hidden layer; fixes confusion between two classes.")
    run_gate_by_id("LG-SIGN", policy, make_context(policy, artifacts={"model": str(model)}))
    run = run_gate_by_id("LG-DISCLOSE", policy)
    notice = json.loads((tmp_path / "disclosure" / "disclosure.json").read_text())[
        "change_notice"]
    kinds = [(c["kind"], c["name"]) for c in notice["changes"]]
    assert kinds == [("model", ""), ("metric", "accuracy")]
    assert notice["changes"][1]["old"] == "0.9" and notice["changes"][1]["new"] == "0.96"
    md = (tmp_path / "disclosure" / "disclosure.md").read_text()
    assert "## What changed in this release" in md and "Larger hidden layer" in md
    assert "may now answer differently" in md and run.result.metrics["changes"] == 2


def test_template_override_is_used_and_falls_back(tmp_path: Path,
                                                  signing_policy: Callable[..., Policy],
                                                  model: Path) -> None:
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "disclosure.md.j2").write_text("# {{ card.name }}: was Sie wissen sollten\n\n"
                                          "{{ card.purpose }}\n")
    policy = signed_release(signing_policy, model, tmp_path,
                            **{"LG-DISCLOSE": {"templates_dir": "tpl"}})
    run_gate_by_id("LG-DISCLOSE", policy)
    md = (tmp_path / "disclosure" / "disclosure.md").read_text()
    assert md.startswith("# Iris species classifier: was Sie wissen sollten\n")
    html = (tmp_path / "disclosure" / "disclosure.html").read_text()
    assert "what you should know before using it" in html, "missing files use the built-in"


def test_broken_override_template_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "disclosure.html.j2").write_text("{{ card.no_such_section.x }}")
    with pytest.raises(ConfigError, match="cannot be rendered"):
        render(_doc(), "html", tmp_path)
    with pytest.raises(ConfigError, match="template folder not found"):
        render(_doc(), "html", tmp_path / "missing")


def test_no_release_blocks_and_changes_nothing(tmp_path: Path,
                                               signing_policy: Callable[..., Policy]) -> None:
    (tmp_path / "system_card.yaml").write_text(DEMO_CARD.read_text())
    policy = signing_policy()
    run = run_gate_by_id("LG-DISCLOSE", policy, raise_on_block=False)
    assert [f.rule for f in run.result.blocking_findings()] == ["DISCLOSE-NO-RELEASE"]
    assert not (tmp_path / "disclosure").exists()


@pytest.mark.parametrize("text", ["purpose: [unclosed", "- just\n- a list\n",
                                  "purpose: {a: 1}\n"])
def test_malformed_card_is_an_error_and_ledger_unchanged(
        text: str, tmp_path: Path, signing_policy: Callable[..., Policy], model: Path) -> None:
    policy = signed_release(signing_policy, model, tmp_path)
    manifest_before = manifest_path(model).read_bytes()
    (tmp_path / "system_card.yaml").write_text(text)
    before = snapshot(policy)
    run = run_gate_by_id("LG-DISCLOSE", policy, raise_on_block=False)
    assert run.result.verdict is Verdict.ERROR
    assert "system_card.yaml" in run.result.findings[0].message
    assert snapshot(policy)[:len(before)] == before
    assert manifest_path(model).read_bytes() == manifest_before


def test_missing_card_and_bad_metrics_are_errors(tmp_path: Path,
                                                 signing_policy: Callable[..., Policy],
                                                 model: Path) -> None:
    (tmp_path / "metrics.json").write_text('{"accuracy": "high"}')
    policy = signed_release(signing_policy, model, tmp_path,
                            **{"LG-DISCLOSE": {"metrics_file": "metrics.json"}})
    run = run_gate_by_id("LG-DISCLOSE", policy, raise_on_block=False)
    assert run.result.verdict is Verdict.ERROR and "metric name -> number" in \
        run.result.findings[0].message
    (tmp_path / "system_card.yaml").unlink()
    run = run_gate_by_id("LG-DISCLOSE", policy, raise_on_block=False)
    assert run.result.verdict is Verdict.ERROR and "file not found" in \
        run.result.findings[0].message


def test_tampered_release_manifest_is_refused(tmp_path: Path,
                                              signing_policy: Callable[..., Policy],
                                              model: Path) -> None:
    policy = signed_release(signing_policy, model, tmp_path)
    path = manifest_path(model)
    env = json.loads(path.read_text())
    env["signatures"][0]["sig"] = base64.b64encode(b"\x30" * 70).decode()
    path.write_text(json.dumps(env))
    run = run_gate_by_id("LG-DISCLOSE", policy, raise_on_block=False)
    assert run.result.verdict is Verdict.ERROR
    assert "not signed by a trusted key" in run.result.findings[0].message
    assert not (tmp_path / "disclosure").exists()


def test_hostile_card_text_is_escaped(tmp_path: Path) -> None:
    evil = "<script>alert(1)</script> [click](http://evil) | *x*"
    path = card(tmp_path, purpose=evil, name="# Evil\n## name")
    doc = Disclosure.build(load_card(path), _facts(), None, generated_at=T0)
    html = render(doc, "html")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    md = render(doc, "markdown")
    assert "<script>" not in md and "\\[click\\](http://evil)" in md and "\\|" in md
    assert md.startswith("# \\# Evil ## name:")
    assert md_escape("1. not a list") == "1\\. not a list" and md_escape("1.0.0") == "1.0.0"
