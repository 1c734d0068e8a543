"""``kedro lifegate ...``: lifegate's commands with the project's ``conf/<env>/lifegate.yml``.

Registered through the ``kedro.project_commands`` entry point (``commands`` below). ``report``,
``approve``, ``reject``, ``approval`` and ``retire`` are lifegate's own commands, given the
project's policy instead of a ``lifegate.yaml``; ``verify`` checks the model datasets the
config names, found through the project's catalog.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

__all__ = ["commands"]

_ENV_KEY = "lifegate.kedro_env"
_POLICY_PARAMS = ("policy_path", "ledger_url")


@contextmanager
def _errors() -> Iterator[None]:
    """Show a LifegateError the way the ``lifegate`` command does, and exit with its code."""
    from lifegate.core.errors import LifegateError

    try:
        yield
    except LifegateError as exc:
        click.echo(f"error: {exc.diagnostics()}", err=True)
        raise SystemExit(exc.exit_code) from None


def _project() -> tuple[Any, Any]:
    """The lifegate config and the Kedro context of the project the command runs in."""
    from lifegate.core.errors import ConfigError

    ctx = click.get_current_context()
    metadata = ctx.find_root().obj
    project = getattr(metadata, "project_path", None)
    if project is None:
        raise ConfigError("`kedro lifegate` works inside a Kedro project only",
                          where=str(Path.cwd()),
                          fix="run it in the project folder (the one with pyproject.toml "
                          "and [tool.kedro]), or use the `lifegate` command with a policy")
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from lifegate.plugins._kedro_config import load_config

    bootstrap_project(Path(project))
    session: Any = KedroSession.create(project_path=Path(project), env=ctx.meta.get(_ENV_KEY))
    with session:
        context = session.load_context()
    config = load_config(context.config_loader, Path(context.project_path))
    if config is None:
        raise ConfigError("this Kedro project has no lifegate configuration",
                          where=f"{project}/conf/<env>/lifegate.yml",
                          fix="write conf/base/lifegate.yml (see docs/kedro.md)")
    return config, context


def _adopt(command: click.Command) -> click.Command:
    """The same command, given the project's policy instead of --policy/--ledger-url."""
    if isinstance(command, click.Group):
        group = click.Group(command.name, help=command.help, short_help=command.short_help)
        for sub in command.commands.values():
            group.add_command(_adopt(sub))
        return group
    original: Callable[..., Any] | None = getattr(command.callback, "__wrapped__", None)
    if original is None:
        return command

    def callback(**kwargs: Any) -> Any:
        with _errors():
            config, _ = _project()
            return original(policy=config.policy, **kwargs)

    return click.Command(command.name, callback=callback, help=command.help,
                         short_help=command.short_help,
                         params=[p for p in command.params if p.name not in _POLICY_PARAMS])


@click.group(name="lifegate")
def commands() -> None:
    """lifegate project commands."""


@commands.group(name="lifegate")
@click.option("--env", "-e", envvar="KEDRO_ENV", default=None,
              help="Kedro configuration environment (default: the project's)")
@click.pass_context
def lifegate(ctx: click.Context, env: str | None) -> None:
    """Security gates and EN 304 223 evidence for this project (conf/<env>/lifegate.yml)."""
    ctx.meta[_ENV_KEY] = env


@lifegate.command("verify")
@click.option("--dataset", "datasets", multiple=True,
              help="model dataset to verify (repeatable; default: every catalog dataset that "
              "kedro.models in lifegate.yml names)")
def verify(datasets: tuple[str, ...]) -> None:
    """LG-VERIFY the project's model datasets: signature, trusted key, release, revocation."""
    from lifegate.cli.options import show_run
    from lifegate.core import make_context, run_gate_by_id
    from lifegate.core.errors import ConfigError
    from lifegate.plugins._kedro_run import KedroRun, dataset_path

    with _errors():
        config, context = _project()
        catalog = context.catalog
        names = list(datasets) or [n for n in catalog.keys() if config.model_rule(n)]
        if not names:
            raise ConfigError("no model datasets to verify", where=str(config.files[0]),
                              fix="name them under kedro.models, or pass --dataset")
        run, blocked = KedroRun(config), []
        for name in names:
            rule = config.model_rule(name)
            policy = run.policy_for("LG-VERIFY", rule.settings.get("LG-VERIFY", {})
                                    if rule else {})
            ctx = make_context(policy, artifacts={"model": dataset_path(catalog, name)})
            gate_run = run_gate_by_id("LG-VERIFY", policy, ctx, raise_on_block=False)
            click.echo(f"dataset {name}:")
            try:
                show_run(gate_run)
            except SystemExit:
                blocked.append(name)
    if blocked:
        raise SystemExit(1)


def _lifegate_commands() -> list[click.Command]:
    from lifegate.cli import approval, report, retire

    return [*report.COMMANDS, *approval.COMMANDS, *retire.COMMANDS]


for _command in _lifegate_commands():
    if _command.name not in ("disclose",):
        lifegate.add_command(_adopt(_command))
