"""lifegate benchmarks: signed ledger appends, ledger verify, the conformity report,
inventory hashing and model signing against the machine's SHA-256 limit, and the LG-SCAN
model scanner against reading the file. Each figure is printed next to a baseline measured in
the same run; everything is also written as JSON.

    .venv/bin/python benchmarks/run.py [--quick] [--only NAME[,NAME]] [--pg-url URL] [--out FILE]

See benchmarks/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import ssl
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from _common import FULL, QUICK, Row, Section, Sizes, make_key

# The section modules are imported where they are used: each spawned append writer
# re-imports this script, and should not pay for what it does not run.

DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"
SECTIONS = ("ledger_append", "ledger_verify", "conformity_report", "inventory_hashing",
            "signing", "scan", "data", "sbom", "kedro", "airflow", "dvc")


def section_list(value: str) -> tuple[str, ...]:
    """``--only signing,scan``: a comma-separated subset of SECTIONS, run in SECTIONS order."""
    names = {n.strip() for n in value.split(",") if n.strip()}
    unknown = sorted(names - set(SECTIONS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown section {', '.join(unknown) or repr(value)}; choose from "
            f"{', '.join(SECTIONS)}")
    return tuple(n for n in SECTIONS if n in names)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (about 30 s): a smoke run, not a measurement")
    parser.add_argument("--only", type=section_list, default=SECTIONS, metavar="NAME[,NAME]",
                        help=f"run only these sections: {', '.join(SECTIONS)}")
    parser.add_argument("--pg-url", metavar="URL",
                        help="PostgreSQL server for the append benchmark, e.g. "
                        "postgresql+psycopg://user:pw@host/postgres (needs CREATE DATABASE); "
                        "PostgreSQL is skipped without it")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="FILE",
                        help=f"JSON results (default: {DEFAULT_OUT})")
    parser.add_argument("--tmp-dir", type=Path, default=None, metavar="DIR",
                        help="where to put the temporary ledgers and files (default: $TMPDIR)")
    return parser.parse_args(argv)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def meta(quick: bool, sizes: Sizes, sections: tuple[str, ...]) -> dict[str, Any]:
    return {"quick": quick, "sections": list(sections),
            "started_at": datetime.now(UTC).isoformat(),
            "lifegate": _version("lifegate"), "python": platform.python_version(),
            "platform": platform.platform(), "cpus": os.cpu_count(),
            "openssl": ssl.OPENSSL_VERSION, "sqlite": sqlite3.sqlite_version,
            "sqlalchemy": _version("sqlalchemy"), "cryptography": _version("cryptography"),
            "loadavg_start": list(os.getloadavg()), "sizes": asdict(sizes)}


def _appends(folder: Path, key: Path, sizes: Sizes, pg_url: str | None) -> Section:
    from _append import append_bench, skipped_append
    from _databases import PostgresBackend, SqliteBackend

    sqlite_data, rows = append_bench(SqliteBackend(folder), key, sizes)
    if pg_url:
        pg_data, pg_rows = append_bench(PostgresBackend(pg_url), key, sizes)
    else:
        pg_data, pg_rows = skipped_append("PostgreSQL", "no --pg-url given")
    return {"sqlite": sqlite_data, "postgresql": pg_data}, rows + pg_rows


def run_all(args: argparse.Namespace) -> tuple[dict[str, Any], list[Row]]:
    from _airflow import airflow_bench
    from _data import data_bench
    from _dvc import dvc_bench
    from _hashing import hashing_bench
    from _kedro import kedro_bench
    from _report import report_bench
    from _sbom import sbom_bench
    from _scan import scan_bench
    from _signing import signing_bench
    from _verify import verify_bench

    sizes = QUICK if args.quick else FULL
    results: dict[str, Any] = {"meta": meta(args.quick, sizes, args.only)}
    rows: list[Row] = []
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lifegate-bench-", dir=args.tmp_dir) as tmp:
        folder = Path(tmp)
        key = make_key(folder)
        steps: dict[str, Callable[[], Section]] = {
            "ledger_append": lambda: _appends(folder, key, sizes, args.pg_url),
            "ledger_verify": lambda: verify_bench(folder, key, sizes),
            "conformity_report": lambda: report_bench(folder, key, sizes),
            "inventory_hashing": lambda: hashing_bench(folder, key, sizes),
            "signing": lambda: signing_bench(folder, sizes),
            "scan": lambda: scan_bench(folder, key, sizes),
            "dvc": lambda: dvc_bench(folder, args.quick),
            "data": lambda: data_bench(folder, args.quick),
            "sbom": lambda: sbom_bench(folder, sizes),
            "kedro": lambda: kedro_bench(folder, args.quick),
            "airflow": lambda: airflow_bench(folder, args.quick),
        }
        for name in args.only:
            print(f"[bench] {name} ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            data, section_rows = steps[name]()
            results[name] = {**data, "wall_seconds": round(time.perf_counter() - t0, 2)}
            rows += section_rows
    results["meta"].update(seconds=round(time.perf_counter() - t_start, 2),
                           loadavg_end=list(os.getloadavg()))
    return results, rows


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.1f}" if abs(x) >= 10 else f"{x:.3f}"


def format_table(rows: list[Row]) -> str:
    """Figure, value and unit, the same-run baseline, and value/baseline; notes below."""
    cells = [("figure", "value", "unit", "baseline (same run)", "value/baseline")]
    notes: dict[int, str] = {}
    for i, r in enumerate(rows, start=1):
        base = f"{_num(r.baseline)} {r.baseline_what}" if r.baseline is not None else "-"
        ratio = f"{r.value / r.baseline:.2f}" if r.value is not None and r.baseline else "-"
        cells.append((r.name, "-" if r.value is None else _num(r.value), r.unit, base, ratio))
        if r.note:
            notes[i] = r.note
    widths = [max(len(c[k]) for c in cells) for k in range(5)]
    lines = []
    for i, c in enumerate(cells):
        lines.append("  ".join([c[0].ljust(widths[0]), c[1].rjust(widths[1]),
                                c[2].ljust(widths[2]), c[3].ljust(widths[3]),
                                c[4].rjust(widths[4])]).rstrip())
        if i == 0:
            lines.append("-" * len(lines[0]))
        if i in notes:
            lines.append(f"    {notes[i]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results, rows = run_all(args)
    m = results["meta"]
    print(f"lifegate {m['lifegate']} benchmarks ({'quick' if args.quick else 'full'}): "
          f"Python {m['python']}, {m['cpus']} CPUs, {m['openssl']}, SQLite {m['sqlite']}; "
          f"load {m['loadavg_start'][0]:.2f} -> {m['loadavg_end'][0]:.2f}; "
          f"{m['seconds']:.1f} s")
    print(format_table(rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
