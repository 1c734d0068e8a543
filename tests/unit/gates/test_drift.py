"""LG-DRIFT: PSI and KS per feature and on predictions, the JSON and HTML drift report, and
bad input failing closed with the ledger untouched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from ledger_checks import assert_one_record_added, records
from lifegate.core import GateRun, Policy, Verdict, load_policy, make_context, run_gate_by_id
from lifegate.gates._data_drift import categorical_drift, ks_2samp_sorted, numeric_drift, psi


@pytest.fixture
def halves(tmp_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.datasets import load_breast_cancer

    df = load_breast_cancer(as_frame=True).frame.sort_values("target", kind="stable")
    df = df.reset_index(drop=True)
    df["prediction"] = df["target"]
    df["grape"] = np.array(["red", "white"])[np.arange(len(df)) % 3 % 2]
    ref, cur = df.iloc[::2].reset_index(drop=True), df.iloc[1::2].reset_index(drop=True)
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_csv(tmp_path / "cur.csv", index=False)
    return ref, cur


def policy(tmp: Path, **settings: Any) -> Policy:
    (tmp / "lifegate.yaml").write_text(yaml.safe_dump(
        {"system": {"name": "sys", "version": "1"},
         "gates": {"LG-DRIFT": {"settings": {"prediction_column": "prediction", **settings}}}}))
    return load_policy(tmp / "lifegate.yaml")


def run(pol: Policy, current: str = "cur.csv", reference: str = "ref.csv") -> GateRun:
    ctx = make_context(pol, artifacts={"reference": reference, "current": current})
    return run_gate_by_id("LG-DRIFT", pol, ctx, raise_on_block=False)


def evidence(r: GateRun) -> tuple[dict[str, Any], str]:
    kinds = {e.kind: Path(e.uri) for e in r.result.evidence}
    return (json.loads(kinds["drift-report"].read_text()),
            kinds["drift-report-html"].read_text())


def test_same_distribution_passes(tmp_path: Path,
                                  halves: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    r = run(policy(tmp_path))
    assert r.result.verdict is Verdict.PASS, r.result.findings
    report, html = evidence(r)
    assert len(report["features"]) == len(halves[0].columns) - 1
    assert report["prediction"]["kind"] == "categorical"
    assert "<svg" not in html and "<script" not in html and "none" in html
    assert {s.name for s in r.result.subjects} == {"ref.csv", "cur.csv"}
    [note] = r.result.findings  # 285 rows against 284: PSI noise is noted, not blocking
    assert note.rule == "DRIFT-SMALL-SAMPLE" and not note.blocking


def test_shifted_feature_is_named_and_charted(tmp_path: Path,
                                              halves: tuple[pd.DataFrame, pd.DataFrame]
                                              ) -> None:
    cur = halves[1].copy()
    cur["mean radius"] += 3.0
    cur["grape"] = "white"
    cur.to_csv(tmp_path / "cur.csv", index=False)
    r = run(policy(tmp_path))
    assert r.result.verdict is Verdict.FAIL
    assert {f.location for f in r.result.blocking_findings()} == {"cur.csv: mean radius",
                                                                 "cur.csv: grape"}
    assert {f.rule for f in r.result.blocking_findings()} == {"DRIFT-FEATURE"}
    assert r.result.provision_checks == {"5.4.2-2": "fail"}
    report, html = evidence(r)
    alcohol = next(f for f in report["features"] if f["name"] == "mean radius")
    assert alcohol["psi"] > 0.2 and alcohol["ks"] > 0.3 and alcohol["ks_pvalue"] < 1e-6
    assert html.count("<svg") == 2 and "<script" not in html
    assert r.result.metrics["drifting"] == 2


def test_prediction_shift(tmp_path: Path, halves: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    cur = halves[1].copy()
    cur["prediction"] = 1
    cur.to_csv(tmp_path / "cur.csv", index=False)
    r = run(policy(tmp_path))
    [f] = r.result.blocking_findings()
    # a shift of the predictions is a change of behaviour (5.4.2-2), not a measure of the
    # model's performance over time (5.4.2-4), which the gate does not claim
    assert f.rule == "DRIFT-PREDICTION" and f.provision == "5.4.2-2"
    assert r.result.provision_checks == {"5.4.2-2": "fail"}
    assert r.result.provisions == ["5.4.2-2"]
    assert r.result.details["prediction_drift"] is True


def test_report_only_does_not_block(tmp_path: Path,
                                    halves: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    cur = halves[1].copy()
    cur["mean radius"] += 3.0
    cur.to_csv(tmp_path / "cur.csv", index=False)
    r = run(policy(tmp_path, blocking=False))
    assert r.result.verdict is Verdict.PASS
    assert [f.rule for f in r.result.findings] == ["DRIFT-FEATURE", "DRIFT-SMALL-SAMPLE"]


def test_thresholds_come_from_the_policy(tmp_path: Path,
                                         halves: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    cur = halves[1].copy()
    cur["mean radius"] += 0.6
    cur.to_csv(tmp_path / "cur.csv", index=False)
    loose = run(policy(tmp_path, psi_threshold=5.0, ks_threshold=0.9))
    assert loose.result.verdict is Verdict.PASS
    strict = run(policy(tmp_path, psi_threshold=0.05, ks_threshold=0.05))
    assert "cur.csv: mean radius" in {f.location for f in strict.result.blocking_findings()}


def test_ks_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    a, b = np.sort(rng.normal(size=3000)), np.sort(rng.normal(0.1, 1.1, size=2000))
    d, p = ks_2samp_sorted(a, b)
    ref = stats.ks_2samp(a, b, method="asymp")
    assert d == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue, rel=1e-6)
    ties = np.sort(rng.integers(0, 5, size=500).astype(float))
    assert ks_2samp_sorted(ties, ties)[0] == 0.0


@pytest.mark.parametrize("chunk", [1, 2, 7, 64, 1 << 11])
def test_ks_is_exact_across_chunk_boundaries(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    """Runs of equal values and stretches of the other sample that cross a chunk's end."""
    from lifegate.gates import _data_drift

    monkeypatch.setattr(_data_drift, "CHUNK", chunk)
    rng = np.random.default_rng(chunk)
    samples = [(rng.integers(0, 6, 900), rng.integers(1, 8, 700)),
               (rng.integers(0, 3, 300), rng.normal(size=1100).round(1)),
               (rng.normal(size=50), rng.normal(3, 1, size=2000))]
    for a, b in samples:
        a, b = np.sort(a.astype(float)), np.sort(b.astype(float))
        expected = stats.ks_2samp(a, b, method="asymp").statistic
        assert ks_2samp_sorted(a, b)[0] == pytest.approx(expected, abs=1e-12)
        assert ks_2samp_sorted(b, a)[0] == pytest.approx(expected, abs=1e-12)


def test_psi_values() -> None:
    s = pd.Series(np.random.default_rng(0).normal(size=10_000))
    same = numeric_drift("x", s, s.copy(), 10)
    assert same.psi == pytest.approx(0.0, abs=1e-9) and len(same.bins) == 11
    assert same.reference_share[:10] == pytest.approx([0.1] * 10, abs=0.001)
    with_nan = numeric_drift("x", s, s.where(s > -1), 10)
    assert with_nan.current_share[-1] == pytest.approx((s <= -1).mean(), abs=1e-6)
    assert psi([0.5, 0.5], [0.9, 0.1]) == pytest.approx(0.4 * np.log(0.9 / 0.5)
                                                        + -0.4 * np.log(0.1 / 0.5))
    cat = categorical_drift("c", pd.Series(list("aab")), pd.Series(list("abz")), 20)
    assert cat.bins == ["a", "b", "(other)"] and cat.current_share[-1] == pytest.approx(1 / 3)


# -- bad input ---------------------------------------------------------------------------------

def _fails_closed(pol: Policy, **paths: str) -> str:
    before = records(pol)
    r = run(pol, **paths)
    assert r.result.verdict is Verdict.ERROR
    assert_one_record_added(pol, before)
    return " ".join(f.message for f in r.result.findings)


@pytest.fixture
def recorded(tmp_path: Path, halves: tuple[pd.DataFrame, pd.DataFrame]) -> Policy:
    pol = policy(tmp_path)
    assert run(pol).result.verdict is Verdict.PASS
    return pol


def test_reference_with_different_columns(recorded: Policy, tmp_path: Path,
                                          halves: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    halves[0].drop(columns=["mean radius"]).to_csv(tmp_path / "ref2.csv", index=False)
    text = _fails_closed(recorded, reference="ref2.csv")
    assert "has different columns" in text and "mean radius" in text


def test_missing_current(recorded: Policy) -> None:
    assert "dataset not found" in _fails_closed(recorded, current="gone.parquet")


def test_prediction_column_missing(recorded: Policy, tmp_path: Path) -> None:
    pol = policy(tmp_path, prediction_column="score")
    assert "prediction_column names a column the dataset does not have: score" in \
        _fails_closed(pol)
