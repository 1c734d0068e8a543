"""Which provisions each gate claims: exactly the table in docs/conformity.md, all in the
catalog, and no gate's source names a provision the gate does not claim.

A run that passes makes every provision its gate claims *met*, so the claims are pinned here:
the docs table and the gates' ``provisions`` must change together.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import ClassVar

import pytest

from lifegate.catalog import load_catalog
from lifegate.core import GateResult, Phase, Policy, RecordRef, RunContext, Verdict, run_gate
from lifegate.core.gate import GATES, gate_class

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "conformity.md"
SECTION = "## Which gate evidences which provision, and why"
ROW = re.compile(r"^\| (LG-[A-Z]+) \| (5\.\d\.\d-\d+(?:\.\d+)?) \| (.+) \|$")
PROVISION_ID = re.compile(r"5\.\d\.\d-\d+(?:\.\d+)?")

# The modules whose string constants are a gate's provision ids (findings, CHECKED maps,
# required sections): the gate's module and its private helpers.
SOURCES: dict[str, tuple[str, ...]] = {
    "LG-INV": ("src/lifegate/gates/inventory.py",),
    "LG-THREAT": ("src/lifegate/gates/threat_model.py",),
    "LG-DATA": ("src/lifegate/gates/data_validation.py", "src/lifegate/gates/_data_gx.py",
                "src/lifegate/gates/_data_load.py", "src/lifegate/gates/_data_poison.py",
                "src/lifegate/gates/_data_report.py"),
    "LG-DRIFT": ("src/lifegate/gates/drift.py", "src/lifegate/gates/_data_drift.py"),
    "LG-SCAN": ("src/lifegate/gates/scan.py", "src/lifegate/gates/_scan_*.py"),
    "LG-SIGN": ("src/lifegate/gates/signing.py", "src/lifegate/gates/_modelsig.py",
                "src/lifegate/gates/_keysource.py"),
    "LG-VERIFY": ("src/lifegate/gates/verify.py",),
    "LG-SBOM": ("src/lifegate/gates/sbom.py", "src/lifegate/gates/_sbom_*.py"),
    "LG-DISCLOSE": ("src/lifegate/gates/disclosure.py", "src/lifegate/gates/_disclosure_*.py"),
    "LG-APPROVE": ("src/lifegate/gates/approval.py", "src/lifegate/evidence/approvals.py"),
    "LG-RETIRE": ("src/lifegate/gates/retirement.py", "src/lifegate/gates/_retire_*.py"),
    "LG-RELEASE": ("plugins/lifegate/plugins/dvc_release.py",
                   "plugins/lifegate/plugins/_dvc_checks.py",
                   "plugins/lifegate/plugins/_dvc_models.py"),
}


def doc_table() -> dict[str, set[str]]:
    """(gate, provision) rows of the table in docs/conformity.md, each with its reason."""
    text = DOC.read_text(encoding="utf-8")
    assert SECTION in text, f"{DOC} has no section {SECTION!r}"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    out: dict[str, set[str]] = {}
    for line in section.splitlines():
        m = ROW.match(line)
        if m is None:
            continue
        gate, provision, why = m.groups()
        assert why.strip(), f"no reason given for {gate} {provision}"
        assert provision not in out.get(gate, set()), f"{gate} {provision} listed twice"
        out.setdefault(gate, set()).add(provision)
    return out


def claimed() -> dict[str, set[str]]:
    return {gid: set(gate_class(gid).provisions) for gid in GATES}


def named_in_source(gate: str) -> set[str]:
    """Every provision id written as a string constant (not a docstring) in the gate's
    modules."""
    found: set[str] = set()
    for pattern in SOURCES[gate]:
        files = sorted(ROOT.glob(pattern))
        assert files, f"{pattern} matches no file"
        for path in files:
            tree = ast.parse(path.read_text(encoding="utf-8"))
            docs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
            for node in ast.walk(tree):  # docstrings may mention any provision
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                        id(node) not in docs:
                    found.update(PROVISION_ID.findall(node.value))
    return found


def test_the_docs_table_is_exactly_what_the_gates_claim() -> None:
    table = doc_table()
    assert set(table) == set(GATES), "every gate has a row in the table, and only gates"
    code = claimed()
    diff = {g: (sorted(code[g] - table[g]), sorted(table[g] - code[g]))
            for g in GATES if code[g] != table[g]}
    assert not diff, f"gate -> (claimed but not in the docs, in the docs but not claimed): {diff}"


def test_the_claims_are_the_reviewed_ones() -> None:
    """The reviewed mapping (issue 16): a change here is a change of what a pass makes met."""
    assert claimed() == {
        "LG-INV": {"5.2.4-3"},
        "LG-THREAT": {"5.1.3-1", "5.1.3-1.1"},
        "LG-DATA": {"5.2.1-4.1", "5.2.4-2.1"},
        "LG-DRIFT": {"5.4.2-2"},
        "LG-SCAN": {"5.2.3-1"},
        "LG-SIGN": {"5.2.3-1", "5.2.4-1.2"},
        "LG-VERIFY": {"5.2.3-1"},
        "LG-SBOM": {"5.2.3-1", "5.2.1-1", "5.2.4-2.1"},
        "LG-DISCLOSE": {"5.3.1-1", "5.3.1-2.1", "5.1.4-5"},
        "LG-APPROVE": {"5.1.4-3"},
        "LG-RETIRE": {"5.5.1-1", "5.5.1-2"},
        "LG-RELEASE": {"5.2.4-1.2"},
    }


def test_every_provision_a_gate_names_is_in_the_catalog() -> None:
    ids = {p.id for p in load_catalog().provisions}
    named = {p for g in GATES for p in claimed()[g] | named_in_source(g)}
    named |= {p for ps in doc_table().values() for p in ps}
    assert named - ids == set()


@pytest.mark.parametrize("gate", sorted(GATES))
def test_a_gate_names_only_the_provisions_it_claims(gate: str) -> None:
    """A finding's provision maps the run to it (a passing run with an informational finding
    would make it met), and provision_checks may hold only claimed provisions: a provision the
    gate does not claim must not appear in its findings, CHECKED map or required sections."""
    assert named_in_source(gate) <= claimed()[gate]


# -- a run may claim fewer than its gate (a check that did not run), even none --------------

class _Recorder:
    def __init__(self) -> None:
        self.results: list[GateResult] = []

    def record_gate_run(self, result, context, policy, waivers):  # type: ignore[no-untyped-def]
        self.results.append(result)
        return RecordRef(len(self.results), "ab" * 32, "memory")


class _Gate:
    id: ClassVar[str] = "LG-TEST"
    title: ClassVar[str] = "test gate"
    phase: ClassVar[Phase] = Phase.DEVELOPMENT
    provisions: ClassVar[tuple[str, ...]] = ("5.2.1-1", "5.2.3-1")

    def __init__(self, result: GateResult) -> None:
        self.result = result

    def check(self, context: RunContext) -> GateResult:
        return self.result


def _recorded(result: GateResult) -> list[str]:
    rec = _Recorder()
    run_gate(_Gate(result), RunContext(system="s", system_version="1",
                                       phase=Phase.DEVELOPMENT), Policy(), rec)
    return rec.results[0].provisions


def test_a_run_claims_the_gates_provisions_unless_it_names_its_own() -> None:
    assert _recorded(GateResult(gate_id="LG-TEST", verdict=Verdict.PASS)) == \
        ["5.2.1-1", "5.2.3-1"]
    assert _recorded(GateResult(gate_id="LG-TEST", verdict=Verdict.PASS,
                                provisions=["5.2.3-1"])) == ["5.2.3-1"]


def test_a_run_that_names_no_provision_claims_none() -> None:
    """E.g. LG-RETIRE's dry run, which disposes of nothing: before, an empty list fell back to
    all the gate's provisions, and the dry run made 5.5.1-1 and 5.5.1-2 met."""
    assert _recorded(GateResult.from_findings("LG-TEST", [], provisions=[])) == []
