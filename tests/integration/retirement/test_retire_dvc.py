"""LG-RETIRE end to end on a real DVC repository: workspace outputs, the DVC cache and a local
remote all hold copies; after execution no file with the model's or the dataset's digests
remains anywhere listed, the model cannot be restored, and LG-VERIFY refuses it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lifegate.core.hashing import sha256_file
from lifegate.evidence.keys import generate_keypair

ENV = {**os.environ, "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
       "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}
DVC = Path(sys.executable).parent / "dvc"
TRAIN = """import pathlib, hashlib
rows = pathlib.Path("data/raw.csv").read_bytes()
out = pathlib.Path("models/clf"); out.mkdir(parents=True, exist_ok=True)
(out / "weights.bin").write_bytes(hashlib.sha256(rows).digest() * 4096)
(out / "config.json").write_text('{"layers": 2}')
"""


def run(cwd: Path, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(list(cmd), cwd=cwd, env=ENV, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def lifegate(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(cwd, sys.executable, "-m", "lifegate.cli", *args, check=check)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "data").mkdir(parents=True)
    (root / "data" / "raw.csv").write_text("".join(f"{i},{i * i % 7}\n" for i in range(2000)))
    (root / "train.py").write_text(TRAIN)
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"train": {
        "cmd": f"{sys.executable} train.py", "deps": ["train.py", "data/raw.csv"],
        "outs": ["models/clf"]}}}))
    run(root, "git", "init", "-q")
    run(root, str(DVC), "init", "-q")
    run(root, str(DVC), "config", "core.analytics", "false")
    run(root, str(DVC), "add", "-q", "data/raw.csv")
    run(root, str(DVC), "repro", "-q")
    run(root, str(DVC), "remote", "add", "-d", "local", str(tmp_path / "remote"))
    run(root, str(DVC), "push", "-q")
    keys = generate_keypair(root / ".lifegate" / "keys", "sys")
    carol = generate_keypair(tmp_path / "people", "carol")
    (root / "lifegate.yaml").write_text(yaml.safe_dump({
        "system": {"name": "dvc-sys", "version": "1"},
        "roles": {"data_custodian": ["carol"], "developer": ["alice"]},
        "keys": {"signing_key": str(keys.private), "require_signatures": True,
                 "trusted": [{"name": "sys", "public_key": str(keys.public)}]},
        "gates": {"LG-INV": {"settings": {"models": ["models/clf"],
                                          "datasets": ["data/raw.csv"]}},
                  "LG-VERIFY": {"settings": {"require_release_manifest": False}},
                  "LG-APPROVE": {"settings": {"approvers": [
                      {"name": "carol", "public_key": str(carol.public)}]}}}}))
    lifegate(root, "sign", "models/clf")
    return root


def test_retire_dvc_project_leaves_no_copy(repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    digests = {sha256_file(p) for p in [repo / "data" / "raw.csv",
                                        *(repo / "models" / "clf").iterdir()]}
    everywhere = [repo, remote]

    def holders() -> set[str]:
        return {str(p) for place in everywhere for p in place.rglob("*")
                if p.is_file() and not p.is_symlink() and sha256_file(p) in digests}

    before = holders()
    assert any("/.dvc/cache/" in h for h in before) and any(str(remote) in h for h in before)
    lifegate(repo, "retire", "plan", "--model", "models/clf", "--root", "models", "--root",
             "data", "--root", ".dvc/cache", "--root", str(remote), "--dvc-repo", ".",
             "--dvc-remote", str(remote))
    plan = yaml.safe_load((repo / "retirement.yaml").read_text())
    kinds = {a["kind"] for a in plan["assets"]}
    assert {"model", "dataset", "signature", "release", "dvc-cache", "dvc-remote"} <= kinds
    lifegate(repo, "retire", "request", "retirement.yaml", "--by", "alice")
    lifegate(repo, "retire", "approve", "retirement.yaml", "--by", "carol", "--key",
             str(tmp_path / "people" / "carol.key"))
    dry = lifegate(repo, "retire", "execute", "retirement.yaml")
    assert holders() == before, dry.stdout
    done = lifegate(repo, "retire", "execute", "retirement.yaml", "--execute")
    assert "LG-RETIRE: pass" in done.stdout
    assert holders() == set()
    certs = list((repo / ".lifegate" / "retirement").rglob("disposal-certificate.json"))
    check = lifegate(repo, "retire", "verify-certificate", str(certs[0]))
    assert "absence verified" in check.stdout
    # DVC cannot bring the model back, and lifegate refuses it
    assert run(repo, str(DVC), "checkout", "-q", check=False).returncode != 0 or \
        not (repo / "models" / "clf" / "weights.bin").exists()
    refused = lifegate(repo, "verify", "models/clf", check=False)
    assert refused.returncode != 0
