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

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def _options(func: F, *, reader: bool) -> F:
    @click.option("--policy", "-p", "policy_path", type=click.Path(path_type=Path),
                  envvar="LIFEGATE_POLICY", help="lifegate.yaml (default: ./lifegate.yaml)")
    @click.option("--ledger-url", envvar="LIFEGATE_LEDGER_URL",
                  help="ledger database URL (overrides the policy)")
    @functools.wraps(func)
    def wrapper(*args: Any, policy_path: Path | None, ledger_url: str | None,
                **kwargs: Any) -> Any:
        return func(*args, policy=load_cli_policy(policy_path, ledger_url, reader=reader),
                    **kwargs)

    return wrapper  # type: ignore[return-value]


def load_cli_policy(policy_path: Path | None, ledger_url: str | None, *,
                    reader: bool = False) -> Policy:
    """The policy of --policy / --ledger-url; a reader's policy must be a file that exists."""
    overrides: dict[tuple[str, ...], Any] | None = (
        {("ledger", "url"): ledger_url} if ledger_url else None)
    if reader:
        _require_policy_file(policy_path)
    return load_policy(policy_path, overrides=overrides)


def policy_options(func: F) -> F:
    """--policy and --ledger-url, loaded into a Policy passed as ``policy``."""
    return _options(func, reader=False)


def reader_policy_options(func: F) -> F:
    """The same, for read-only commands: the policy must be a file that exists (a reader
    never works on defaults it made up, and never creates a policy, key or ledger)."""
    return _options(func, reader=True)


def _require_policy_file(path: Path | None) -> None:
    from lifegate.core.errors import ConfigError
    from lifegate.core.policy import find_policy_file

    file = find_policy_file(path)
    if file is None:
        raise ConfigError(f"no lifegate.yaml in {Path.cwd()}", fix="run this in the project "
                          "folder, pass --policy FILE (or set LIFEGATE_POLICY), or create one "
                          "with `lifegate init`")
    if not file.is_file():
        raise ConfigError(f"the policy {file} is not a file", where=str(file),
                          fix="pass the path of your lifegate.yaml")


_STYLE = {Verdict.PASS: "green", Verdict.WAIVED: "yellow", Verdict.FAIL: "red",
          Verdict.ERROR: "red"}


def show_run(run: GateRun) -> None:
    """Print a gate run's verdict and findings; exit 1 when it blocks."""
    r = run.result
    console.print(f"[bold]{r.gate_id}[/bold]: [{_STYLE[r.verdict]}]{r.verdict.value}"
                  f"[/{_STYLE[r.verdict]}]  (evidence {run.record})")
    for s in r.subjects:
        console.print(f"  {s.name}  sha256:{s.sha256}", markup=False)
    for f in r.findings:
        mark = "waived" if f.waived_by else ("BLOCKS" if f.blocking else f.severity.value)
        loc = f"  [{f.location}]" if f.location else ""
        console.print(f"  - {mark}: {f.message}{loc}", markup=False)
    if r.verdict.blocks:
        raise SystemExit(1)


def run_cli_gate(gate_id: str, policy: Policy, **artifacts: str) -> None:
    """Run one gate with a progress bar for big inputs; ``artifacts`` name its inputs."""
    from lifegate.core import make_context, run_gate_by_id
    from lifegate.core.gate import gate_class
    from lifegate.core.progress import set_sink

    ctx = make_context(policy, gate_class(gate_id).phase, artifacts=artifacts)
    set_sink(BarSink())
    try:
        run = run_gate_by_id(gate_id, policy, ctx, raise_on_block=False)
    finally:
        set_sink(None)
    show_run(run)


class BarSink:
    """A rich progress bar on a terminal for work over ``threshold`` bytes (100 MB by default).
    Where stderr is no terminal (a CI log, a file) there is no bar: rich would draw nothing
    there, and its refresh thread would take a share of the cores the hashing uses."""

    def __init__(self, threshold: int = 100_000_000) -> None:
        self.threshold = threshold
        self._bar: Any = None

    def start(self, label: str, total: int) -> None:
        if total < self.threshold or not err_console.is_terminal:
            return
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._bar = Progress("[progress.description]{task.description}", BarColumn(),
                             DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                             console=err_console, transient=True)
        self._bar.start()
        self._task = self._bar.add_task(label, total=total)

    def advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
