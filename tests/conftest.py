"""Session-wide test setup: offline switches, and a real PostgreSQL server for ledger tests.

The server is started once per session, as the ``postgres`` user when the tests run as root
(``initdb`` refuses to run as root), listens on 127.0.0.1 only, on a free port, with its socket
and data in a private temporary folder, and is stopped at the end of the session. When it
cannot start, the PostgreSQL tests fail under CI (``CI`` set) and are skipped elsewhere.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

pytest_plugins = ["fixtures_signing"]  # keys, a model and a signing policy

OFFLINE_ENV = {
    "KEDRO_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "DVC_NO_ANALYTICS": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
}
for _name, _value in OFFLINE_ENV.items():
    os.environ.setdefault(_name, _value)

PG_USER = "lifegate"
PG_DB = "lifegate"
_PG_SERVICE_USER = "postgres"


class _PgUnavailable(Exception):
    """The PostgreSQL server for the tests cannot be started (message says why)."""


def _pg_bindir() -> Path:
    """The folder holding both ``initdb`` and ``pg_ctl``: PATH first, then Debian's layout."""
    candidates = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                      key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0,
                      reverse=True)
    candidates += [Path(p) for p in versions]
    for d in candidates:
        if (d / "initdb").is_file() and (d / "pg_ctl").is_file():
            return d
    raise _PgUnavailable("initdb and pg_ctl were not found on PATH or in "
                         "/usr/lib/postgresql/*/bin; install Debian's `postgresql` package "
                         "(`make test` does that)")


def _as_service_user() -> list[str]:
    """Command prefix that drops root privileges to the postgres user (nothing otherwise)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(_PG_SERVICE_USER)
    except KeyError:
        raise _PgUnavailable(f"running as root, but there is no `{_PG_SERVICE_USER}` user to "
                             "run the server as (initdb refuses to run as root)") from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise _PgUnavailable("running as root, but `runuser` is not available")
    return [runuser, "-u", _PG_SERVICE_USER, "--"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], timeout: float = 120) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise _PgUnavailable(f"`{' '.join(cmd)}` exited {proc.returncode}:\n"
                             f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")


def _log_tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


class _PgServer:
    """One throw-away PostgreSQL cluster in a private temporary folder."""

    def __init__(self) -> None:
        self.bindir = _pg_bindir()
        self.prefix = _as_service_user()
        # Not pytest's tmp_path: its parents are private to root, and the server runs as
        # postgres. Keep the path short too: the Unix socket lives here (108-byte limit).
        self.base = Path(tempfile.mkdtemp(prefix="lifegate-pg-",
                                          dir="/tmp" if self.prefix else None))
        if self.prefix:
            shutil.chown(self.base, user=_PG_SERVICE_USER, group=None)
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.port = 0
        self.started = False

    def pg_ctl(self, *args: str) -> list[str]:
        return [*self.prefix, str(self.bindir / "pg_ctl"), "-D", str(self.data), *args]

    def start(self) -> None:
        _run([*self.prefix, str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust",
              "-U", PG_USER, "-E", "UTF8", "--no-sync"])
        last: _PgUnavailable | None = None
        for _ in range(3):  # the free port may be taken between probe and bind: retry
            self.port = _free_port()
            opts = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
                    "-c fsync=off")
            try:
                _run(self.pg_ctl("-o", opts, "-l", str(self.log), "-w", "-t", "60", "start"))
            except _PgUnavailable as exc:
                last = exc
                continue
            self.started = True
            return
        assert last is not None
        raise last

    def url(self) -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{PG_DB}"

    def stop(self) -> None:
        if self.started:
            subprocess.run(self.pg_ctl("-m", "fast", "-w", "-t", "60", "stop"),
                           capture_output=True, timeout=90, check=False,
                           stdin=subprocess.DEVNULL)
            self.started = False
        shutil.rmtree(self.base, ignore_errors=True)


def _admin(url: str, sql: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE) in the server of url."""
    import psycopg

    base = url.replace("postgresql+psycopg://", "postgresql://", 1).rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(reason: str) -> NoReturn:
    if _in_ci():
        pytest.fail("PostgreSQL server for the ledger tests did not start (CI never skips "
                    f"these):\n{reason}", pytrace=False)
    pytest.skip(f"PostgreSQL server for the ledger tests is not available: {reason}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server for this session; yields the URL of its database ``lifegate``
    (user ``lifegate``, trust authentication, 127.0.0.1 only)."""
    server, problem = _start_server()
    if server is None:  # outside the except blocks, so the report is not a chained traceback
        _unavailable(problem)
    try:
        yield server.url()
    finally:
        server.stop()


def _start_server() -> tuple[_PgServer | None, str]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return None, "the psycopg driver is not installed (uv sync --all-extras)"
    try:
        server = _PgServer()
    except _PgUnavailable as exc:
        return None, str(exc)
    try:
        server.start()
        _admin(server.url(), f"CREATE DATABASE {PG_DB}")
    except Exception as exc:  # any failure to bring it up: report it with the server log
        log = _log_tail(server.log)
        server.stop()
        return None, f"{exc}\n--- server log (tail) ---\n{log}"
    return server, ""


@pytest.fixture
def pg_ledger_url(postgres_url: str) -> Iterator[str]:
    """URL of a fresh, empty database for one test, so tests never share a chain."""
    name = f"lg_{uuid.uuid4().hex[:16]}"
    _admin(postgres_url, f"CREATE DATABASE {name}")
    try:
        yield f"{postgres_url.rsplit('/', 1)[0]}/{name}"
    finally:
        try:  # FORCE ends sessions a test left open (pooled engines, killed children)
            _admin(postgres_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        except Exception:  # the whole cluster is discarded at session end anyway
            pass
