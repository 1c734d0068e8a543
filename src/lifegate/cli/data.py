"""``lifegate validate DATASET`` (LG-DATA) and ``lifegate drift`` (LG-DRIFT)."""

from __future__ import annotations

from pathlib import Path

import click

from lifegate.cli.options import policy_options, run_cli_gate
from lifegate.core import Policy


def _settings(policy: Policy, gate_id: str, **values: object) -> None:
    """Command-line options override the gate's settings in the policy."""
    from lifegate.core.policy import GateConfig

    cfg = policy.gates.setdefault(gate_id, GateConfig())
    cfg.settings.update({k: v for k, v in values.items() if v is not None})


def _dataset(value: str) -> str:
    """A local path made absolute (relative to where the command runs); URLs as given."""
    return value if "://" in value else str(Path(value).resolve())


@click.command("validate")
@click.argument("dataset")
@click.option("--suite", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="GX expectation suite JSON (default: the policy's suite/expectations)")
@click.option("--reference", default=None,
              help="trusted reference dataset for the poisoning checks")
@click.option("--label-column", default=None, help="label column for the label-shift check")
@click.option("--engine", type=click.Choice(["pandas", "spark"]), default=None,
              help="how to read the dataset (default: the policy, else pandas)")
@policy_options
def validate_cmd(policy: Policy, dataset: str, suite: Path | None, reference: str | None,
                 label_column: str | None, engine: str | None) -> None:
    """LG-DATA: validate DATASET (CSV, Parquet, or URL#table) with a Great Expectations
    suite and check it for poisoning against a reference."""
    _settings(policy, "LG-DATA", suite=str(suite.resolve()) if suite else None, engine=engine)
    if label_column is not None:
        checks = policy.gates["LG-DATA"].settings.setdefault("checks", {})
        checks["label_column"] = label_column
    run_cli_gate("LG-DATA", policy, dataset=_dataset(dataset),
                 **({"reference": _dataset(reference)} if reference else {}))


@click.command("drift")
@click.option("--reference", "-r", required=True, help="reference dataset (CSV, Parquet, "
              "URL#table)")
@click.option("--current", "-c", required=True, help="current dataset")
@click.option("--prediction-column", default=None,
              help="column holding the model's predictions in both datasets")
@click.option("--report-only", is_flag=True, default=False,
              help="report drift without blocking (exit 0)")
@policy_options
def drift_cmd(policy: Policy, reference: str, current: str, prediction_column: str | None,
              report_only: bool) -> None:
    """LG-DRIFT: per-feature PSI and Kolmogorov-Smirnov drift of CURRENT against
    REFERENCE, with an HTML and JSON drift report as evidence."""
    _settings(policy, "LG-DRIFT", prediction_column=prediction_column,
              blocking=False if report_only else None)
    run_cli_gate("LG-DRIFT", policy, reference=_dataset(reference),
                 current=_dataset(current))


COMMANDS = [validate_cmd, drift_cmd]
