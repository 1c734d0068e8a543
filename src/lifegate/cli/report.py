"""``lifegate report``: conformity per EN 304 223 provision, computed from the ledger."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from lifegate.cli.options import console, reader_policy_options
from lifegate.core import Policy


@click.command("report")
@click.option("--format", "formats", default="html,json,md,junit,sarif", show_default=True,
              help="comma-separated: html, json, md, junit, sarif")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              default=Path("lifegate-report"), show_default=True, help="output folder")
@click.option("--release", default=None, help="sha256 of the release the report is about")
@click.option("--fail-on", default=None,
              help="override the policy's conformity.fail_on (comma list; 'none' never fails)")
@reader_policy_options
def report_cmd(policy: Policy, formats: str, out: Path, release: str | None,
               fail_on: str | None) -> None:
    """Write the conformity report; exit 1 when a required provision fails it."""
    from lifegate.evidence.ledger import open_ledger
    from lifegate.reports.conformity import evaluate
    from lifegate.reports.formats import parse_formats, write_reports

    fmts = parse_formats(formats)
    if fail_on is not None:
        policy.conformity.fail_on = [] if fail_on == "none" else fail_on.split(",")
    led = open_ledger(policy, write=False)
    checked = led.verify()  # never report from a ledger that does not verify
    report = evaluate(led.entries(stop=checked.head_seq), policy, ledger=led.location,
                      release=release)
    paths = write_reports(report, fmts, out)
    table = Table(title=f"{report.system} {report.system_version}: EN 304 223 conformity")
    for status in report.counts:
        table.add_column(status)
    table.add_row(*(str(n) for n in report.counts.values()))
    console.print(table)
    for p in paths:
        console.print(f"wrote {p}")
    if not report.passed:
        console.print(f"[red]{len(report.blocking)} required provisions are "
                      f"{'/'.join(report.fail_on)}[/red]: {', '.join(report.blocking[:12])}"
                      + (" ..." if len(report.blocking) > 12 else ""))
        raise SystemExit(1)


COMMANDS = [report_cmd]
