"""LG-APPROVE: signed approvals for the exact release; every way an approval must not count
keeps the gate closed with a precise message. Real keys, real ledger, real release manifest."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from disclosure_helpers import card, signed_release, snapshot

from lifegate.core import Policy, Verdict, run_gate_by_id
from lifegate.core.errors import ConfigError, EvidenceError, KeyMaterialError
from lifegate.core.gate import load_gate
from lifegate.core.hashing import sha256_file
from lifegate.core.model import GateResult
from lifegate.evidence.approvals import (
    ApprovalRecord,
    QuorumRules,
    approvals_for,
    build_approval,
    check_quorum,
    latest_request,
    sign_approval,
    store_approval,
)
from lifegate.evidence.keys import KeyPair, Signer, generate_keypair
from lifegate.evidence.ledger import trusted_keys
from lifegate.evidence.release import manifest_path, read_manifest
from lifegate.gates.approval import ApprovalGate

PEOPLE = ("alice", "bob", "dave", "mallory")


@pytest.fixture
def people(tmp_path: Path) -> dict[str, KeyPair]:
    return {p: generate_keypair(tmp_path / "people", p) for p in PEOPLE}


@pytest.fixture
def release(tmp_path: Path, signing_policy: Callable[..., Policy], model: Path,
            people: dict[str, KeyPair]) -> Callable[..., Policy]:
    """A signed, disclosed release; alice has requested its approval."""

    def make(**settings: object) -> Policy:
        approve = {"bind": ["model", "disclosure"],
                   "roles": {"system_operator": ["alice", "bob"], "developer": ["dave"]},
                   "approvers": [{"name": p, "public_key": str(people[p].public)}
                                 for p in ("alice", "bob", "dave")], **settings}
        policy = signed_release(signing_policy, model, tmp_path,
                                **{"LG-APPROVE": approve, "LG-DISCLOSE": {"model": str(model)},
                                   "LG-SIGN": {"model": str(model)}})
        run_gate_by_id("LG-DISCLOSE", policy)
        _gate(policy).request("alice", "release 1 ready")
        return policy

    return make


def _gate(policy: Policy) -> ApprovalGate:
    gate = load_gate("LG-APPROVE", policy)
    assert isinstance(gate, ApprovalGate)
    return gate


def _decide(policy: Policy, people: dict[str, KeyPair], who: str, decision: str = "approve",
            **kw: object) -> Path:
    _, file = _gate(policy).decide(approver=who, signer=Signer.from_file(people[who].private),
                                   decision=decision, comment=kw.pop("comment", "ok"),  # type: ignore[arg-type]
                                   **kw)  # type: ignore[arg-type]
    return file


def _check(policy: Policy) -> GateResult:
    return run_gate_by_id("LG-APPROVE", policy, raise_on_block=False).result


def _rules(result: GateResult) -> list[str]:
    return [f.rule for f in result.blocking_findings()]


def _messages(result: GateResult) -> str:
    return "\n".join(f.message for f in result.findings)


def test_valid_approval_passes_and_joins_the_release(release: Callable[..., Policy],
                                                     people: dict[str, KeyPair],
                                                     model: Path) -> None:
    policy = release()
    assert _rules(_check(policy)) == ["APPROVE-ROLE-MISSING", "APPROVE-QUORUM"]
    file = _decide(policy, people, "bob", comment="read the notice and the evaluation")
    result = _check(policy)
    assert result.verdict is Verdict.PASS, _messages(result)
    assert result.details["requested_by"] == "alice"
    assert [a["approver"] for a in result.details["approvals"]] == ["bob"]
    manifest = read_manifest(manifest_path(model), trusted_keys(policy))
    assert manifest.entries["approval-bob"].sha256 == sha256_file(file)
    env = json.loads(file.read_text())
    assert env["signatures"][0]["keyid"] == Signer.from_file(people["bob"].private).keyid


def test_missing_role_keeps_gate_closed(release: Callable[..., Policy],
                                        people: dict[str, KeyPair]) -> None:
    policy = release(required_roles=["system_operator", "developer"])
    _decide(policy, people, "bob")
    result = _check(policy)
    assert _rules(result) == ["APPROVE-ROLE-MISSING"]
    assert "no valid approval by a developer (dave)" in _messages(result)


def test_quorum_not_met(release: Callable[..., Policy], people: dict[str, KeyPair]) -> None:
    policy = release(quorum=2, required_roles=["system_operator"])
    _decide(policy, people, "bob")
    result = _check(policy)
    assert _rules(result) == ["APPROVE-QUORUM"]
    assert "quorum not met: 1 of the 2 required valid approvals" in _messages(result)
    _decide(policy, people, "dave", role="developer")
    assert _check(policy).verdict is Verdict.PASS


def test_self_approval_is_refused(release: Callable[..., Policy],
                                  people: dict[str, KeyPair]) -> None:
    policy = release()
    _decide(policy, people, "alice")
    result = _check(policy)
    assert "APPROVE-SELF" in _rules(result)
    assert "alice requested this release and may not approve it (separation of duties)" in \
        _messages(result)
    _decide(policy, people, "bob")
    assert _rules(_check(policy)) == ["APPROVE-SELF"], "a self-approval blocks even with others"


def test_expired_approval_does_not_count(release: Callable[..., Policy],
                                         people: dict[str, KeyPair]) -> None:
    policy = release()
    _, subjects, _ = _gate(policy).release()
    request = latest_request(policy, subjects)
    assert request is not None
    now = datetime.now(UTC)
    record = ApprovalRecord(system="sys", version="1", approver="bob", role="system_operator",
                            decision="approve", decided_at=now - timedelta(days=10),
                            expires=now - timedelta(days=1), requested_by="alice",
                            request_seq=request.seq)
    store_approval(policy, sign_approval(build_approval(record, subjects),
                                         Signer.from_file(people["bob"].private)))
    result = _check(policy)
    assert _rules(result) == ["APPROVE-ROLE-MISSING", "APPROVE-QUORUM"]
    assert "bob's decision (ledger record #" in _messages(result)
    assert "expired on" in _messages(result)


def test_validity_is_capped_by_the_policy(release: Callable[..., Policy],
                                         people: dict[str, KeyPair]) -> None:
    policy = release(max_validity_days=5)
    with pytest.raises(ConfigError, match="valid for 1 to 5 days"):
        _decide(policy, people, "bob", valid_days=30)
    _decide(policy, people, "bob")
    gate = _gate(policy)
    _, subjects, _ = gate.release()
    stored = approvals_for(policy, subjects)
    later = datetime.now(UTC) + timedelta(days=6)
    res = check_quorum(stored, subjects, "alice", gate.approvers(), gate.rules(), now=later)
    assert not res.passed and any(f.rule == "APPROVE-EXPIRED" for f in res.findings)
    rules = QuorumRules(("system_operator",), 1, True, timedelta(days=5))
    assert check_quorum(stored, subjects, "alice", gate.approvers(), rules).passed


def test_approval_for_other_digests_is_void(release: Callable[..., Policy], tmp_path: Path,
                                            people: dict[str, KeyPair]) -> None:
    policy = release()
    _decide(policy, people, "bob")
    assert _check(policy).verdict is Verdict.PASS
    card(tmp_path, support_contact="help-desk@lab.example")   # the notice changes
    run_gate_by_id("LG-DISCLOSE", policy)
    result = _check(policy)
    assert "APPROVE-NO-REQUEST" in _rules(result)
    _gate(policy).request("alice")
    result = _check(policy)
    assert _rules(result) == ["APPROVE-ROLE-MISSING", "APPROVE-QUORUM"]
    message = _messages(result)
    assert "approves other digests (disclosure " in message and "not the current release" in \
        message


def test_forged_signature_keeps_gate_closed(release: Callable[..., Policy],
                                            people: dict[str, KeyPair]) -> None:
    policy = release()
    _, subjects, _ = _gate(policy).release()
    request = latest_request(policy, subjects)
    assert request is not None
    now = datetime.now(UTC)
    record = ApprovalRecord(system="sys", version="1", approver="bob", role="system_operator",
                            decision="approve", decided_at=now, expires=now + timedelta(days=1),
                            requested_by="alice", request_seq=request.seq)
    forged = sign_approval(build_approval(record, subjects),
                           Signer.from_file(people["mallory"].private))
    forged["signatures"][0]["keyid"] = Signer.from_file(people["bob"].private).keyid
    store_approval(policy, forged)
    _decide(policy, people, "dave", role="developer")   # a genuine approval does not help
    result = _check(policy)
    assert "APPROVE-BAD-SIGNATURE" in _rules(result)
    assert "is not signed by bob's key" in _messages(result) and "forged or altered" in \
        _messages(result)


def test_rejection_blocks_until_the_same_person_approves(release: Callable[..., Policy],
                                                         people: dict[str, KeyPair]) -> None:
    policy = release()
    _decide(policy, people, "dave", role="developer")
    _decide(policy, people, "bob", "reject", comment="the notice omits the retention period")
    result = _check(policy)
    assert "APPROVE-REJECTED" in _rules(result)
    assert "rejects this release: the notice omits the retention period" in _messages(result)
    _decide(policy, people, "bob")
    assert _check(policy).verdict is Verdict.PASS


def test_front_end_checks_person_key_role_and_request(release: Callable[..., Policy],
                                                      people: dict[str, KeyPair]) -> None:
    policy = release()
    before = snapshot(policy)
    with pytest.raises(ConfigError, match="mallory is not a configured approver"):
        _decide(policy, people, "mallory")
    with pytest.raises(KeyMaterialError, match="not bob's approver key"):
        _gate(policy).decide(approver="bob", signer=Signer.from_file(people["dave"].private),
                             decision="approve", comment="")
    with pytest.raises(ConfigError, match="dave holds developer"):
        _decide(policy, people, "dave", role="system_operator")
    assert snapshot(policy) == before, "refused decisions record nothing"
    gate = _gate(policy)
    _, subjects, _ = gate.release()
    from lifegate.evidence.approvals import record_decision

    with pytest.raises(EvidenceError, match="no approval request"):
        record_decision(policy, signer=Signer.from_file(people["bob"].private), approver="bob",
                        role="system_operator", decision="approve",
                        subjects={**subjects, "model": "ee" * 32}, comment="",
                        valid_for=timedelta(days=1))


def test_incomplete_or_tampered_release_blocks(release: Callable[..., Policy], model: Path,
                                               people: dict[str, KeyPair]) -> None:
    policy = release()
    policy.gates["LG-APPROVE"].settings["bind"] = ["model", "sbom", "disclosure"]
    result = _check(policy)
    assert _rules(result) == ["APPROVE-SUBJECT-MISSING"]
    assert "the release has no sbom entry" in _messages(result)
    path = manifest_path(model)
    path.write_text(path.read_text().replace('"payload": "', '"payload": "e', 1))
    before = snapshot(policy)
    result = _check(policy)
    assert result.verdict is Verdict.ERROR
    assert snapshot(policy)[:len(before)] == before


def test_cli_request_approve_check(release: Callable[..., Policy], tmp_path: Path,
                                   people: dict[str, KeyPair], model: Path) -> None:
    release()

    def lg(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lifegate.cli", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120,
                              env={"PATH": "/usr/bin:/bin", "COLUMNS": "200",
                                   "LIFEGATE_ACTOR": "alice"})

    assert lg("approval", "check").returncode == 1
    r = lg("approval", "request", str(model))
    assert r.returncode == 0 and "approval requested by alice" in r.stdout, r.stderr
    r = lg("reject", "--by", "bob", "--key", str(people["bob"].private), "--comment", "no")
    assert r.returncode == 0, r.stderr
    r = lg("approval", "check")
    assert r.returncode == 1 and "rejects this release: no" in r.stdout
    r = lg("approve", "--by", "bob", "--key", str(people["dave"].private))
    assert r.returncode == 2 and "not bob's approver key" in r.stderr
    r = lg("approve", "--by", "bob", "--key", str(people["bob"].private), "--comment", "ok")
    assert r.returncode == 0, r.stderr
    r = lg("approval", "check", str(model))
    assert r.returncode == 0 and "LG-APPROVE: pass" in r.stdout, r.stdout + r.stderr
    assert lg("disclose", "--out", "public").returncode == 0
    assert (tmp_path / "public" / "disclosure.html").is_file()
    assert lg("approval", "check").returncode == 1, "a new notice voids the approval"


def test_approvers_come_from_the_policy_people(release: Callable[..., Policy],
                                               people: dict[str, KeyPair]) -> None:
    """A person the policy lists under people (with their key) may approve, as one listed in
    the gate's approvers setting may."""
    from lifegate.core.policy import Person

    policy = release(approvers=[])
    with pytest.raises(ConfigError, match="bob is not a configured approver"):
        _decide(policy, people, "bob")
    policy.people = [Person(name="bob", public_key=str(people["bob"].public))]
    with pytest.raises(KeyMaterialError, match="not bob's approver key"):
        _gate(policy).decide(approver="bob", signer=Signer.from_file(people["dave"].private),
                             decision="approve", comment="ok")
    _decide(policy, people, "bob")
    result = _check(policy)
    assert result.verdict is Verdict.PASS, _messages(result)
    assert result.provision_checks == {"5.1.4-3": "pass"}
