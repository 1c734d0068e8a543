"""LG-DISCLOSE: the end-user disclosure and operator guidance, from the system card people
write and the facts in the ledger, bound to the exact release it describes.

The gate fails, naming every missing or empty required section with its provision (if it
answers one), and then writes nothing. Otherwise it writes ``disclosure.html`` (one
self-contained accessible page), ``disclosure.md`` and ``disclosure.json``, and adds the page
and the JSON to the model's signed release manifest, so the notice cannot be mistaken for one
about another model version.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import ClassVar

from lifegate.core.errors import ConfigError, EvidenceError
from lifegate.core.gate import GateSettings
from lifegate.core.hashing import sha256_file, subject_digest, subject_name
from lifegate.core.model import (
    Evidence,
    Finding,
    GateResult,
    Phase,
    RunContext,
    Severity,
    Subject,
)
from lifegate.core.policy import Policy
from lifegate.evidence.keys import Signer
from lifegate.evidence.ledger import latest_result, open_ledger, trusted_keys
from lifegate.evidence.release import ReleaseManifest, add_entry, manifest_path, read_manifest
from lifegate.gates._disclosure_card import SystemCard, load_card, missing_sections
from lifegate.gates._disclosure_changes import SUMMARY_KEY, change_notice
from lifegate.gates._disclosure_facts import collect_facts, summary
from lifegate.gates._disclosure_render import OUTPUTS, Disclosure, render

log = logging.getLogger(__name__)

# Release manifest entry kinds this gate adds (LG-APPROVE binds "disclosure").
RELEASE_KINDS = {"html": "disclosure", "json": "disclosure-data"}


def release_model(policy: Policy, context: RunContext, configured: str | None) -> Path | None:
    """The run's ``model`` artifact, the setting, else the model of the latest LG-SIGN run."""
    value = context.artifacts.get("model") or configured
    if value:
        return policy.resolve(value)
    signed = latest_result(policy, "LG-SIGN")
    model = signed.predicate["result"].get("details", {}).get("model") if signed else None
    return Path(model) if model else None


class DiscloseSettings(GateSettings):
    system_card: str = "system_card.yaml"
    out_dir: str = "disclosure"
    templates_dir: str | None = None
    model: str | None = None
    require_release: bool = True
    metrics_file: str | None = None
    evaluation_gate: str | None = "LG-EVAL"


# What the published notice evidences: where user data goes and who sees it (5.3.1-1), correct
# use with limits and failure modes (5.3.1-2.1), prohibited uses (5.1.4-5). Not 5.3.1-2 (no
# guide to operating, integrating or configuring the system), 5.1.4-1 (a section on human
# review is not an oversight capability), nor what a card can only promise: 5.3.1-2.2 and
# 5.2.3-4 (updates announced), 5.3.1-3 (incident support agreed), 5.2.2-4 (a disclosure
# policy operated); nor 5.2.3-2.2 and 5.2.5-3, which no section checks.
PROVISIONS: tuple[str, ...] = ("5.3.1-1", "5.3.1-2.1", "5.1.4-5")


def _checked() -> dict[str, tuple[str, ...]]:
    """A failed run writes no notice, so it tells End-users nothing: any blocking finding
    fails every provision, whichever section it names."""
    return {p: tuple(q for q in PROVISIONS if q != p) for p in PROVISIONS}


class DisclosureGate:
    id: ClassVar[str] = "LG-DISCLOSE"
    title: ClassVar[str] = "End-user disclosure and operator guidance"
    phase: ClassVar[Phase] = Phase.DEPLOYMENT
    provisions: ClassVar[tuple[str, ...]] = PROVISIONS
    Settings: ClassVar[type[DiscloseSettings]] = DiscloseSettings

    def __init__(self, settings: DiscloseSettings, policy: Policy) -> None:
        self.settings = settings
        self.policy = policy

    def _path(self, context: RunContext, artifact: str, configured: str | None) -> Path | None:
        value = context.artifacts.get(artifact) or configured
        return self.policy.resolve(value) if value else None

    def check(self, context: RunContext) -> GateResult:
        card_path = self._path(context, "system_card", self.settings.system_card)
        assert card_path is not None
        card = load_card(card_path)
        subjects = [Subject(name=subject_name(card_path, self.policy.base_dir),
                            sha256=subject_digest(card_path))]
        findings = [Finding(rule="DISCLOSE-MISSING", provision=s.provision,
                            location=f"{card_path}: {s.key}",
                            message=f"required section '{s.key}' ({s.title}) is missing or "
                            + (f"empty; it answers provision {s.provision}" if s.provision
                               else "empty; the notice needs it"))
                    for s in missing_sections(card)]
        findings += [Finding(rule="DISCLOSE-UNKNOWN-KEY", severity=Severity.LOW, blocking=False,
                             location=f"{card_path}: {k}", message=f"'{k}' is not a "
                             "disclosure section and is left out of the notice (spelling?)")
                     for k in card.unknown_keys()]
        manifest, problems = self._release(context)
        findings += problems
        if any(f.blocking for f in findings):
            return GateResult.from_findings(self.id, findings, subjects=subjects,
                                            checked=_checked())
        return self._write(context, card, manifest, findings, subjects)

    def _release(self, context: RunContext
                 ) -> tuple[tuple[Path, ReleaseManifest, Signer] | None, list[Finding]]:
        """The verified release manifest and the key to re-sign it, or findings why not."""
        model = release_model(self.policy, context, self.settings.model)
        path = manifest_path(model) if model is not None else None
        if path is None or not path.exists():
            where = str(path) if path else "no model given and no LG-SIGN run recorded"
            if not self.settings.require_release:
                return None, []
            return None, [Finding(rule="DISCLOSE-NO-RELEASE", location=where,
                                  message="no signed release manifest to bind the notice to; "
                                  "sign the model first (`lifegate sign`)")]
        if not self.policy.keys.signing_key:
            return None, [Finding(rule="DISCLOSE-CANNOT-BIND", location=self.policy.source,
                                  message="adding the notice to the release re-signs it, and "
                                  "the policy names no signing key (`lifegate keys generate`)")]
        signer = Signer.from_file(self.policy.resolve(self.policy.keys.signing_key))
        trusted = {**trusted_keys(self.policy), signer.keyid: signer.key.public_key()}
        return (path, read_manifest(path, trusted), signer), []

    def _write(self, context: RunContext, card: SystemCard,
               release: tuple[Path, ReleaseManifest, Signer] | None, findings: list[Finding],
               subjects: list[Subject]) -> GateResult:
        metrics = self._path(context, "metrics", self.settings.metrics_file)
        facts = collect_facts(self.policy, release[1] if release else None,
                              metrics_file=metrics,
                              evaluation_gate=self.settings.evaluation_gate)
        current = summary(facts)
        notice = change_notice(self.policy, current, card.changes)
        doc = Disclosure.build(card, facts, notice)
        evidence, paths = self._outputs(context, doc)
        if release is not None:
            evidence.append(self._bind(release, paths))
            subjects.insert(0, Subject(name=f"model:{release[1].model_name}",
                                       sha256=release[1].model_root_digest))
        subjects.append(Subject(name=subject_name(paths["html"], self.policy.base_dir),
                                sha256=subject_digest(paths["html"])))
        return GateResult.from_findings(
            self.id, findings, evidence=evidence, subjects=subjects, checked=_checked(),
            metrics={"changes": float(len(notice.changes) if notice else 0),
                     "metrics_reported": float(len(facts.metrics))},
            details={SUMMARY_KEY: current, "out_dir": str(paths["html"].parent),
                     "change_notice": notice is not None})

    def _outputs(self, context: RunContext, doc: Disclosure
                 ) -> tuple[list[Evidence], dict[str, Path]]:
        out = self._path(context, "out_dir", self.settings.out_dir)
        templates = self._path(context, "templates_dir", self.settings.templates_dir)
        assert out is not None
        texts = {kind: render(doc, kind, templates) for kind in OUTPUTS}  # all, then write
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EvidenceError(f"cannot create {out}: {exc.strerror}", where=str(out),
                                fix="choose another out_dir") from None
        evidence, paths = [], {}
        for kind, text in texts.items():
            name, _, media = OUTPUTS[kind]
            paths[kind] = _write_atomic(out / name, text)
            evidence.append(Evidence(kind=f"disclosure-{kind}", uri=str(paths[kind]),
                                     media_type=media, sha256=sha256_file(paths[kind])))
        return evidence, paths

    def _bind(self, release: tuple[Path, ReleaseManifest, Signer],
              paths: dict[str, Path]) -> Evidence:
        path, _, signer = release
        ledger = open_ledger(self.policy)
        trusted = trusted_keys(self.policy)
        media = {"html": "text/html", "json": "application/json"}
        for kind, entry in RELEASE_KINDS.items():
            add_entry(path, entry, paths[kind], signer, trusted, ledger, media_type=media[kind])
        log.info("LG-DISCLOSE: notice bound to release %s", path)
        return Evidence(kind="release-manifest", uri=str(path), sha256=sha256_file(path),
                        media_type="application/vnd.in-toto+json")


def _write_atomic(path: Path, text: str) -> Path:
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_text(text, encoding="utf-8", newline="\n")
        tmp.replace(path)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}", where=str(path),
                          fix="check the folder's permissions, or choose another out_dir"
                          ) from None
    return path
