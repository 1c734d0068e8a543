"""Airflow DAG parse time with and without lifegate, and which heavy modules a parse imports.

Each figure is the DagBag parse of one DAG file in a fresh interpreter that has already
imported Airflow (``airflow.sdk`` and ``DagBag``), as Airflow's DAG processor does: so the
parse pays for importing lifegate's operators, once, like every parse in a new process does.

- ``train_and_release``: example_pipelines/airflow/dags/train_and_release.py (7 lifegate
  operators) against the same DAG with no lifegate import: each gate an EmptyOperator, the
  release approval Airflow's own ApprovalOperator (the human step the DAG has either way);
- ``plain_training``: the DAG written without lifegate, with ``insert_gates`` (reads the
  policy at parse time, adds 4 gate tasks) against the same file with an EmptyOperator wired
  in for each gate where ``insert_gates`` puts it (the target: like the train comparison, the
  same tasks without lifegate), and against the file without the lifegate lines at all (no
  target: that difference includes Airflow's own cost of 4 more tasks, shown as its own row).

Medians over fresh interpreters, the variants interleaved. The heavy-module check lists which
of GX, DVC, Kedro, cyclonedx, model-signing, scikit-learn, pandas are in ``sys.modules`` after
the lifegate parse and were not after the baseline's.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from _common import Row, Section

REPO = Path(__file__).resolve().parents[1]
DAGS = REPO / "example_pipelines" / "airflow" / "dags"
HEAVY = ("great_expectations", "dvc", "kedro", "cyclonedx", "model_signing", "sklearn",
         "pandas", "fickling")

STUB = '''from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.hitl import ApprovalOperator


class _Stub(EmptyOperator):
    def __init__(self, *, model=None, dataset=None, **kwargs):
        super().__init__(**kwargs)


class ReleaseApprovalOperator(ApprovalOperator):
    def __init__(self, *, model=None, requested_by=None, **kwargs):
        super().__init__(subject="Approve the model release", **kwargs)


DataValidationGateOperator = DisclosureGateOperator = ModelScanGateOperator = _Stub
SbomGateOperator = SignModelOperator = VerifyModelOperator = _Stub
'''

PROBE = r'''
import json, sys, time
import airflow.sdk
from airflow.dag_processing.dagbag import DagBag
before = set(sys.modules)
t0 = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
seconds = time.perf_counter() - t0
heavy = sorted({m.split(".")[0] for m in set(sys.modules) - before} & set(sys.argv[2:]))
print(json.dumps({"seconds": seconds, "errors": len(bag.import_errors),
                  "dags": len(bag.dag_ids), "heavy": heavy}))
'''


# The plain DAG's gates as EmptyOperators, wired where insert_gates puts LG-DATA (after
# load_data) and LG-SCAN, LG-SIGN, LG-SBOM (after fit, before publish), tagged as it tags.
PLAIN_STUBS = '''
from airflow.providers.standard.operators.empty import EmptyOperator  # noqa: E402

with dag:
    gates = [EmptyOperator(task_id=f"lifegate_gate_{i}") for i in range(4)]
    load, fit_, pub = dag.get_task("load_data"), dag.get_task("fit"), dag.get_task("publish")
    load.downstream_task_ids.discard("fit")
    fit_.upstream_task_ids.discard("load_data")
    fit_.downstream_task_ids.discard("publish")
    pub.upstream_task_ids.discard("fit")
    load >> gates[0] >> fit_ >> gates[1] >> gates[2] >> gates[3] >> pub
    dag.tags |= {"ai-pipeline", "lifegate:secure-development"}
'''


def _variants(folder: Path) -> dict[str, Path]:
    out = folder / "airflow-dags"
    out.mkdir(parents=True, exist_ok=True)
    train = (DAGS / "train_and_release.py").read_text()
    start = train.index("from lifegate.operators import (")
    end = train.index(")\n", start) + 2
    plain = (DAGS / "plain_training.py").read_text()
    files = {
        "train_lifegate": train,
        "train_baseline": train[:start] + STUB + train[end:],
        "plain_lifegate": plain,
        "plain_baseline": plain[:plain.index("# --- lifegate")],
        "plain_stubs": plain[:plain.index("# --- lifegate")] + PLAIN_STUBS,
    }
    paths = {}
    for name, text in files.items():
        (out / name).mkdir(exist_ok=True)
        paths[name] = out / name / f"{name}.py"
        paths[name].write_text(text)
    return paths


def _probe(path: Path, env: dict[str, str]) -> dict[str, object]:
    proc = subprocess.run([sys.executable, "-c", PROBE, str(path), *HEAVY], env=env,
                          capture_output=True, text=True, check=True, timeout=300)
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def airflow_bench(folder: Path, quick: bool) -> Section:
    home = folder / "airflow-home"
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
           "AIRFLOW__LIFEGATE__ENFORCE_DAG_POLICY": "False",  # opt-in; off by default
           "LIFEGATE_EXAMPLE_HOME": str(DAGS.parent / "project")}
    paths = _variants(folder)
    runs = 3 if quick else 15
    times: dict[str, list[float]] = {name: [] for name in paths}
    heavy: dict[str, set[str]] = {name: set() for name in paths}
    for i in range(runs):
        names = list(paths)
        for name in names[i % len(names):] + names[:i % len(names)]:  # rotate the order
            r = _probe(paths[name], env)
            if r["errors"] or r["dags"] != 1:
                raise RuntimeError(f"{name}: DAG file did not parse: {r}")
            times[name].append(float(str(r["seconds"])))
            heavy[name] |= set(r["heavy"])  # type: ignore[arg-type]
    med = {name: statistics.median(v) * 1000 for name, v in times.items()}
    rows = []
    for dag, base, what in (("train", "train_baseline", "same DAG, each gate an EmptyOperator"),
                            ("plain", "plain_stubs", "same DAG, each gate an EmptyOperator")):
        extra = sorted(heavy[f"{dag}_lifegate"] - heavy[base])
        rows.append(Row(f"DagBag parse, {dag} DAG with lifegate", med[f"{dag}_lifegate"], "ms",
                        med[base], what, f"target ratio <= 1.10; heavy modules added by "
                        f"lifegate: {', '.join(extra) or 'none'}"))
    rows += [Row("DagBag parse, plain DAG with lifegate", med["plain_lifegate"], "ms",
                 med["plain_baseline"], "same DAG without the gate tasks",
                 "no target: includes Airflow's own cost of the 4 gate tasks (next row)"),
             Row("DagBag parse, plain DAG with 4 EmptyOperators", med["plain_stubs"], "ms",
                 med["plain_baseline"], "same DAG without them", "Airflow alone, no lifegate")]
    data = {"runs": runs, "median_ms": med, "heavy_modules": {k: sorted(v)
                                                              for k, v in heavy.items()}}
    return data, rows
