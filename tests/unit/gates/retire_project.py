"""A small governed project to retire: a signed model, a dataset, a config, a copy of the
dataset, an approver with the data-custodian role, a signed SQLite ledger."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from lifegate.core import Policy, load_policy, make_context, run_gate_by_id
from lifegate.core.engine import GateRun
from lifegate.core.model import Phase
from lifegate.core.policy import GateConfig
from lifegate.evidence.keys import KeyPair, Signer, generate_keypair
from lifegate.evidence.ledger import open_ledger
from lifegate.gates._retire_plan import Plan, generate_plan, write_plan

KILLED_AT = """
import os, sys
from lifegate.gates import retirement

point = sys.argv[1]
reached = retirement.step_reached

def die_at(p):
    reached(p)
    if p == point:
        os._exit(137)

retirement.step_reached = die_at
sys.argv = ["lifegate", *sys.argv[2:]]
from lifegate.cli.main import main
main()
"""


@dataclass
class Project:
    root: Path
    policy_path: Path
    keys: KeyPair
    carol: KeyPair  # data custodian
    bob: KeyPair  # system operator, not a custodian

    @property
    def policy(self) -> Policy:
        return load_policy(self.policy_path)

    @property
    def model(self) -> Path:
        return self.root / "models" / "clf"

    def plan(self, **changes: object) -> Path:
        plan = generate_plan(self.policy, model="models/clf", roots=["models", "data", "conf"])
        if changes:
            plan = Plan.model_validate({**plan.model_dump(mode="json"), **changes})
        path = self.root / "retirement.yaml"
        write_plan(plan, path)
        return path

    def approve(self, plan: Path, who: str = "carol", request_by: str = "alice",
                decision: str = "approve") -> None:
        self.cli("retire", "request", str(plan), "--by", request_by)
        key = {"carol": self.carol, "bob": self.bob}[who].private
        self.cli("retire", "approve", str(plan), "--by", who, "--key", str(key),
                 *(["--reject"] if decision == "reject" else []))

    def retire(self, plan: Path, execute: bool = True) -> GateRun:
        policy = self.policy
        policy.gates.setdefault("LG-RETIRE", GateConfig()).settings["execute"] = execute
        ctx = make_context(policy, Phase.END_OF_LIFE, artifacts={"plan": str(plan)})
        return run_gate_by_id("LG-RETIRE", policy, ctx, raise_on_block=False)

    def cli(self, *args: str, env: dict[str, str] | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([sys.executable, "-m", "lifegate.cli", *args], cwd=self.root,
                           capture_output=True, text=True, env={**os.environ, **(env or {})})
        if check and r.returncode != 0:
            raise AssertionError(f"lifegate {' '.join(args)} exited {r.returncode}:\n"
                                 f"{r.stdout}\n{r.stderr}")
        return r

    def cli_killed_at(self, point: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the CLI in a process of its own that dies (``os._exit(137)``, as SIGKILL
        leaves it: no cleanup, no exit handlers) when the run reaches ``point``. The crash
        point is injected here, from outside: lifegate's ``step_reached`` only logs."""
        return subprocess.run([sys.executable, "-c", KILLED_AT, point, *args], cwd=self.root,
                              capture_output=True, text=True)

    def hashes(self) -> list[str]:
        return [r.record_hash for r in open_ledger(self.policy).store.records()]


def make_project(root: Path) -> Project:
    keys = generate_keypair(root / ".lifegate" / "keys", "sys")
    carol = generate_keypair(root / "people", "carol")
    bob = generate_keypair(root / "people", "bob")
    (root / "models" / "clf" / "tokenizer").mkdir(parents=True)
    (root / "models" / "clf" / "weights.bin").write_bytes(os.urandom(50_000))
    (root / "models" / "clf" / "tokenizer" / "vocab.txt").write_text("a\nb\n")
    (root / "data" / "backup").mkdir(parents=True)
    (root / "data" / "train.csv").write_text("x,y\n1,2\n3,4\n")
    (root / "data" / "backup" / "train-copy.csv").write_text("x,y\n1,2\n3,4\n")
    (root / "conf").mkdir()
    (root / "conf" / "params.yaml").write_text("lr: 0.1\n")
    policy = {
        "system": {"name": "sys", "version": "1"},
        "roles": {"developer": ["alice"], "system_operator": ["bob"],
                  "data_custodian": ["carol"]},
        "keys": {"signing_key": str(keys.private), "require_signatures": True,
                 "trusted": [{"name": "sys", "public_key": str(keys.public)}]},
        "ledger": {"url": f"sqlite:///{root / '.lifegate' / 'ledger.db'}"},
        "gates": {
            "LG-INV": {"settings": {"models": ["models/clf"], "datasets": ["data/train.csv"],
                                    "configs": ["conf"]}},
            "LG-VERIFY": {"settings": {"require_release_manifest": False}},
            "LG-APPROVE": {"settings": {"approvers": [
                {"name": "carol", "public_key": str(carol.public)},
                {"name": "bob", "public_key": str(bob.public)}]}},
        },
    }
    path = root / "lifegate.yaml"
    path.write_text(yaml.safe_dump(policy))
    project = Project(root, path, keys, carol, bob)
    ctx = make_context(project.policy, Phase.DEVELOPMENT, artifacts={"model": str(project.model)})
    run_gate_by_id("LG-SIGN", project.policy, ctx)
    assert Signer.from_file(keys.private).keyid == keys.keyid
    return project
