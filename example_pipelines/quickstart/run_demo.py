"""The lifegate quickstart demo: a tiny ML pipeline governed by lifegate's CLI.

Runs on embedded defaults: copies ``project/`` to ``demo-output/`` (SQLite ledger, a freshly
generated signing key), trains a nearest-centroid classifier on the shipped CSV, then runs
the design and development gates, records human statements, checks the ledger and writes
the EN 304 223 conformity report. Run it with ``make demo``.
"""

from __future__ import annotations

import csv
import datetime
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
OUT = REPO / "demo-output"


def lifegate(*args: str, expect: int = 0) -> None:
    print(f"\n$ lifegate {' '.join(args)}", flush=True)
    rc = subprocess.run([sys.executable, "-m", "lifegate.cli", *args], cwd=OUT).returncode
    if rc != expect:
        sys.exit(f"demo: `lifegate {' '.join(args)}` exited {rc}, expected {expect}")


def train() -> None:
    """The user's pipeline step: nearest-centroid on the CSV, weights as plain JSON."""
    sums: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    with (OUT / "data" / "iris.csv").open() as f:
        for row in csv.DictReader(f):
            label = row.pop("species")
            values = [float(v) for v in row.values()]
            acc = sums.setdefault(label, [0.0] * len(values))
            sums[label] = [a + v for a, v in zip(acc, values, strict=True)]
            counts[label] = counts.get(label, 0) + 1
    centroids = {k: [round(v / counts[k], 4) for v in s] for k, s in sorted(sums.items())}
    (OUT / "metrics.json").write_text(json.dumps({"accuracy": accuracy(centroids)}) + "\n")
    model_dir = OUT / "models" / "classifier"
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "centroids.json").write_text(
        json.dumps({"model": "nearest-centroid", "centroids": centroids}, indent=2) + "\n")
    print(f"trained nearest-centroid on {sum(counts.values())} rows")


def accuracy(centroids: dict[str, list[float]]) -> float:
    """Share of training rows whose nearest centroid is their own species."""
    right = total = 0
    with (OUT / "data" / "iris.csv").open() as f:
        for row in csv.DictReader(f):
            label = row.pop("species")
            x = [float(v) for v in row.values()]
            best = min(centroids, key=lambda k: sum((a - b) ** 2 for a, b in
                                                    zip(centroids[k], x, strict=True)))
            right, total = right + (best == label), total + 1
    return round(right / total, 4)


def people() -> None:
    """The people's own keys: alice (developer, attests), bob (system operator) and carol
    (data custodian), the approvers."""
    from lifegate.evidence.keys import generate_keypair

    for name in ("alice", "bob", "carol"):
        generate_keypair(OUT / "people", name)


def data_checks() -> None:
    """LG-DATA on the training data; LG-DRIFT catches a later batch whose petals grew."""
    (OUT / "data" / "iris.suite.json").write_text(json.dumps({"name": "iris", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "species"}},
        {"type": "expect_column_values_to_be_in_set", "kwargs": {
            "column": "species", "value_set": ["setosa", "versicolor", "virginica"]}},
        {"type": "expect_column_values_to_be_between", "kwargs": {
            "column": "petal_length", "min_value": 0, "max_value": 10}}]}))
    lifegate("validate", "data/iris.csv", "--suite", "data/iris.suite.json")
    with (OUT / "data" / "iris.csv").open() as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["petal_length"] = f"{float(r['petal_length']) + 1.5:.1f}"
    later = OUT / "monitoring" / "iris_later.csv"
    later.parent.mkdir()
    with later.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    lifegate("drift", "--reference", "data/iris.csv", "--current", "monitoring/iris_later.csv",
             expect=1)


def release() -> None:
    """ML-BOM, end-user notice, and a signed human approval of exactly this release."""
    lifegate("sbom")
    lifegate("disclose", "--metrics", "metrics.json")
    lifegate("approval", "request", "models/classifier", "--by", "alice")
    lifegate("approval", "check", expect=1)  # nobody has approved yet: the gate is closed
    lifegate("approve", "models/classifier", "--by", "bob", "--key", "people/bob.key",
             "--comment", "notice, ML-BOM and evaluation reviewed")
    lifegate("approval", "check")


def retire() -> None:
    """End of life: plan every copy, a data custodian approves, dispose, certificate."""
    shutil.copy(OUT / "data" / "iris.csv", OUT / "data" / "iris-backup.csv")  # a stray copy
    # The end-user notice stays published (outside the roots, so the plan lists it as kept).
    lifegate("retire", "plan", "--model", "models/classifier", "--root", "models",
             "--root", "data", "--root", "conf")
    lifegate("retire", "request", "retirement.yaml", "--by", "alice")
    lifegate("retire", "approve", "retirement.yaml", "--by", "carol", "--key",
             "people/carol.key", "--comment", "all copies listed; nothing under legal hold")
    lifegate("retire", "execute", "retirement.yaml")  # dry run: shows, touches nothing
    lifegate("retire", "execute", "retirement.yaml", "--execute")
    certs = sorted((OUT / ".lifegate" / "retirement").rglob("disposal-certificate.json"))
    lifegate("retire", "verify-certificate", str(certs[-1].relative_to(OUT)))
    lifegate("verify", "models/classifier", expect=1)  # gone, and its release revoked
    print(f"disposal certificate: {certs[-1].with_suffix('.html')}")


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    shutil.copytree(HERE / "project", OUT)
    (OUT / "report").mkdir()
    tm = OUT / "threat_model.yaml"
    today = datetime.date.today().isoformat()
    tm.write_text("\n".join(f"reviewed: {today}" if line.startswith("reviewed:") else line
                            for line in tm.read_text().splitlines()) + "\n")
    lifegate("keys", "generate")
    people()
    lifegate("threat-model", "check")
    train()
    lifegate("inventory")
    data_checks()
    lifegate("scan", "models/classifier", "--sarif", "report/scan.sarif")
    lifegate("sign", "models/classifier")
    lifegate("verify", "models/classifier")
    # Tampering after the release is caught before deploy, and recorded as evidence.
    model = OUT / "models" / "classifier" / "centroids.json"
    released = model.read_bytes()
    model.write_bytes(released.replace(b"5.", b"6.", 1))
    lifegate("verify", "models/classifier", expect=1)
    model.write_bytes(released)
    lifegate("verify", "models/classifier")
    release()
    lifegate("attest", "5.1.1-1", "--by", "alice", "--role", "developer", "--key",
             "people/alice.key", "--statement",
             "AI security training module completed by the team on " + today)
    # A change after training is caught: the inventory reports it, and it is recorded.
    with (OUT / "conf" / "training.yaml").open("a") as f:
        f.write("# tuned after review\n")
    lifegate("inventory")
    lifegate("ledger", "checkpoint")
    lifegate("ledger", "verify")
    lifegate("ledger", "export", "ledger-export.jsonl")
    lifegate("ledger", "verify", "--file", "ledger-export.jsonl", "--public-key",
             ".lifegate/keys/lifegate.pub")
    # Exit 1 is expected: the demo evidences only a few provisions, and the report says which
    # required ones are still missing.
    lifegate("report", "--out", "report", expect=1)
    retire()
    print(f"\ndemo done. Conformity report: {OUT / 'report' / 'conformity.html'}")
    print(f"End-user disclosure: {OUT / 'disclosure' / 'disclosure.html'}")
    print(f"(also conformity.json, .md, .junit.xml and .sarif in {OUT / 'report'})")


if __name__ == "__main__":
    main()
