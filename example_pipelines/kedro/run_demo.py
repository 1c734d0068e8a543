"""The lifegate Kedro demo: a real Kedro project governed by lifegate's hooks.

Copies this project to ``demo-output/kedro/``, generates the system's signing key, then runs
``kedro run``: the design gates before the first node, LG-DATA when a node loads the raw data,
LG-SCAN before the model is loaded, and after the run LG-SCAN, LG-SIGN, LG-SBOM and
LG-DISCLOSE for the trained model. It then shows a tampered model and a poisoned dataset
stopped before any node uses them, and writes the EN 304 223 report with
``kedro lifegate report``. Run it with ``make demo``.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
OUT = REPO / "demo-output" / "kedro"
ENTRY_POINTS = """[kedro.hooks]
lifegate = lifegate.plugins.kedro_hooks:hooks

[kedro.project_commands]
lifegate = lifegate.plugins.kedro_cli:commands
"""


def _env() -> dict[str, str]:
    """Offline switches; lifegate's entry points from a stand-in when not installed yet."""
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    dist = importlib.metadata.distribution("lifegate")
    if not any(ep.group == "kedro.hooks" for ep in dist.entry_points):
        info = OUT / ".entry-points" / f"lifegate-{dist.version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: lifegate\n"
                                       f"Version: {dist.version}\n")
        (info / "entry_points.txt").write_text(ENTRY_POINTS)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(info.parent),
                                                          env.get("PYTHONPATH")]))
    return env


def kedro(env: dict[str, str], *args: str, expect: int = 0) -> None:
    print(f"\n$ kedro {' '.join(args)}", flush=True)
    proc = subprocess.run([sys.executable, "-m", "kedro", *args], cwd=OUT, env=env,
                          capture_output=True, text=True)
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines()
             if "lifegate" in ln.lower() or "gate " in ln or ln.startswith(("  -", "LG-"))]
    print("\n".join(lines[-12:]))
    if proc.returncode != expect:
        print(proc.stdout[-4000:], proc.stderr[-4000:], sep="\n")
        sys.exit(f"demo: `kedro {' '.join(args)}` exited {proc.returncode}, expected {expect}")


def show_ledger(since: int) -> int:
    """Print the gate runs recorded after record ``since``; return the newest seq."""
    from lifegate.evidence.ledger import Ledger
    from lifegate.evidence.sql_store import SqlStore

    last = since
    for e in Ledger(SqlStore(f"sqlite:///{OUT / '.lifegate' / 'ledger.db'}")).entries():
        last = e.seq
        if e.seq <= since or e.kind != "gate-run":
            continue
        result, refs = e.predicate["result"], e.predicate["context"]["platform"]["refs"]
        about = f" {refs['dataset']}" if refs.get("dataset") else ""
        print(f"  ledger #{e.seq}: {result['gate_id']} {result['verdict']} "
              f"({refs.get('hook') or 'kedro lifegate'}{about})")
    return last


def prepare() -> None:
    from lifegate.evidence.keys import generate_keypair

    if OUT.exists():
        shutil.rmtree(OUT)
    shutil.copytree(HERE, OUT, ignore=shutil.ignore_patterns(
        "data", ".lifegate", "__pycache__", "run_demo.py"))
    tm = OUT / "threat_model.yaml"
    today = datetime.date.today().isoformat()
    tm.write_text("\n".join(f"reviewed: {today}" if line.startswith("reviewed:") else line
                            for line in tm.read_text().splitlines()) + "\n")
    generate_keypair(OUT / ".lifegate" / "keys")


def main() -> None:
    prepare()
    env = _env()
    kedro(env, "run")  # every gate passes; the model is scanned, signed and released
    seen = show_ledger(0)
    kedro(env, "lifegate", "verify")
    # A model changed after its release is stopped before the evaluate node loads it.
    model = OUT / "data" / "06_models" / "classifier.joblib"
    released = model.read_bytes()
    model.write_bytes(released + b"\0")
    kedro(env, "run", "--pipeline", "evaluation", expect=1)
    seen = show_ledger(seen)
    model.write_bytes(released)
    # Poisoned raw data is stopped when the clean node loads it, before training.
    raw = OUT / "data" / "01_raw" / "iris.csv"
    good = raw.read_text()
    lines = good.splitlines()
    lines[4] = ",".join([*lines[4].split(",")[:2], "42.0", *lines[4].split(",")[3:]])
    raw.write_text("\n".join(lines) + "\n")
    kedro(env, "run", "--pipeline", "training", expect=1)
    seen = show_ledger(seen)
    raw.write_text(good)
    kedro(env, "run", "--pipeline", "evaluation")
    show_ledger(seen)
    # Exit 1 is expected: the demo evidences some provisions, the report names the rest.
    kedro(env, "lifegate", "report", "--out", "report", expect=1)
    print(f"\nKedro demo done. Conformity report: {OUT / 'report' / 'conformity.html'}")


if __name__ == "__main__":
    main()
