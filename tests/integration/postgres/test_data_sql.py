"""LG-DATA on a SQL table: GX runs the expectations in PostgreSQL through its SQL data
source; the poisoning checks and the content digest use the table as read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
import yaml

from lifegate.core import Policy, Verdict, load_policy, make_context, run_gate_by_id
from lifegate.gates._data_load import frame_digest

pytestmark = pytest.mark.postgres


@pytest.fixture
def table_url(pg_ledger_url: str) -> str:
    """A fresh database holding the breast-cancer set as table ``bc`` and ``bc_ref``."""
    from sklearn.datasets import load_breast_cancer

    df = load_breast_cancer(as_frame=True).frame.sort_values("target", kind="stable")
    df = df.reset_index(drop=True)
    engine = sa.create_engine(pg_ledger_url)
    try:
        df.iloc[1::2].to_sql("bc", engine, index=False)
        df.iloc[::2].to_sql("bc_ref", engine, index=False)
    finally:
        engine.dispose()
    return pg_ledger_url


def policy(tmp: Path, url: str, expectations: list[dict[str, object]]) -> Policy:
    settings = {"expectations": expectations,
                "checks": {"reference": f"{url}#bc_ref", "label_column": "target"}}
    (tmp / "lifegate.yaml").write_text(yaml.safe_dump(
        {"system": {"name": "sys", "version": "1"},
         "gates": {"LG-DATA": {"settings": settings}}}))
    return load_policy(tmp / "lifegate.yaml")


def test_sql_table_validated_in_postgres(tmp_path: Path, table_url: str) -> None:
    ex = [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "mean radius"}},
          {"type": "expect_column_max_to_be_between", "id": "area-cap",
           "kwargs": {"column": "mean area", "max_value": 1000}}]
    pol = policy(tmp_path, table_url, ex)
    run = run_gate_by_id("LG-DATA", pol, make_context(pol, artifacts={
        "dataset": f"{table_url}#bc"}), raise_on_block=False)
    assert run.result.verdict is Verdict.FAIL
    assert [f.location for f in run.result.blocking_findings()] == [
        f"{table_url}#bc: area-cap"]
    validation = json.loads(Path(run.result.evidence[0].uri).read_text())
    batch = validation["meta"]["active_batch_definition"]
    assert batch["data_asset_name"] == "data" and len(validation["results"]) == 2
    assert run.result.metrics["label_shift"] < 0.01
    import pandas as pd

    engine = sa.create_engine(table_url)
    try:
        with engine.connect() as conn:
            frame = pd.read_sql_table("bc", conn)
    finally:
        engine.dispose()
    assert run.result.subjects[0].sha256 == frame_digest(frame)
    assert run.result.subjects[0].name == f"dataset:{table_url}#bc"


def test_sql_nulls_and_missing_table(tmp_path: Path, table_url: str) -> None:
    engine = sa.create_engine(table_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text('UPDATE bc SET "mean radius" = NULL WHERE target = 0'))
    finally:
        engine.dispose()
    ex = [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "mean radius"},
           "id": "radius"}]
    pol = policy(tmp_path, table_url, ex)
    run = run_gate_by_id("LG-DATA", pol, make_context(pol, artifacts={
        "dataset": f"{table_url}#bc"}), raise_on_block=False)
    rules = {f.rule for f in run.result.blocking_findings()}
    assert "DATA-EXPECTATION" in rules
    summary = json.loads(Path(run.result.evidence[1].uri).read_text())
    [failed] = summary["expectations"]["failed"]
    assert failed["id"] == "radius"
    assert failed["result"]["unexpected_count"] == int(np.ceil(212 / 2))
    missing = run_gate_by_id("LG-DATA", pol, make_context(pol, artifacts={
        "dataset": f"{table_url}#no_such_table"}), raise_on_block=False)
    assert missing.result.verdict is Verdict.ERROR
    assert "no_such_table" in missing.result.findings[0].message
