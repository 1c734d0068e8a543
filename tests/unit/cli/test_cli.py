"""The lifegate command line, run as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
QUICKSTART = REPO / "example_pipelines" / "quickstart" / "project"


def lg(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lifegate.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          env={**_env(), "COLUMNS": "200"})


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    for k in ("LIFEGATE_POLICY", "LIFEGATE_LEDGER_URL", "LIFEGATE_SYSTEM_NAME"):
        env.pop(k, None)
    return env


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    proj = tmp_path / "proj"
    shutil.copytree(QUICKSTART, proj)
    tm = proj / "threat_model.yaml"
    import datetime

    tm.write_text("\n".join(f"reviewed: {datetime.date.today()}" if line.startswith("reviewed:")
                            else line for line in tm.read_text().splitlines()) + "\n")
    (proj / "models" / "classifier").mkdir(parents=True, exist_ok=True)
    (proj / "models" / "classifier" / "centroids.json").write_text('{"centroids": {}}')
    assert lg(proj, "keys", "generate").returncode == 0
    from lifegate.evidence.keys import generate_keypair

    generate_keypair(proj / "people", "alice")  # her own key: she attests with it
    return proj


def test_init_keys_then_gates_run_without_hand_editing(tmp_path: Path) -> None:
    assert lg(tmp_path, "init", "--name", "demo").returncode == 0
    keys = lg(tmp_path, "keys", "generate")
    assert keys.returncode == 0, keys.stderr
    key = tmp_path / ".lifegate" / "keys" / "lifegate.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    # the starter threat model is deliberately incomplete: the gate runs and says what to fill
    r = lg(tmp_path, "threat-model", "check")
    assert r.returncode == 1 and "has no mitigation and no owner" in r.stdout
    assert lg(tmp_path, "ledger", "verify").returncode == 0
    again = lg(tmp_path, "keys", "generate")
    assert again.returncode == 2 and "never overwrites" in again.stderr
    assert lg(tmp_path, "init").returncode == 2


def test_full_flow_and_report(quickstart: Path) -> None:
    for args in (["threat-model", "check"], ["inventory"],
                 ["attest", "5.1.1-1", "--by", "alice", "--role", "developer",
                  "--key", "people/alice.key", "--statement", "training done 2026"],
                 ["na", "5.2.2-4", "--reason", "no public API in this system"]):
        r = lg(quickstart, *args)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    r = lg(quickstart, "report", "--out", "rep")
    assert r.returncode == 1 and "required provisions are" in r.stdout  # shall ones missing
    data = json.loads((quickstart / "rep" / "conformity.json").read_text())
    status = {p["id"]: p["status"] for p in data["provisions"]}
    assert status["5.1.1-1"] == "attested" and status["5.2.2-4"] == "not-applicable"
    assert status["5.2.4-3"] == "met" and status["5.1.3-1"] == "met"
    # the inventory lists no dependencies of the assets: 5.2.1-1 is left to LG-SBOM or a person
    assert status["5.2.1-1"] == "missing"
    for ext in ("html", "md", "junit.xml", "sarif"):
        assert (quickstart / "rep" / f"conformity.{ext}").stat().st_size > 0
    assert lg(quickstart, "report", "--out", "rep", "--fail-on", "none").returncode == 0


def test_catalog_json_lists_72(tmp_path: Path) -> None:
    r = lg(tmp_path, "catalog", "--format", "json")
    data = json.loads(r.stdout)
    assert data["count"] == 72 and len({p["id"] for p in data["provisions"]}) == 72
    r = lg(tmp_path, "catalog", "--format", "json", "--principle", "13")
    assert json.loads(r.stdout)["count"] == 2


def test_edited_byte_makes_verify_fail_naming_record(quickstart: Path) -> None:
    lg(quickstart, "threat-model", "check")
    lg(quickstart, "inventory")
    lg(quickstart, "attest", "5.1.1-1", "--by", "alice", "--role", "developer",
       "--key", "people/alice.key", "--statement", "training done 2026")
    db = quickstart / ".lifegate" / "ledger.db"
    with sqlite3.connect(db) as conn:
        env = conn.execute("select envelope from lifegate_records where seq=2").fetchone()[0]
        conn.execute("update lifegate_records set envelope=? where seq=2",
                     (env.replace('"sig":"M', '"sig":"N', 1) if '"sig":"M' in env
                      else env[:-2] + " " + env[-2:],))
    r = lg(quickstart, "ledger", "verify")
    assert r.returncode == 3 and "record #2" in r.stderr
    r = lg(quickstart, "report", "--fail-on", "none")
    assert r.returncode == 3, "a report is never computed from a ledger that does not verify"


def test_export_verifies_with_public_key_only(quickstart: Path, tmp_path: Path) -> None:
    lg(quickstart, "inventory")
    assert lg(quickstart, "ledger", "export", "x.jsonl").returncode == 0
    elsewhere = tmp_path / "auditor"
    elsewhere.mkdir()
    shutil.copy(quickstart / "x.jsonl", elsewhere)
    shutil.copy(quickstart / ".lifegate/keys/lifegate.pub", elsewhere)
    r = lg(elsewhere, "ledger", "verify", "--file", "x.jsonl", "--public-key", "lifegate.pub")
    assert r.returncode == 0, r.stderr
    r = lg(elsewhere, "ledger", "verify", "--file", "x.jsonl")
    assert r.returncode == 2 and "--public-key" in r.stderr


def test_malformed_policy_is_explained_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "lifegate.yaml").write_text("version: 1\nsystem:\n  name: x\n  nmae: y\n")
    r = lg(tmp_path, "inventory")
    assert r.returncode == 2
    assert "lifegate.yaml:4" in r.stderr and "system.nmae" in r.stderr
    assert "Traceback" not in r.stderr


def test_wrong_signing_key_type(quickstart: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    k = ed25519.Ed25519PrivateKey.generate()
    (quickstart / "ed.key").write_bytes(k.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (quickstart / "ed.key").chmod(0o600)
    text = (quickstart / "lifegate.yaml").read_text()
    import re

    (quickstart / "lifegate.yaml").write_text(re.sub(r"signing_key: .*", "signing_key: ed.key",
                                                     text))
    r = lg(quickstart, "inventory")
    assert r.returncode == 2 and "not an ECDSA P-256 key" in r.stderr


def test_attest_rejects_unknown_provision_and_wrong_person(quickstart: Path) -> None:
    r = lg(quickstart, "attest", "9.9.9-9", "--by", "alice", "--role", "developer",
           "--statement", "x")
    assert r.returncode == 2 and "unknown provision" in r.stderr
    r = lg(quickstart, "attest", "5.1.1-1", "--by", "mallory", "--role", "developer",
           "--statement", "x")
    assert r.returncode == 2 and "not listed as developer" in r.stderr


def test_group_readable_private_key_is_refused(quickstart: Path) -> None:
    key = quickstart / ".lifegate" / "keys" / "lifegate.key"
    key.chmod(0o640)
    r = lg(quickstart, "inventory")
    assert r.returncode == 2 and "readable by group or others" in r.stderr
    assert "BEGIN" not in r.stderr + r.stdout  # key material never printed


def test_every_command_is_found_in_its_module_and_loads_alone() -> None:
    """The table of lazily loaded commands names every command of every module under
    lifegate.cli once, in the right module; one command loads its own module, not the rest."""
    import importlib
    import pkgutil

    import lifegate.cli
    from lifegate.cli.main import COMMAND_MODULES

    found = {}
    for info in pkgutil.iter_modules(lifegate.cli.__path__):
        if info.name == "__main__":  # runs the command line when imported
            continue
        module = importlib.import_module(f"lifegate.cli.{info.name}")
        found.update({c.name: info.name for c in getattr(module, "COMMANDS", [])})
    assert found == COMMAND_MODULES
    probe = ("import sys; from lifegate.cli.main import cli; cli.get_command(None, 'sign'); "
             "print(sorted(m for m in sys.modules if m.startswith('lifegate.cli.')))")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert r.stdout.split() == ["['lifegate.cli.main',", "'lifegate.cli.model',",
                                "'lifegate.cli.options']"]
