"""Shared CLI options, console and helpers."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from lifegate.core import GateRun, Policy, Verdict, load_policy

F = TypeVar("F", bound=Callable[..., Any])

console = Console()
err_console = Console(stderr=True)


def policy_options(func: F) -> F:
    """--policy and --ledger-url, loaded into a Policy passed as ``policy``."""

    @click.option("--policy", "-p", "policy_path", type=click.Path(path_type=Path),
                  envvar="LIFEGATE_POLICY", help="lifegate.yaml (default: ./lifegate.yaml)")
    @click.option("--ledger-url", envvar="LIFEGATE_LEDGER_URL",
                  help="ledger database URL (overrides the policy)")
    @functools.wraps(func)
    def wrapper(*args: Any, policy_path: Path | None, ledger_url: str | None,
                **kwargs: Any) -> Any:
        overrides: dict[tuple[str, ...], Any] | None = (
            {("ledger", "url"): ledger_url} if ledger_url else None)
        return func(*args, policy=load_policy(policy_path, overrides=overrides), **kwargs)

    return wrapper  # type: ignore[return-value]


_STYLE = {Verdict.PASS: "green", Verdict.WAIVED: "yellow", Verdict.FAIL: "red",
          Verdict.ERROR: "red"}


def show_run(run: GateRun) -> None:
    """Print a gate run's verdict and findings; exit 1 when it blocks."""
    r = run.result
    console.print(f"[bold]{r.gate_id}[/bold]: [{_STYLE[r.verdict]}]{r.verdict.value}"
                  f"[/{_STYLE[r.verdict]}]  (evidence {run.record})")
    for f in r.findings:
        mark = "waived" if f.waived_by else ("BLOCKS" if f.blocking else f.severity.value)
        loc = f"  [{f.location}]" if f.location else ""
        console.print(f"  - {mark}: {f.message}{loc}", markup=False)
    if r.verdict.blocks:
        raise SystemExit(1)


def run_cli_gate(gate_id: str, policy: Policy) -> None:
    from lifegate.core import run_gate_by_id

    show_run(run_gate_by_id(gate_id, policy, raise_on_block=False))
