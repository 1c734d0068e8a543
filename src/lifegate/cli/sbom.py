"""``lifegate sbom``: the CycloneDX ML-BOM (LG-SBOM)."""

from __future__ import annotations

from pathlib import Path

import click

from lifegate.cli.options import policy_options, run_cli_gate
from lifegate.core import Policy


@click.command("sbom")
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="BOM file (default: <model>.cdx.json beside the model, else sbom.cdx.json)")
@click.option("--model", "model", type=click.Path(path_type=Path), default=None,
              help="model file or folder (default: the gate's `model` setting)")
@click.option("--spec-version", type=click.Choice(["1.6", "1.7"]), default=None,
              help="CycloneDX version (default 1.6)")
@click.option("--formulation", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="JSON file of the pipeline steps that made the model")
@click.option("--metrics", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="JSON file of evaluation metrics for the model card")
@click.option("--advisories", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="folder of OSV JSON advisories to check the environment against")
@policy_options
def sbom_cmd(policy: Policy, out: Path | None, model: Path | None, spec_version: str | None,
             formulation: Path | None, metrics: Path | None, advisories: Path | None) -> None:
    """LG-SBOM: write a validated CycloneDX ML-BOM of the environment, model and data."""
    from lifegate.core.policy import GateConfig

    cfg = policy.gates.setdefault("LG-SBOM", GateConfig())
    if spec_version:
        cfg.settings["spec_version"] = spec_version
    if advisories:
        cfg.settings["advisories"] = str(advisories.resolve())
    artifacts = {role: str(path.resolve()) for role, path in
                 (("sbom", out), ("model", model), ("formulation", formulation),
                  ("metrics", metrics)) if path is not None}
    run_cli_gate("LG-SBOM", policy, **artifacts)


COMMANDS = [sbom_cmd]
