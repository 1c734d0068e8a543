"""``lifegate sbom`` on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sbom_helpers import DATASET, STEPS, advisory, ml_project, osv, sbom_policy, synthetic_env

from lifegate.cli.main import cli
from lifegate.gates._sbom_schema import schema_errors


@pytest.fixture
def project(tmp_path: Path) -> Path:
    ml_project(tmp_path)
    synthetic_env(tmp_path / "site")
    sbom_policy(tmp_path, tmp_path / "site", datasets=[DATASET])
    (tmp_path / "steps.json").write_text(json.dumps(STEPS))
    (tmp_path / "metrics.json").write_text('{"accuracy": 0.93}')
    return tmp_path


def invoke(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["sbom", "-p", str(project / "lifegate.yaml"), *args],
                                catch_exceptions=False)
    return result.exit_code, result.output


def test_cli_writes_a_validated_ml_bom(project: Path) -> None:
    out = project / "bom" / "ml.cdx.json"
    code, output = invoke(project, "--model", str(project / "models/clf"), "--out", str(out),
                          "--spec-version", "1.7", "--formulation", str(project / "steps.json"),
                          "--metrics", str(project / "metrics.json"))
    assert code == 0, output
    assert "LG-SBOM: pass" in output and "bom/ml.cdx.json  sha256:" in output
    doc = json.loads(out.read_text())
    assert doc["specVersion"] == "1.7" and schema_errors(doc, "1.7") == []
    model = next(c for c in doc["components"] if c["type"] == "machine-learning-model")
    assert model["modelCard"]["quantitativeAnalysis"]["performanceMetrics"] == [
        {"type": "accuracy", "value": "0.93"}]
    assert [t["name"] for t in doc["formulation"][0]["workflows"][0]["tasks"]] == ["prepare",
                                                                                    "fit"]


def test_cli_exit_code_on_a_vulnerable_environment(project: Path) -> None:
    osv(project / "osv", "a", advisory("PYSEC-2025-0201", "gamma", [{"introduced": "0"}]))
    code, output = invoke(project, "--model", str(project / "models/clf"),
                          "--advisories", str(project / "osv"))
    assert code == 1
    assert "BLOCKS: gamma 0.5 is affected by PYSEC-2025-0201" in output
