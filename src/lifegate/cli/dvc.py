"""``lifegate dvc``: gates as DVC stages, the release check, its git hook, stages, lineage.

The DVC-specific code lives in ``lifegate.plugins`` and is imported inside each command, so
the CLI starts without it (and the core never imports DVC).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from lifegate.cli.options import BarSink, console, policy_options, show_run
from lifegate.core import GateRun, Policy

_root_opt = click.option("--dvc-root", type=click.Path(path_type=Path, file_okay=False),
                         default=None, help="the DVC project (default: the gate's dvc_root "
                         "setting, else the policy's folder)")


@click.group("dvc")
def dvc_group() -> None:
    """DVC pipelines: run gates as stages and check a release against dvc.lock."""


def _run(gate_id: str, policy: Policy, root: Path, artifacts: dict[str, str],
         receipt: Path | None = None) -> None:
    """One core call: the gate with a DVC platform reference; exit 1 when it blocks."""
    from lifegate.core import make_context, run_gate_by_id
    from lifegate.core.gate import gate_class
    from lifegate.core.progress import set_sink
    from lifegate.plugins.dvc_release import dvc_platform

    ctx = make_context(policy, gate_class(gate_id).phase, platform=dvc_platform(root),
                       artifacts=artifacts)
    set_sink(BarSink())
    try:
        run = run_gate_by_id(gate_id, policy, ctx, raise_on_block=False)
    finally:
        set_sink(None)
    if receipt is not None and not run.result.verdict.blocks:
        _write_receipt(receipt, run)
    show_run(run)


def _write_receipt(path: Path, run: GateRun) -> None:
    """A small file naming the passing run, so that later DVC stages can depend on it."""
    r = run.result
    body = {"gate": r.gate_id, "verdict": r.verdict.value, "ledger_seq": run.record.seq,
            "record_hash": run.record.record_hash,
            "subjects": {s.name: s.sha256 for s in r.subjects}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")


def _artifact(value: str) -> tuple[str, str]:
    role, sep, path = value.partition("=")
    if not sep or not role or not path:
        raise click.BadParameter(f"{value!r}: expected ROLE=PATH, e.g. model=models/model.pkl")
    return role, str(Path(path).resolve())


@dvc_group.command("gate")
@click.argument("gate_id")
@click.option("--artifact", "artifacts", multiple=True, metavar="ROLE=PATH",
              help="an input of the gate, e.g. model=models/model.joblib (repeatable)")
@click.option("--receipt", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="on pass, write this small JSON file (a stage output later stages can "
              "depend on)")
@policy_options
def gate_cmd(policy: Policy, gate_id: str, artifacts: tuple[str, ...],
             receipt: Path | None) -> None:
    """Run GATE_ID as a DVC stage command (records the stage, lock digest and commit)."""
    if receipt is not None:
        receipt.unlink(missing_ok=True)  # a failed run must not leave an old receipt behind
    _run(gate_id, policy, Path.cwd(), dict(_artifact(a) for a in artifacts), receipt)


@dvc_group.command("release-check")
@_root_opt
@click.option("--no-reuse", is_flag=True, help="hash every file, even when the previous "
              "release check's digests could be reused")
@click.option("--pre-push", is_flag=True, help="git pre-push mode: also require that the "
              "pushed commits hold the checked dvc.yaml and dvc.lock (refs on stdin)")
@policy_options
def release_check_cmd(policy: Policy, dvc_root: Path | None, no_reuse: bool,
                      pre_push: bool) -> None:
    """LG-RELEASE: exit non-zero, listing what is missing, unless the workspace is a
    releasable model: matches dvc.lock, signed and verified, gates passed on these bytes."""
    from lifegate.core.policy import GateConfig

    cfg = policy.gates.setdefault("LG-RELEASE", GateConfig())
    if no_reuse:
        cfg.settings["reuse_digests"] = False
    root = dvc_root.resolve() if dvc_root else policy.resolve(
        cfg.settings.get("dvc_root", "."))
    artifacts = {"dvc_root": str(root)}
    if pre_push:
        from lifegate.plugins._dvc_git import pushed_commits

        commits = pushed_commits(sys.stdin.read())
        if not commits:
            console.print("lifegate: nothing to push but deletions; no release check needed")
            return
        artifacts["git_commits"] = ",".join(commits)
    _run("LG-RELEASE", policy, root, artifacts)


@dvc_group.command("install-hook")
@_root_opt
@click.option("--force", is_flag=True, help="replace a pre-push hook lifegate did not write")
def install_hook_cmd(dvc_root: Path | None, force: bool) -> None:
    """Install a git pre-push hook that runs the release check before every push."""
    from lifegate.plugins._dvc_git import install_hook

    hook = install_hook((dvc_root or Path.cwd()).resolve(), force)
    console.print(f"installed {hook}: `git push` now runs `lifegate dvc release-check`")


@dvc_group.command("stages")
@click.option("--model", required=True, help="the model output, e.g. models/model.joblib")
@click.option("--dataset", "datasets", multiple=True, help="a dataset for LG-DATA (repeatable)")
@click.option("--add", "add", is_flag=True, help="add them to dvc.yaml instead of printing")
@click.option("--force", is_flag=True, help="with --add: replace stages of the same name")
@click.option("--file", "dvc_yaml", type=click.Path(path_type=Path, dir_okay=False),
              default=Path("dvc.yaml"), show_default=True, help="the pipeline file")
def stages_cmd(model: str, datasets: tuple[str, ...], add: bool, force: bool,
               dvc_yaml: Path) -> None:
    """Print (or add) dvc.yaml stages for lifegate's gates and the release check."""
    from lifegate.plugins._dvc_stages import add_stages, render, stages, upstream_outputs

    new = stages(model, list(datasets), upstream_outputs(dvc_yaml))
    if add:
        added = add_stages(dvc_yaml, new, force)
        console.print(f"added to {dvc_yaml}: {', '.join(added)}")
    else:
        click.echo(render(new), nl=False)


@dvc_group.command("lineage")
@_root_opt
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="formulation steps as JSON (LG-SBOM's `formulation` reads it)")
@click.option("--datasets-out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="also write each dataset's provenance as JSON")
@policy_options
def lineage_cmd(policy: Policy, dvc_root: Path | None, out: Path,
                datasets_out: Path | None) -> None:
    """Write the DVC stage graph (commands, deps, outs, params, SHA-256) as ML-BOM lineage."""
    from lifegate.plugins.dvc_release import lineage_of

    steps, datasets = lineage_of(policy, dvc_root)
    out.write_text(json.dumps(steps, indent=2) + "\n")
    if datasets_out is not None:
        datasets_out.write_text(json.dumps(datasets, indent=2) + "\n")
    console.print(f"{len(steps['steps'])} steps written to {out}")


COMMANDS = [dvc_group]
