"""LG-RETIRE: approved plans only, nothing outside the roots, disposal proven, crash-safe."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from retire_project import Project, make_project

from lifegate.core import GateFailed, Verdict, make_context, run_gate_by_id
from lifegate.core.errors import ConfigError, SignatureError
from lifegate.core.hashing import sha256_file
from lifegate.core.model import Phase
from lifegate.evidence.ledger import open_ledger, trusted_keys
from lifegate.gates._retire_cert import verify_certificate
from lifegate.gates._retire_plan import load_plan


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "proj")


def _snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): sha256_file(p)
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()
            and ".lifegate" not in p.parts}


def _rules(run: object) -> set[str]:
    return {f.rule for f in run.result.findings}  # type: ignore[attr-defined]


def test_plan_lists_every_copy_with_digests(project: Project) -> None:
    plan = load_plan(project.plan())
    by_path = {a.path: a for a in plan.assets}
    assert set(by_path) >= {"models/clf", "models/clf.sig", "models/clf.release.json",
                            "data/train.csv", "conf", "data/backup/train-copy.csv"}
    assert by_path["data/backup/train-copy.csv"].files == {
        ".": sha256_file(project.root / "data" / "train.csv")}
    assert set(by_path["models/clf"].files) == {"weights.bin", "tokenizer/vocab.txt"}
    assert all(a.action == "dispose" for a in plan.assets)


def test_dry_run_by_default_touches_nothing(project: Project) -> None:
    plan = project.plan()
    project.approve(plan)
    before = _snapshot(project.root)
    r = project.cli("retire", "execute", str(plan))
    assert "LG-RETIRE: pass" in r.stdout
    assert _snapshot(project.root) == before
    run = project.retire(plan, execute=False)
    assert run.result.details["dry_run"] is True
    assert {a["action"] for a in run.result.details["actions"]} == {"dispose"}
    # a dry run disposes of nothing: it claims no provision (it made 5.5.1-1 and 5.5.1-2 met)
    assert run.result.provisions == []


def test_execute_disposes_revokes_and_certifies(project: Project, tmp_path: Path) -> None:
    kept = tmp_path / "elsewhere"  # a copy outside the roots, e.g. on an old deploy host
    shutil.copytree(project.model, kept / "clf")
    shutil.copy(project.root / "models" / "clf.sig", kept / "clf.sig")
    plan = project.plan()
    project.approve(plan)
    run = project.retire(plan)
    assert run.result.verdict is Verdict.PASS, run.result.findings
    assert run.result.provisions == ["5.5.1-2"]  # nothing handed over: not 5.5.1-1
    for gone in ("models/clf", "models/clf.sig", "data/train.csv", "conf",
                 "data/backup/train-copy.csv"):
        assert not os.path.lexists(project.root / gone), gone
    facts = verify_certificate(Path(run.result.details["certificate"]),
                               trusted_keys(project.policy))
    assert facts["absence"]["verified"] and facts["absence"]["remaining"] == []
    assert facts["approvals"][0]["approver"] == "carol"
    assert all(a["finished_at"] for a in facts["assets"])
    assert facts["revocation"]["revoked"]
    assert "may survive" in facts["limits"]
    md = Path(run.result.details["certificate"]).with_suffix(".md").read_text()
    assert "Absence verified: **yes**" in md
    # the surviving copy is refused: its release was revoked
    ctx = make_context(project.policy, Phase.DEPLOYMENT, artifacts={"model": str(kept / "clf")})
    with pytest.raises(GateFailed, match="revoked"):
        run_gate_by_id("LG-VERIFY", project.policy, ctx)


def test_transfer_verifies_destination_then_disposes_source(project: Project,
                                                            tmp_path: Path) -> None:
    plan = load_plan(project.plan())
    dest = tmp_path / "archive" / "train.csv"
    data = plan.model_dump(mode="json")
    for a in data["assets"]:
        if a["path"] == "data/train.csv":
            a.update(action="transfer", destination=str(dest))
        if a["path"] == "conf":
            a.update(action="retain", retain={"reason": "legal hold", "owner": "carol",
                                              "review_date": "2027-06-30"})
    path = project.root / "retirement.yaml"
    path.write_text(yaml.safe_dump(data))
    want = sha256_file(project.root / "data" / "train.csv")
    project.approve(path)
    run = project.retire(path)
    assert run.result.verdict is Verdict.PASS, run.result.findings
    assert run.result.provisions == ["5.5.1-1", "5.5.1-2"]
    assert sha256_file(dest) == want and not (project.root / "data" / "train.csv").exists()
    assert (project.root / "conf" / "params.yaml").exists()
    transfers = list(open_ledger(project.policy).entries())
    assert any(e.kind == "transfer" and e.predicate["to"] == str(dest) for e in transfers)


# -- refusals: nothing is touched, nothing recorded is lost ------------------------------------

def _refused(project: Project, plan: Path, *rules: str) -> None:
    before, ledger_before = _snapshot(project.root), project.hashes()
    run = project.retire(plan)
    assert run.result.verdict is Verdict.FAIL
    assert set(rules) <= _rules(run), run.result.findings
    assert _snapshot(project.root) == before
    assert project.hashes()[:len(ledger_before)] == ledger_before
    assert open_ledger(project.policy).verify().records > 0  # raises when broken


def test_no_approval(project: Project) -> None:
    _refused(project, project.plan(), "RETIRE-APPROVAL-NO-REQUEST",
             "RETIRE-APPROVAL-ROLE-MISSING")


def test_approval_by_someone_who_is_not_a_custodian(project: Project) -> None:
    plan = project.plan()
    r = project.cli("retire", "request", str(plan), "--by", "alice")
    r = project.cli("retire", "approve", str(plan), "--by", "bob", "--key",
                    str(project.bob.private), check=False)
    assert r.returncode == 2 and "not a data custodian" in r.stderr
    _refused(project, plan, "RETIRE-APPROVAL-ROLE-MISSING")


def test_rejected_plan(project: Project) -> None:
    plan = project.plan()
    project.approve(plan, decision="reject")
    _refused(project, plan, "RETIRE-APPROVAL-REJECTED")


def test_approval_of_another_plan_does_not_count(project: Project) -> None:
    plan = project.plan()
    project.approve(plan)
    data = yaml.safe_load(plan.read_text())
    data["assets"] = [a for a in data["assets"] if a["path"] != "conf"]  # edited after approval
    plan.write_text(yaml.safe_dump(data))
    _refused(project, plan, "RETIRE-APPROVAL-ROLE-MISSING")


def test_wrong_key_for_approver(project: Project) -> None:
    plan = project.plan()
    project.cli("retire", "request", str(plan), "--by", "alice")
    r = project.cli("retire", "approve", str(plan), "--by", "carol", "--key",
                    str(project.bob.private), check=False)
    assert r.returncode != 0 and "not carol's approver key" in r.stderr


def test_path_outside_roots(project: Project, tmp_path: Path) -> None:
    outside = tmp_path / "precious.txt"
    outside.write_text("do not touch")
    plan = project.plan()
    data = yaml.safe_load(plan.read_text())
    data["assets"].append({"id": "x", "path": str(outside), "action": "dispose",
                           "files": {".": sha256_file(outside)}})
    plan.write_text(yaml.safe_dump(data))
    project.approve(plan)
    _refused(project, plan, "RETIRE-OUTSIDE-ROOTS")
    assert outside.read_text() == "do not touch"


def test_dot_dot_traversal_is_a_config_error(project: Project) -> None:
    plan = project.plan()
    data = yaml.safe_load(plan.read_text())
    data["assets"][0]["path"] = "models/../../etc"
    plan.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"contains '\.\.'"):
        load_plan(plan)
    ledger_before = project.hashes()
    run = project.retire(plan)
    assert run.result.verdict is Verdict.ERROR
    assert project.hashes()[:len(ledger_before)] == ledger_before


def test_symlink_pointing_outside(project: Project, tmp_path: Path) -> None:
    target = tmp_path / "secret"
    target.write_text("outside")
    os.symlink(target, project.model / "link")
    plan = project.plan()
    project.approve(plan)
    _refused(project, plan, "RETIRE-SYMLINK")
    assert target.read_text() == "outside"


def test_symlinked_asset_folder_outside_roots(project: Project, tmp_path: Path) -> None:
    outside = tmp_path / "outside-data"
    outside.mkdir()
    (outside / "rows.csv").write_text("1\n")
    os.symlink(outside, project.root / "data" / "linked")
    plan = project.plan()
    data = yaml.safe_load(plan.read_text())
    data["assets"].append({"id": "linked", "path": "data/linked/rows.csv", "action": "dispose",
                           "files": {".": sha256_file(outside / "rows.csv")}})
    plan.write_text(yaml.safe_dump(data))
    project.approve(plan)
    _refused(project, plan, "RETIRE-OUTSIDE-ROOTS")
    assert (outside / "rows.csv").exists()


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): sha256_file(p)
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("roots", [["models", "data", "conf"], ["models/clf", "data", "conf"]],
                         ids=["root-is-a-link", "root-below-a-link"])
def test_symlinked_root_is_refused_and_nothing_outside_is_deleted(
        project: Project, tmp_path: Path, roots: list[str]) -> None:
    """`models -> /elsewhere/models`: the link target is outside the project; execute must
    not delete it, whether the root is the link itself or lies below it."""
    plan = project.plan(roots=roots)
    project.approve(plan)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(project.root / "models", elsewhere / "models")
    os.symlink(elsewhere / "models", project.root / "models")
    outside = _tree(elsewhere)
    assert "models/clf/weights.bin" in outside
    before, ledger_before = _snapshot(project.root), project.hashes()
    r = project.cli("retire", "execute", str(plan), "--execute", check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "RETIRE-ROOT-SYMLINK" in r.stdout or "is a symlink" in r.stdout, r.stdout
    assert f"{project.root / 'models'} is a symlink" in " ".join(r.stdout.split())
    assert _tree(elsewhere) == outside
    assert _snapshot(project.root) == before
    assert project.hashes()[:len(ledger_before)] == ledger_before
    assert not [e for e in open_ledger(project.policy).entries() if e.kind == "retirement"]
    # planning through the link is refused too
    r = project.cli("retire", "plan", "--model", "models/clf", "--root", roots[0],
                    "--out", "again.yaml", check=False)
    assert r.returncode != 0 and "is a symlink" in r.stderr, r.stdout + r.stderr
    assert not (project.root / "again.yaml").exists()


def test_symlinked_folder_on_the_way_to_an_asset_is_refused(project: Project) -> None:
    """data/conf-link -> ../conf lies inside the roots, but an asset reached through it
    would dispose of conf/params.yaml, which the plan retains."""
    os.symlink(project.root / "conf", project.root / "data" / "conf-link")
    plan = load_plan(project.plan())
    data = plan.model_dump(mode="json")
    for a in data["assets"]:
        if a["path"] == "conf":
            a.update(action="retain", retain={"reason": "legal hold", "owner": "carol",
                                              "review_date": "2027-06-30"})
    data["assets"].append({"id": "via-link", "path": "data/conf-link/params.yaml",
                           "action": "dispose", "kind": "config",
                           "files": {".": sha256_file(project.root / "conf" / "params.yaml")}})
    path = project.root / "retirement.yaml"
    path.write_text(yaml.safe_dump(data))
    project.approve(path)
    _refused(project, path, "RETIRE-SYMLINK")
    assert (project.root / "conf" / "params.yaml").read_text() == "lr: 0.1\n"


def test_dispose_never_follows_a_link_put_in_after_the_checks(tmp_path: Path) -> None:
    """The disposal itself opens every folder from the root down without following links,
    so a link swapped in after the preflight makes it fail rather than delete the target."""
    from lifegate.core.errors import EvidenceError
    from lifegate.gates._retire_ops import dispose

    root, target = tmp_path / "root", tmp_path / "precious"
    (root / "a").mkdir(parents=True)
    target.mkdir()
    (target / "f.bin").write_bytes(b"keep")
    (root / "a" / "own.bin").write_bytes(b"mine")
    assert dispose(root / "a" / "own.bin", root) == 1
    os.symlink(target, root / "a" / "b")
    with pytest.raises(EvidenceError, match="not a real folder"):
        dispose(root / "a" / "b" / "f.bin", root)
    with pytest.raises(EvidenceError, match="link or special file"):
        dispose(root / "a" / "b", root)
    link_root = tmp_path / "link-root"
    os.symlink(target, link_root)
    with pytest.raises(EvidenceError, match="without following a link"):
        dispose(link_root / "f.bin", link_root)
    assert (target / "f.bin").read_bytes() == b"keep"
    with pytest.raises(EvidenceError, match="it is a symlink"):  # a link inside the tree
        dispose(root / "a", root)
    assert (target / "f.bin").read_bytes() == b"keep"
    os.unlink(root / "a" / "b")
    (root / "a" / "c").mkdir()
    (root / "a" / "c" / "x.bin").write_bytes(b"1")
    assert dispose(root / "a", root) == 1
    assert not (root / "a").exists() and (target / "f.bin").exists()


def test_file_not_in_plan(project: Project) -> None:
    plan = project.plan()
    project.approve(plan)
    (project.model / "added-later.bin").write_bytes(b"new")
    _refused(project, plan, "RETIRE-NOT-IN-PLAN")


def test_changed_file(project: Project) -> None:
    plan = project.plan()
    project.approve(plan)
    (project.root / "conf" / "params.yaml").write_text("lr: 0.2\n")
    _refused(project, plan, "RETIRE-CHANGED")


def test_future_action_is_explained(project: Project) -> None:
    plan = project.plan()
    data = yaml.safe_load(plan.read_text())
    data["assets"][0]["action"] = "crypto-shred"
    plan.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="planned but not supported"):
        load_plan(plan)


def test_tampered_certificate_is_refused(project: Project) -> None:
    plan = project.plan()
    project.approve(plan)
    cert = Path(project.retire(plan).result.details["certificate"])
    env = json.loads(cert.read_text())
    import base64

    body = json.loads(base64.b64decode(env["payload"]))
    body["predicate"]["absence"]["remaining"] = []
    body["predicate"]["actor"] = "mallory"
    env["payload"] = base64.b64encode(json.dumps(body).encode()).decode()
    cert.write_text(json.dumps(env))
    with pytest.raises(SignatureError, match="not signed by a trusted key"):
        verify_certificate(cert, trusted_keys(project.policy))
    r = project.cli("retire", "verify-certificate", str(cert), check=False)
    assert r.returncode == 3


# -- crash safety ----------------------------------------------------------------------------

@pytest.mark.parametrize("point", [
    "preflight:done", "revoke:start", "revoke:acted", "asset:model-1:start",
    "asset:model-1:acted", "asset:dataset-2:done", "verify-absence:start",
    "verify-absence:done"])
def test_killed_and_resumed_finishes_with_complete_certificate(project: Project,
                                                               point: str) -> None:
    plan = project.plan()
    project.approve(plan)
    before = project.hashes()
    crashed = project.cli_killed_at(point, "retire", "execute", str(plan), "--execute")
    assert crashed.returncode == 137, crashed.stdout + crashed.stderr
    journal = [f"{e.predicate['step']}:{e.predicate['phase']}"
               for e in open_ledger(project.policy).entries() if e.kind == "retirement"]
    step, _, phase = point.rpartition(":")
    assert journal[-1] == (f"{step}:start" if phase == "acted" else point)  # died right there
    assert project.hashes()[:len(before)] == before
    if step == "asset:model-1":  # killed after deleting the model, or just before
        assert project.model.exists() is (phase == "start")
    r = project.cli("retire", "execute", str(plan), "--execute")
    assert "LG-RETIRE: pass" in r.stdout
    run = project.retire(plan)  # a third run: everything is done, the certificate reissued
    assert run.result.details["resumed"] is True
    facts = verify_certificate(Path(run.result.details["certificate"]),
                               trusted_keys(project.policy))
    plan_ids = {a.id for a in load_plan(plan).assets}
    assert {a["id"] for a in facts["assets"]} == plan_ids
    assert all(a["finished_at"] and a["result"]["absent"] for a in facts["assets"])
    assert facts["absence"]["verified"]
    assert not (project.model).exists()
    revocations = [e for e in open_ledger(project.policy).entries() if e.kind == "revocation"]
    assert revocations  # once, or twice when killed between revoking and journaling it
    assert open_ledger(project.policy).verify().records > 0  # raises when broken
