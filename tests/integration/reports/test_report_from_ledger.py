"""A report golden that comes from a real ledger: real gate runs, a personally signed
attestation and a not-applicable record, evaluated by `lifegate report` as a user runs it.
Only what differs between runs (times, digests, signatures, the folder) is normalised."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

import golden_files
from lifegate.evidence.keys import generate_keypair

GOLDEN = golden_files.GOLDEN / "reports"


def lg(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFEGATE_")}
    return subprocess.run([sys.executable, "-m", "lifegate.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=env)


def _project(root: Path) -> Path:
    proj = root / "fraud-scorer"
    (proj / "models" / "clf").mkdir(parents=True)
    (proj / "models" / "clf" / "weights.json").write_text('{"w": [0.1, 0.2]}')
    assert lg(proj, "init", "--name", "fraud-scorer", "--owner", "risk-team").returncode == 0
    assert lg(proj, "keys", "generate").returncode == 0
    generate_keypair(proj / "people", "alice")
    policy = yaml.safe_load((proj / "lifegate.yaml").read_text())
    policy["roles"]["developer"] = ["alice"]
    policy["people"] = [{"name": "alice", "public_key": "people/alice.pub"}]
    policy["gates"]["LG-INV"]["settings"]["models"] = ["models/clf"]
    (proj / "lifegate.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    return proj


def _normalise(text: str, proj: Path) -> str:
    for form in (str(proj), str(proj).replace("_", "\\_")):  # plain, and escaped in Markdown
        text = text.replace(form, "<project>")
    text = re.sub(r"\b[0-9a-f]{64}\b", "<sha256>", text)
    text = re.sub(r"\b[0-9a-f]{12,16}\b", "<hash>", text)
    text = re.sub(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(\+00:00|Z| UTC)?", "<time>",
                  text)
    return re.sub(r"\b\d{4}-\d\d-\d\d\b", "<date>", text)


def test_report_of_a_real_ledger_matches_its_golden_file(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    assert lg(proj, "threat-model", "check").returncode == 1  # the starter lacks mitigations
    r = lg(proj, "inventory")
    assert r.returncode == 0, r.stdout + r.stderr
    r = lg(proj, "attest", "5.1.1-1", "--by", "alice", "--role", "developer", "--key",
           "people/alice.key", "--statement", "AI security training completed, LMS record 4711")
    assert r.returncode == 0, r.stderr
    r = lg(proj, "na", "5.1.1-2", "--reason", "no third-party staff work on the system")
    assert r.returncode == 0, r.stderr
    r = lg(proj, "report", "--format", "md,json", "--out", "rep")
    assert r.returncode == 1, r.stderr  # required provisions are failed and missing
    for name in ("conformity.md", "conformity.json"):
        golden_files.assert_golden(GOLDEN / f"from-ledger.{name}",
                                   _normalise((proj / "rep" / name).read_text(), proj))
