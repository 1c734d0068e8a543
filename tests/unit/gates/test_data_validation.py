"""LG-DATA on real data (scikit-learn's breast-cancer set) through real GX validation: planted
faults each caught by the right check, bad input failing closed with the ledger untouched."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from ledger_checks import assert_one_record_added, records
from lifegate.core import GateRun, Policy, Verdict, load_policy, make_context, run_gate_by_id
from lifegate.core.hashing import sha256_file
from lifegate.gates._data_gx import Expect, match_results

EXPECTATIONS = [
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "mean radius"},
     "id": "radius-present"},
    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "mean texture", "min_value": 0, "max_value": 100}},
    {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "target",
                                                             "value_set": [0, 1]}},
]


def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current halves with the same label mix, plus a categorical column."""
    from sklearn.datasets import load_breast_cancer

    df = load_breast_cancer(as_frame=True).frame
    df["site"] = np.array(["north", "south", "east"])[np.arange(len(df)) % 3]
    df = df.sort_values("target", kind="stable").reset_index(drop=True)
    return df.iloc[::2].reset_index(drop=True), df.iloc[1::2].reset_index(drop=True)


@pytest.fixture
def data(tmp_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    ref, cur = frames()
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_csv(tmp_path / "train.csv", index=False)
    return ref, cur


def policy(tmp: Path, **settings: Any) -> Policy:
    base: dict[str, Any] = {"expectations": EXPECTATIONS,
                            "checks": {"reference": "ref.csv", "label_column": "target"}}
    base.update(settings)
    (tmp / "lifegate.yaml").write_text(yaml.safe_dump(
        {"system": {"name": "sys", "version": "1"}, "gates": {"LG-DATA": {"settings": base}}}))
    return load_policy(tmp / "lifegate.yaml")


def run(pol: Policy, dataset: str = "train.csv") -> GateRun:
    ctx = make_context(pol, artifacts={"dataset": dataset})
    return run_gate_by_id("LG-DATA", pol, ctx, raise_on_block=False)


def blocking(r: GateRun) -> set[str]:
    return {f.rule for f in r.result.blocking_findings()}


def test_clean_data_passes_with_evidence(tmp_path: Path,
                                         data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    r = run(policy(tmp_path))
    assert r.result.verdict is Verdict.PASS, r.result.findings
    subjects = {s.name: s.sha256 for s in r.result.subjects}
    assert subjects["train.csv"] == sha256_file(tmp_path / "train.csv")
    assert subjects["ref.csv"] == sha256_file(tmp_path / "ref.csv")
    kinds = {e.kind: Path(e.uri) for e in r.result.evidence}
    validation = json.loads(kinds["gx-validation-result"].read_text())
    assert validation["success"] is True and len(validation["results"]) == 3
    summary = json.loads(kinds["data-validation-summary"].read_text())
    assert summary["expectations"] == {"evaluated": 3, "successful": 3, "failed": []}
    assert summary["dataset"]["rows"] == len(data[1])
    assert set(summary["checks"]) == {"duplicates", "near_duplicates", "outliers",
                                      "label_shift", "out_of_range", "unseen_categories"}
    assert r.result.metrics["label_shift"] < 0.01
    assert "great-expectations" in r.result.tool_versions


def test_nulls_caught_by_the_expectation(tmp_path: Path,
                                         data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    cur = data[1].copy()
    cur.loc[::10, "mean radius"] = np.nan
    cur.to_csv(tmp_path / "train.csv", index=False)
    r = run(policy(tmp_path))
    assert r.result.verdict is Verdict.FAIL
    [f] = r.result.blocking_findings()
    assert f.rule == "DATA-EXPECTATION" and f.location == "train.csv: radius-present"
    assert "unexpected_count 29" in f.message


def test_warning_only_expectation_does_not_block(tmp_path: Path,
                                                 data: tuple[pd.DataFrame, pd.DataFrame]
                                                 ) -> None:
    cur = data[1].copy()
    cur.loc[::10, "mean radius"] = np.nan
    cur.to_csv(tmp_path / "train.csv", index=False)
    warn = [{**EXPECTATIONS[0], "severity": "warning"}, *EXPECTATIONS[1:]]
    r = run(policy(tmp_path, expectations=warn))
    assert r.result.verdict is Verdict.PASS
    assert [f.rule for f in r.result.findings if not f.blocking] == ["DATA-EXPECTATION"]


def test_results_matched_by_id_not_position(tmp_path: Path,
                                            data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    cols = ["mean radius", "mean texture", "mean perimeter", "mean area", "mean smoothness",
            "worst area"]
    ex = [{"type": "expect_column_max_to_be_between", "id": f"max-{i}",
           "kwargs": {"column": c, "min_value": 0, "max_value": 1e9 if c != "mean area"
                      else 10}} for i, c in enumerate(cols)]
    r = run(policy(tmp_path, expectations=ex))
    assert {f.location for f in r.result.blocking_findings()} == {"train.csv: max-3"}


def test_match_results_ignores_order() -> None:
    expects = [Expect(f"id{i}", "expect_x", {}) for i in range(5)]
    results = [{"success": i % 2 == 0, "result": {"n": i}, "exception_info": {},
                "expectation_config": {"type": "expect_x", "meta": {"lifegate_id": f"id{i}"}}}
               for i in range(5)]
    random.Random(1).shuffle(results)
    outcomes = match_results({"results": results}, expects, "here")
    assert [(o.expect.key, o.success, o.result["n"]) for o in outcomes] == \
        [(f"id{i}", i % 2 == 0, i) for i in range(5)]
    with pytest.raises(Exception, match="no result for expectation id4"):
        match_results({"results": results[:0]}, expects[4:], "here")


def test_shifted_labels(tmp_path: Path, data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    cur = data[1].copy()
    cur.loc[cur.index[:60], "target"] = 1 - cur.loc[cur.index[:60], "target"]
    cur.to_csv(tmp_path / "train.csv", index=False)
    r = run(policy(tmp_path))
    assert blocking(r) == {"DATA-LABEL-SHIFT"}
    assert r.result.provision_checks == {"5.2.1-4.1": "fail"}
    # data not declared public: the provenance check did not run, so 5.2.4-2.1 is not claimed
    assert r.result.provisions == ["5.2.1-4.1"]
    assert r.result.metrics["label_shift"] == pytest.approx(60 / len(cur), abs=0.01)


def test_injected_exact_duplicates(tmp_path: Path,
                                   data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    cur = data[1]
    poisoned = pd.concat([cur, cur.sample(15, random_state=0)], ignore_index=True)
    poisoned.to_csv(tmp_path / "train.csv", index=False)
    r = run(policy(tmp_path))
    assert "DATA-DUPLICATES" in blocking(r)
    assert r.result.metrics["duplicates"] == pytest.approx(15 / len(poisoned))


def test_injected_near_duplicates(tmp_path: Path,
                                  data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    cur = data[1]
    copies = cur.sample(30, random_state=0).copy()
    numeric = copies.select_dtypes("number").columns.drop("target")
    copies[numeric] = copies[numeric] * (1 + 1e-6)
    poisoned = pd.concat([cur, copies], ignore_index=True)
    poisoned.to_csv(tmp_path / "train.csv", index=False)
    r = run(policy(tmp_path))
    assert blocking(r) == {"DATA-NEAR-DUPLICATES"}
    assert r.result.metrics["duplicates"] == 0
    # a copy whose value sits on a rounding boundary can land in the next cell: most count
    assert 0.05 < r.result.metrics["near_duplicates"] <= 30 / len(poisoned)


def test_new_category(tmp_path: Path, data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    cur = data[1].copy()
    cur.loc[cur.index[:3], "site"] = "atlantis"
    cur.to_csv(tmp_path / "train.csv", index=False)
    r = run(policy(tmp_path))
    [f] = r.result.blocking_findings()
    assert f.rule == "DATA-UNSEEN-CATEGORIES" and "atlantis" in f.message
    assert f.location == "train.csv: site"


def test_out_of_range_and_outliers(tmp_path: Path,
                                   data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    cur = data[1].copy()
    rows = cur.index[::10]
    cur.loc[rows, "mean smoothness"] = cur.loc[rows, "mean smoothness"] * 10
    cur.to_csv(tmp_path / "train.csv", index=False)
    r = run(policy(tmp_path))
    assert blocking(r) == {"DATA-OUT-OF-RANGE", "DATA-OUTLIERS"}
    assert all(f.location == "train.csv: mean smoothness" for f in r.result.blocking_findings())


def test_check_can_be_warning_only_or_off(tmp_path: Path,
                                          data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    cur = data[1].copy()
    cur.loc[cur.index[:3], "site"] = "atlantis"
    cur.to_csv(tmp_path / "train.csv", index=False)
    checks = {"reference": "ref.csv", "label_column": "target",
              "warning_only": ["unseen_categories"]}
    assert run(policy(tmp_path, checks=checks)).result.verdict is Verdict.PASS
    checks = {"reference": "ref.csv", "max_unseen_category_fraction": 0.05}
    assert run(policy(tmp_path, checks=checks)).result.verdict is Verdict.PASS


def test_checks_without_reference_are_reported_skipped(
        tmp_path: Path, data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    # without a reference the outlier share is the plain one: heavy tails need a looser bound
    r = run(policy(tmp_path, checks={"label_column": "target", "max_outlier_fraction": 0.2}))
    assert r.result.verdict is Verdict.PASS
    skipped = {f.rule for f in r.result.findings if not f.blocking}
    assert skipped == {"DATA-LABEL-SHIFT-SKIPPED", "DATA-OUT-OF-RANGE-SKIPPED",
                       "DATA-UNSEEN-CATEGORIES-SKIPPED"}


def test_public_data_needs_provenance(tmp_path: Path,
                                      data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    r = run(policy(tmp_path, public=True, provenance={"source": "https://example.org/bc"}))
    [f] = r.result.blocking_findings()
    assert f.rule == "DATA-PROVENANCE" and "retrieved_at, custodian" in f.message
    assert r.result.provision_checks == {"5.2.1-4.1": "pass", "5.2.4-2.1": "fail"}
    assert r.result.provisions == ["5.2.1-4.1", "5.2.4-2.1"]
    full = {"source": "https://example.org/bc", "retrieved_at": "2026-01-05T10:00:00Z",
            "custodian": "dana"}
    r = run(policy(tmp_path, public=True, provenance=full))
    assert r.result.verdict is Verdict.PASS
    summary = json.loads(Path(r.result.evidence[1].uri).read_text())
    assert summary["provenance"]["custodian"] == "dana" and summary["public"] is True


def test_suite_file_and_parquet(tmp_path: Path, data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    data[1].to_parquet(tmp_path / "train.parquet")
    suite = {"name": "bc", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "target"},
         "meta": {"lifegate_id": "target-present"}},
        {"type": "expect_column_mean_to_be_between",
         "kwargs": {"column": "mean area", "min_value": 0, "max_value": 10}},
        {"type": "expect_table_row_count_to_be_between",
         "kwargs": {"min_value": 1000}, "id": "enough-rows"}]}
    (tmp_path / "suite.json").write_text(json.dumps(suite))
    pol = policy(tmp_path, expectations=[], suite="suite.json",
                 warning_only=["expect_column_mean_to_be_between"])
    r = run(pol, "train.parquet")
    assert r.result.verdict is Verdict.FAIL
    assert {f.location: f.blocking for f in r.result.findings} == {
        "train.parquet: expect_column_mean_to_be_between:" + _kw_digest(suite, 1): False,
        "train.parquet: enough-rows": True}
    assert r.result.subjects[0].sha256 == sha256_file(tmp_path / "train.parquet")


def _kw_digest(suite: dict[str, Any], i: int) -> str:
    from lifegate.gates._data_gx import stable_id

    e = suite["expectations"][i]
    return stable_id(e["type"], e["kwargs"]).split(":")[1]


# -- bad input: the gate fails closed and earlier ledger records stay as they were ------------

def _fails_closed(pol: Policy, dataset: str = "train.csv", verdict: Verdict = Verdict.ERROR,
                  ) -> str:
    before = records(pol)
    r = run(pol, dataset)
    assert r.result.verdict is verdict
    assert_one_record_added(pol, before)
    return " ".join(f.message for f in r.result.findings)


@pytest.fixture
def recorded(tmp_path: Path, data: tuple[pd.DataFrame, pd.DataFrame]) -> Policy:
    """A policy whose ledger already holds one passing LG-DATA run."""
    pol = policy(tmp_path)
    assert run(pol).result.verdict is Verdict.PASS
    return pol


def test_missing_file(recorded: Policy) -> None:
    assert "dataset not found" in _fails_closed(recorded, "nope.csv")


def test_unreadable_parquet(recorded: Policy, tmp_path: Path) -> None:
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 this is not parquet at all")
    assert "cannot read parquet dataset bad.parquet" in _fails_closed(recorded, "bad.parquet")


@pytest.mark.parametrize("content", ["", "mean radius,target\n"])
def test_empty_dataset(recorded: Policy, tmp_path: Path, content: str) -> None:
    (tmp_path / "empty.csv").write_text(content)
    assert "dataset empty.csv is empty" in _fails_closed(recorded, "empty.csv")


def test_schema_mismatch(recorded: Policy, tmp_path: Path,
                         data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    cols = [c for c in data[1].columns if c != "site"] + ["region"]
    pol = policy(tmp_path, columns=cols)
    text = _fails_closed(pol, verdict=Verdict.FAIL)
    assert "missing ['region'], unexpected ['site']" in text


def test_suite_names_a_missing_column(recorded: Policy, tmp_path: Path) -> None:
    ex = [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "ghost"}}]
    pol = policy(tmp_path, expectations=ex)
    assert "names a column the dataset does not have: ghost" in _fails_closed(pol)


def test_reference_with_different_columns(recorded: Policy, tmp_path: Path,
                                          data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    data[0].drop(columns=["site"]).to_csv(tmp_path / "ref.csv", index=False)
    assert "has different columns from train.csv: missing ['site']" in _fails_closed(recorded)


def test_unknown_expectation_type(recorded: Policy, tmp_path: Path) -> None:
    ex = [{"type": "expect_column_to_be_magic", "kwargs": {"column": "target"}}]
    assert "expect_column_to_be_magic" in _fails_closed(policy(tmp_path, expectations=ex))


def test_corrupt_suite_file(recorded: Policy, tmp_path: Path) -> None:
    (tmp_path / "suite.json").write_text("{not json")
    pol = policy(tmp_path, expectations=[], suite="suite.json")
    assert "cannot read the expectation suite" in _fails_closed(pol)


def test_no_expectations_is_an_error(recorded: Policy, tmp_path: Path) -> None:
    assert "no expectations" in _fails_closed(policy(tmp_path, expectations=[]))


def test_spark_engine(tmp_path: Path, data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    pytest.importorskip("pyspark")
    r = run(policy(tmp_path, engine="spark"))
    assert r.result.verdict is Verdict.PASS, r.result.findings
    summary = json.loads(Path(r.result.evidence[1].uri).read_text())
    assert summary["dataset"]["engine"] == "spark"


def test_gate_modules_import_no_heavy_library() -> None:
    import subprocess
    import sys

    probe = ("import sys, lifegate.gates.data_validation, lifegate.gates.drift, lifegate.cli.data;"
             "print(sorted(m for m in ('great_expectations', 'pandas', 'scipy', 'pyarrow', "
             "'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60, check=True).stdout.strip()
    assert out == "[]"


def test_boolean_only_keeps_data_values_out_of_evidence(
        tmp_path: Path, data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    cur = data[1].copy()
    cur.loc[cur.index[:3], "site"] = "atlantis"
    cur.loc[cur.index[:3], "mean texture"] = 98765.4321
    cur.to_csv(tmp_path / "train.csv", index=False)
    r = run(policy(tmp_path, result_format="BOOLEAN_ONLY"))
    assert "DATA-UNSEEN-CATEGORIES" in blocking(r) and "DATA-EXPECTATION" in blocking(r)
    texts = [Path(e.uri).read_text() for e in r.result.evidence]
    texts.append(" ".join(f.message for f in r.result.findings))
    assert not any("atlantis" in t or "98765.4321" in t for t in texts)


def test_claims_no_provision_its_checks_do_not_show() -> None:
    """Validating data neither protects it from access (5.2.1-4) nor security-tests the
    model (5.2.5-1), and its provenance check does not ask how the data was obtained or is
    used (5.2.4-2): a report must not show those as met by LG-DATA."""
    from lifegate.gates.data_validation import DataValidationGate

    assert set(DataValidationGate.provisions) == {"5.2.1-4.1", "5.2.4-2.1"}
