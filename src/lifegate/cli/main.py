"""The ``lifegate`` command: a click group; each subcommand lives in its own module."""

from __future__ import annotations

import logging
import os
import sys

import click

from lifegate.cli import (
    approval,
    attest,
    catalog,
    data,
    dvc,
    gates,
    init,
    keys,
    ledger,
    model,
    report,
    retire,
    sbom,
)
from lifegate.cli.options import err_console
from lifegate.core.errors import LifegateError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="more log output (-vv for debug)")
@click.version_option(package_name="lifegate")
def cli(verbose: int) -> None:
    """Security gates for ML pipelines, with evidence for ETSI EN 304 223."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


for module in (init, keys, catalog, ledger, attest, report, gates, model, data, approval,
               sbom, retire, dvc):
    for command in module.COMMANDS:
        cli.add_command(command)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
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
