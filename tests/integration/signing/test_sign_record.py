"""Signing is atomic with its ledger record, and verify accepts only what the ledger recorded.

LG-SIGN writes the signature and the release manifest aside, records their digests, and only
then moves them into place; LG-VERIFY refuses a signature or manifest that no record names.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from lifegate.core import GateFailed, Policy, Verdict, make_context, run_gate_by_id
from lifegate.core.engine import GateRun
from lifegate.core.errors import LifegateError
from lifegate.evidence.dsse import envelope
from lifegate.evidence.keys import KeyPair, Signer, generate_keypair
from lifegate.evidence.ledger import open_ledger
from lifegate.evidence.release import ReleaseEntry, ReleaseManifest, read_manifest, recorded

Make = Callable[..., Policy]


def run(gate: str, policy: Policy, model: Path) -> GateRun:
    return run_gate_by_id(gate, policy, make_context(policy, artifacts={"model": str(model)}))


def files(model: Path) -> dict[str, bytes]:
    """The release files beside the model, and any file left aside."""
    return {p.name: p.read_bytes() for p in model.parent.iterdir() if p.is_file()}


def records(policy: Policy) -> list[str]:
    return [e.record_hash for e in open_ledger(policy).entries()]


def db(policy: Policy) -> Path:
    return Path(policy.ledger_url().removeprefix("sqlite:///"))


def test_sign_records_the_digests_of_signature_and_manifest(model: Path,
                                                             signing_policy: Make) -> None:
    policy = signing_policy()
    r = run("LG-SIGN", policy, model).result
    release = [e for e in open_ledger(policy).entries() if e.kind == "release"]
    assert len(release) == 1
    named = release[0].subjects
    evidence = {e.kind: e.sha256 for e in r.evidence}
    assert named["model-signature:clf.sig"] == evidence["model-signature"]
    assert named["release-manifest:clf.release.json"] == evidence["release-manifest"]
    assert named["model:clf"] == r.subjects[0].sha256
    # the record comes first: the release record precedes the LG-SIGN gate run
    kinds = [e.kind for e in open_ledger(policy).entries()]
    assert kinds[:2] == ["release", "gate-run"]


def test_ledger_outage_during_sign_leaves_previous_release_untouched(
        model: Path, signing_policy: Make) -> None:
    policy = signing_policy()
    run("LG-SIGN", policy, model)
    before, ledger_before = files(model), records(policy)
    conn = sqlite3.connect(db(policy), isolation_level=None)
    conn.execute("CREATE TRIGGER outage BEFORE INSERT ON lifegate_records "
                 "BEGIN SELECT RAISE(ABORT, 'ledger outage'); END")
    try:
        with pytest.raises(LifegateError, match="ledger"):
            run("LG-SIGN", policy, model)
        assert files(model) == before  # same names (nothing left aside), same bytes
    finally:
        conn.execute("DROP TRIGGER outage")
        conn.close()
    assert records(policy) == ledger_before
    assert run("LG-VERIFY", policy, model).result.verdict is Verdict.PASS


def test_leftovers_of_a_killed_sign_are_cleared(model: Path, signing_policy: Make) -> None:
    """A run killed after writing aside leaves hidden part files; the next sign removes them
    (and verify never counts them: they are not the signature)."""
    policy = signing_policy()
    left = model.parent / ".clf.sig.0123456789ab.lifegate-part"
    left.write_text("half a signature")
    run("LG-SIGN", policy, model)
    assert not left.exists()
    assert sorted(files(model)) == ["clf.release.json", "clf.sig"]


def _hand_signed(model: Path, keys: KeyPair, sig: Path) -> None:
    """A signature made with the trusted key by the model_signing CLI, never recorded."""
    tool = Path(sys.executable).parent / "model_signing"
    subprocess.run([str(tool), "sign", "key", "--private_key", str(keys.private),
                    "--signature", str(sig), str(model)], check=True, capture_output=True)


def test_hand_made_signature_is_refused(model: Path, keys: KeyPair,
                                        signing_policy: Make) -> None:
    policy = signing_policy()
    run("LG-SIGN", policy, model)
    sig = model.parent / "clf.sig"
    _hand_signed(model, keys, sig)
    with pytest.raises(GateFailed) as exc:
        run("LG-VERIFY", policy, model)
    rules = {f.rule for f in exc.value.result.findings if f.blocking}
    assert "VERIFY-UNRECORDED-SIGNATURE" in rules
    assert "clf.sig" in str(exc.value) and "is not known to the ledger" in str(exc.value)
    assert "lifegate sign" in str(exc.value)
    # without a release manifest to contradict it, the missing record alone blocks it
    (model.parent / "clf.release.json").unlink()
    lax = signing_policy(**{"LG-VERIFY": {"require_release_manifest": False}})
    with pytest.raises(GateFailed) as exc:
        run("LG-VERIFY", lax, model)
    assert [f.rule for f in exc.value.result.findings] == ["VERIFY-UNRECORDED-SIGNATURE"]


def test_hand_made_release_manifest_is_refused(model: Path, keys: KeyPair, tmp_path: Path,
                                               signing_policy: Make) -> None:
    """Validly signed with the trusted key, but never recorded: refused."""
    policy = signing_policy()
    run("LG-SIGN", policy, model)
    path = model.parent / "clf.release.json"
    manifest = read_manifest(path, {keys.keyid: Signer.from_file(keys.private).key.public_key()})
    sbom = tmp_path / "sbom.json"
    sbom.write_text("{}")
    from lifegate.core.hashing import sha256_file

    manifest.entries["sbom"] = ReleaseEntry(sha256=sha256_file(sbom), uri=str(sbom),
                                            added_at=manifest.entries["model-signature"].added_at)
    path.write_text(json.dumps(envelope(manifest.to_statement(),
                                        Signer.from_file(keys.private))))
    with pytest.raises(GateFailed) as exc:
        run("LG-VERIFY", policy, model)
    assert {f.rule for f in exc.value.result.findings} == {"VERIFY-UNRECORDED-RELEASE"}
    assert "clf.release.json" in str(exc.value)


def test_release_add_records_the_new_manifest(model: Path, tmp_path: Path,
                                              signing_policy: Make) -> None:
    policy = signing_policy()
    run("LG-SIGN", policy, model)
    sbom = tmp_path / "sbom.json"
    sbom.write_text('{"bomFormat": "CycloneDX"}')
    r = subprocess.run([sys.executable, "-m", "lifegate.cli", "release", "add", "sbom",
                        str(sbom), "--model", str(model)], cwd=tmp_path, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert run("LG-VERIFY", policy, model).result.verdict is Verdict.PASS


def test_manifest_recorded_before_file_digests_still_verifies(model: Path, keys: KeyPair,
                                                             tmp_path: Path,
                                                             signing_policy: Make) -> None:
    """Ledgers written before this change recorded `release add` as the manifest's own
    statement, without the file's digest; such a manifest still verifies."""
    from lifegate.evidence.statement import PredicateType

    policy = signing_policy()
    run("LG-SIGN", policy, model)
    path = model.parent / "clf.release.json"
    signer = Signer.from_file(keys.private)
    manifest = read_manifest(path, {keys.keyid: signer.key.public_key()})
    manifest.entries["note"] = ReleaseEntry(
        sha256="0" * 64, uri="https://example.invalid/n",
        added_at=manifest.entries["model-signature"].added_at)
    path.write_text(json.dumps(envelope(manifest.to_statement(), signer), indent=2) + "\n")
    open_ledger(policy).append(manifest.to_statement(), PredicateType.RELEASE)  # the old way
    assert run("LG-VERIFY", policy, model).result.verdict is Verdict.PASS


def test_signature_recorded_by_an_untrusted_key_does_not_count(model: Path, keys: KeyPair,
                                                               tmp_path: Path,
                                                               signing_policy: Make) -> None:
    """A record naming the signature counts only when a key the policy trusts signed it."""
    from lifegate.evidence.statement import PredicateType

    policy = signing_policy()
    run("LG-SIGN", policy, model)
    sig = model.parent / "clf.sig"
    _hand_signed(model, keys, sig)
    digest = __import__("hashlib").sha256(sig.read_bytes()).hexdigest()
    mallory = generate_keypair(tmp_path / "mallory")
    manifest = ReleaseManifest(system="sys", version="1", model_name="clf",
                               model_root_digest="1" * 64, hash_type="sha256", signer="x")
    stmt = manifest.to_statement()
    stmt["subject"].append({"name": "model-signature:clf.sig", "digest": {"sha256": digest}})
    from lifegate.evidence.ledger import Ledger

    led = open_ledger(policy)
    forger = Signer.from_file(mallory.private)
    seq = Ledger(led.store, forger).append(stmt, PredicateType.RELEASE).seq
    ours = {keys.keyid: Signer.from_file(keys.private).key.public_key()}
    assert recorded(led, "sys", "model-signature", digest, ours) is None
    assert recorded(led, "sys", "model-signature", digest,
                    {**ours, forger.keyid: forger.key.public_key()}) == seq
    assert recorded(led, "other-system", "model-signature", digest,
                    {forger.keyid: forger.key.public_key()}) is None
    with pytest.raises(GateFailed):  # and the gate is blocked, whichever check sees it first
        run("LG-VERIFY", signing_policy(**{"LG-VERIFY": {"require_release_manifest": False}}),
            model)


def test_sign_refuses_revoked_content(model: Path, signing_policy: Make) -> None:
    from lifegate.evidence.statement import PredicateType, revocation_statement

    policy = signing_policy()
    root = run("LG-SIGN", policy, model).result.subjects[0].sha256
    open_ledger(policy).append(revocation_statement(
        system="sys", name="model", digest=root, reason="poisoned training data", by="carol"),
        PredicateType.REVOCATION)
    before = files(model)
    with pytest.raises(GateFailed) as exc:
        run("LG-SIGN", policy, model)
    assert [f.rule for f in exc.value.result.findings] == ["SIGN-REVOKED"]
    assert "poisoned training data" in str(exc.value) and "revoked" in str(exc.value)
    assert files(model) == before
    (model / "config.json").write_text('{"hidden": 32}')  # changed content is a new release
    assert run("LG-SIGN", policy, model).result.verdict is Verdict.PASS


def test_public_key_that_did_not_sign_is_an_error(model: Path, tmp_path: Path,
                                                  signing_policy: Make) -> None:
    other = generate_keypair(tmp_path / "other", "other")
    policy = signing_policy()
    run("LG-SIGN", policy, model)
    r = subprocess.run([sys.executable, "-m", "lifegate.cli", "verify", str(model),
                        "--public-key", str(other.public)], cwd=tmp_path, capture_output=True,
                       text=True)
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert f"the public key {other.public}" in out and "did not sign" in out, out
    policy = signing_policy(**{"LG-VERIFY": {"public_keys": [str(other.public)]}})
    with pytest.raises(GateFailed, match="did not sign") as exc:
        run("LG-VERIFY", policy, model)
    assert exc.value.result.verdict is Verdict.ERROR


def test_manifest_statement_reads_what_was_signed(model: Path, signing_policy: Make) -> None:
    from lifegate.evidence.release import manifest_statement

    run("LG-SIGN", signing_policy(), model)
    path = model.parent / "clf.release.json"
    env = json.loads(path.read_text())
    assert manifest_statement(path) == json.loads(base64.b64decode(env["payload"]))
    path.write_text("not json")
    assert manifest_statement(path) is None
