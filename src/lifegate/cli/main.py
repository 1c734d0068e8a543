"""The ``lifegate`` command: a click group; each subcommand lives in its own module, which
loads only when that command runs (or ``--help`` lists them all)."""

from __future__ import annotations

import gc
import importlib
import logging
import os
import sys

import click

from lifegate.cli.options import err_console
from lifegate.core.errors import LifegateError

# Each command, and the module under lifegate.cli whose COMMANDS holds it.
COMMAND_MODULES = {
    "init": "init", "keys": "keys", "catalog": "catalog", "ledger": "ledger",
    "attest": "attest", "na": "attest", "report": "report",
    "inventory": "gates", "threat-model": "gates", "check": "gates",
    "scan": "model", "sign": "model", "verify": "model", "revoke": "model", "release": "model",
    "validate": "data", "drift": "data",
    "disclose": "approval", "approve": "approval", "reject": "approval", "approval": "approval",
    "sbom": "sbom", "retire": "retire", "dvc": "dvc",
}


class LazyGroup(click.Group):
    """Imports a command's module when the command is looked up, not at start-up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is None:
            return None
        commands: list[click.Command] = importlib.import_module(f"lifegate.cli.{module}").COMMANDS
        return next(c for c in commands if c.name == cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="more log output (-vv for debug)")
@click.version_option(package_name="lifegate")
def cli(verbose: int) -> None:
    """Security gates for ML pipelines, with evidence for ETSI EN 304 223."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _write_checkpoints() -> None:
    """A command that appended ends by checkpointing the ledger head (errors shown here)."""
    if "lifegate.evidence.ledger" in sys.modules:  # only a command that used the ledger
        from lifegate.evidence.ledger import close_pending

        close_pending()


def main() -> None:
    """The console script: runs a command, prints a LifegateError as one clear message with
    its exit code, and leaves the process."""
    try:
        _run()
    finally:
        # The process ends now: the collector's last passes over every object the imports
        # made (about 0.1 s once the signing libraries are loaded) would free nothing the
        # exit does not. Objects still close as their last reference goes.
        gc.disable()
        gc.freeze()


def _run() -> None:
    try:
        cli.main(standalone_mode=False)
        _write_checkpoints()
    except LifegateError as exc:
        err_console.print(f"[bold red]error:[/bold red] {exc.diagnostics()}", markup=True,
                          highlight=False)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug in lifegate or an unexpected environment
        if os.environ.get("LIFEGATE_DEBUG"):
            raise
        err_console.print(f"[bold red]internal error:[/bold red] {type(exc).__name__}: {exc}\n"
                          "  set LIFEGATE_DEBUG=1 for the traceback, and please report it",
                          highlight=False)
        sys.exit(70)
