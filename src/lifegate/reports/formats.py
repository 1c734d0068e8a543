"""Report output formats: one enum, one protocol, one place mapping the two.

Each format lives in its own module (``json_format``, ``markdown``, ``html``, ``junit``,
``sarif``) and is imported only when asked for. The small helpers at the bottom are shared by
the human-readable renderers so that every format names principles and statuses the same way.
"""

from __future__ import annotations

import enum
import functools
import logging
import os
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import ValidationError

from lifegate.core.errors import ConfigError, EvidenceError
from lifegate.reports.conformity import ConformityReport, ProvisionStatus, Status

__all__ = [
    "Renderer",
    "ReportFormat",
    "parse_formats",
    "renderer",
    "write_reports",
]

logger = logging.getLogger(__name__)

STANDARD_LABEL = "EN 304 223"
REPORT_STEM = "conformity"


class ReportFormat(enum.StrEnum):
    HTML = "html"
    JSON = "json"
    MD = "md"
    JUNIT = "junit"
    SARIF = "sarif"


class Renderer(Protocol):
    """Turns a conformity report into the text of one file."""

    @property
    def extension(self) -> str:
        """File name extension without the leading dot, e.g. ``junit.xml``."""
        ...

    @property
    def media_type(self) -> str: ...

    def render(self, report: ConformityReport) -> str: ...


def renderer(fmt: ReportFormat) -> Renderer:
    """The renderer for ``fmt``; the one place mapping formats to implementations."""
    match fmt:
        case ReportFormat.HTML:
            from lifegate.reports.html import HtmlRenderer

            return HtmlRenderer()
        case ReportFormat.JSON:
            from lifegate.reports.json_format import JsonRenderer

            return JsonRenderer()
        case ReportFormat.MD:
            from lifegate.reports.markdown import MarkdownRenderer

            return MarkdownRenderer()
        case ReportFormat.JUNIT:
            from lifegate.reports.junit import JUnitRenderer

            return JUnitRenderer()
        case ReportFormat.SARIF:
            from lifegate.reports.sarif import SarifRenderer

            return SarifRenderer()


def parse_formats(text: str) -> list[ReportFormat]:
    """Parse a comma list such as ``"html,json"``; order kept, duplicates dropped."""
    known = ", ".join(f.value for f in ReportFormat)
    formats: list[ReportFormat] = []
    for raw in text.split(","):
        name = raw.strip().lower()
        if not name:
            continue
        try:
            fmt = ReportFormat(name)
        except ValueError:
            raise ConfigError(
                f"unknown report format {raw.strip()!r}",
                where=f"report formats {text!r}",
                fix=f"use one or more of: {known} (comma-separated)",
            ) from None
        if fmt not in formats:
            formats.append(fmt)
    if not formats:
        raise ConfigError("no report format given", where=f"report formats {text!r}",
                          fix=f"use one or more of: {known} (comma-separated)")
    return formats


def write_reports(report: ConformityReport, formats: Iterable[ReportFormat],
                  out_dir: Path) -> list[Path]:
    """Write ``conformity.<ext>`` into ``out_dir`` for each format, each file atomically."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_error(out_dir, exc) from exc
    written: list[Path] = []
    for fmt in dict.fromkeys(formats):
        impl = renderer(fmt)
        path = out_dir / f"{REPORT_STEM}.{impl.extension}"
        _atomic_write(path, impl.render(report))
        logger.info("wrote %s report to %s", fmt.value, path)
        written.append(path)
    return written


def _atomic_write(path: Path, text: str) -> None:
    """Write to a temporary file next to ``path``, then rename it over ``path``."""
    try:
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _write_error(path, exc) from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.chmod(0o644)  # reports are for sharing; mkstemp creates files as 0600
        os.replace(tmp, path)
    except OSError as exc:
        raise _write_error(path, exc) from exc
    finally:
        tmp.unlink(missing_ok=True)  # already gone when os.replace succeeded


def _write_error(path: Path, exc: OSError) -> EvidenceError:
    return EvidenceError(f"cannot write the report: {exc.strerror or exc}", where=str(path),
                         fix="check that the output directory is writable and has free space")


# -- helpers shared by the renderers ------------------------------------------------------


@functools.cache
def _catalog_titles() -> dict[int, str]:
    from lifegate.catalog import load_catalog

    try:
        catalog = load_catalog()
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        logger.debug("principle titles unavailable, catalog not loaded: %s", exc)
        return {}
    return {p.number: p.title for p in catalog.principles}


def principle_title(number: int) -> str | None:
    """The principle's title from the catalog, or None when the catalog is unavailable."""
    return _catalog_titles().get(number)


def principle_heading(number: int) -> str:
    """``Principle 2: Design ...``, or ``Principle 2`` when the catalog is unavailable."""
    title = principle_title(number)
    return f"Principle {number}: {title}" if title else f"Principle {number}"


def by_principle(report: ConformityReport) -> list[tuple[int, list[ProvisionStatus]]]:
    """Provisions grouped by principle number, principles ascending, report order kept."""
    groups: dict[int, list[ProvisionStatus]] = {}
    for row in report.provisions:
        groups.setdefault(row.principle, []).append(row)
    return sorted(groups.items())


def status_label(status: Status) -> str:
    """``NOT APPLICABLE`` for ``not-applicable``: status as words, never only as colour."""
    return status.value.replace("-", " ").upper()


def count_rows(report: ConformityReport) -> list[tuple[Status, int]]:
    """Every status in the enum's order with its count (0 when absent)."""
    return [(s, report.counts.get(s.value, 0)) for s in Status]


def format_time(value: datetime) -> str:
    """A fixed, timezone-explicit form: ``2025-01-31 12:00:00 UTC`` (naive counts as UTC)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_time(value: datetime) -> str:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ledger_label(location: str) -> str:
    """The ledger location for display, with any password in a URL replaced by ``***``."""
    try:
        parts = urlsplit(location)
        password = parts.password
    except ValueError:
        return location
    if not password:
        return location
    netloc = parts.netloc.replace(f":{password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
