"""The conformity report (reports.conformity.evaluate) over a ledger of gate runs and
attestations, against the floor of just reading and decoding the same entries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _common import SYSTEM, VERSION, Row, Section, Sizes, best_of, build_ledger

from lifegate.catalog import EvidenceMode, load_catalog
from lifegate.core import (
    Finding,
    GateResult,
    Phase,
    Policy,
    RunContext,
    Subject,
    gate_class,
)
from lifegate.core.hashing import sha256_bytes
from lifegate.evidence.keys import Signer
from lifegate.evidence.ledger import Ledger
from lifegate.evidence.sql_store import SqlStore
from lifegate.evidence.statement import PredicateType, attestation_statement, gate_run_statement
from lifegate.reports.conformity import evaluate

GATE_IDS = ("LG-INV", "LG-THREAT")


def _gate_result(i: int) -> GateResult:
    """Alternating LG-INV / LG-THREAT runs; every tenth one fails with a finding."""
    gate_id = GATE_IDS[i % len(GATE_IDS)]
    provisions = list(gate_class(gate_id).provisions)
    findings = []
    if i % 10 == 9:
        findings.append(Finding(rule="BENCH-FAIL", message=f"benchmark failure {i}",
                                provision=provisions[0], location="bench"))
    subjects, details = [], {}
    if gate_id == "LG-INV":
        files = {f"data/part-{j}.parquet": sha256_bytes(f"{i}/{j}".encode()) for j in range(8)}
        details = {"manifest": {"dataset:data": files}}
        subjects = [Subject(name="dataset:data", sha256=sha256_bytes(str(i).encode()))]
    return GateResult.from_findings(gate_id, findings, subjects=subjects, details=details,
                                    provisions=provisions, metrics={"files": 8.0})


def report_statements(n: int, policy: Policy) -> Iterator[tuple[dict[str, Any],
                                                                   PredicateType]]:
    """Four gate runs to one attestation, all for system ``bench``."""
    context = RunContext(system=SYSTEM, system_version=VERSION, phase=Phase.DEVELOPMENT,
                         actor="bench")
    attested = [p.id for p in load_catalog().provisions
                if p.evidence is EvidenceMode.ATTESTATION] or ["5.1.1-1"]
    for i in range(n):
        if i % 5 == 4:
            yield attestation_statement(
                system=SYSTEM, version=VERSION, provision=attested[i % len(attested)],
                by="bench", role="developer", text=f"attested {i}", expires=None,
            ), PredicateType.ATTESTATION
        else:
            yield gate_run_statement(_gate_result(i), context, policy, []), \
                PredicateType.GATE_RUN


def report_bench(folder: Path, key: Path, sizes: Sizes) -> Section:
    n = sizes.report_records
    policy = Policy.model_validate({"system": {"name": SYSTEM, "version": VERSION}})
    url = f"sqlite:///{folder / 'report.db'}"
    build_ledger(url, Signer.from_file(key), report_statements(n, policy))
    store = SqlStore(url)
    ledger = Ledger(store)
    load_catalog()  # parse the catalog once, outside the timing
    seconds = best_of(lambda: evaluate(ledger.entries(), policy))
    floor = best_of(lambda: sum(1 for _ in ledger.entries()))
    report = evaluate(ledger.entries(), policy)
    store.dispose()
    if report.ledger_head != n or report.system != SYSTEM:
        raise AssertionError(f"report saw head #{report.ledger_head}, expected #{n}")
    what = "s just reading and decoding the entries"
    data = {"records": n, "seconds": round(seconds, 4), "records_per_s": round(n / seconds, 1),
            "baseline_read_seconds": round(floor, 4), "baseline_what": what,
            "provisions": len(report.provisions), "counts": report.counts}
    counts = ", ".join(f"{v} {k}" for k, v in report.counts.items() if v)
    return data, [Row(f"conformity report, {n:,} records", seconds, "s", floor, what,
                      note=f"{len(report.provisions)} provisions: {counts}")]
