"""The plugin's view behind Airflow's own authentication, on a real ``airflow api-server``.

The server runs on 127.0.0.1 with the SimpleAuthManager and three users: an admin, a viewer
(may read DAGs) and a user without a role (may read nothing). The ``lifegate_default``
connection, with the system's private key, is stored in Airflow's metastore; the view must
read the ledger with public keys only.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import demo_support
import httpx
import pytest

from lifegate.core import load_policy, run_gate_by_id

USERS = {"admin": ("admin", "admin-pw-1"), "viewer": ("viewer", "viewer-pw-1"),
         "nobody": ("", "nobody-pw-1")}
SYSTEM = "tumour-screening-assistant"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _put_connection(pem: str | None, extra: dict[str, Any]) -> None:
    from airflow.models import Connection
    from airflow.utils.session import create_session

    with create_session() as s:
        s.query(Connection).filter(Connection.conn_id == "lifegate_default").delete()
        s.add(Connection(conn_id="lifegate_default", conn_type="lifegate", password=pem,
                         extra=json.dumps(extra)))


def _store_connection(env: dict[str, str], key_file: Path) -> dict[str, Any]:
    """Move lifegate_default from the environment into the metastore (as the UI would)."""
    spec: dict[str, Any] = json.loads(env.pop("AIRFLOW_CONN_LIFEGATE_DEFAULT"))
    key_file.write_text(spec["password"])
    key_file.chmod(0o600)
    _put_connection(spec["password"], spec["extra"])
    return spec


def _server_env(tmp: Path, project_env: dict[str, str]) -> dict[str, str]:
    passwords = tmp / "passwords.json"
    passwords.write_text(json.dumps({u: pw for u, (_, pw) in USERS.items()}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_LIFEGATE")}
    env.update(project_env)
    env.update({
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple."
                                       "simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
            f"{u}:{role}" for u, (role, _) in USERS.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": "lifegate-test-secret-" + "x" * 32,
        "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "False",
    })
    env.pop("LIFEGATE_POLICY", None)  # the view finds the policy through the connection
    return env


def _wait_up(base: str, proc: subprocess.Popen[bytes], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"airflow api-server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("airflow api-server did not start")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("api")
    project = tmp / "project"
    env = demo_support.prepare_project(project)
    key_file = tmp / "system.key"
    spec = _store_connection(env, key_file)
    policy = load_policy(project / "lifegate.yaml",
                         overrides={("keys", "signing_key"): str(key_file)})
    run_gate_by_id("LG-THREAT", policy, raise_on_block=False)  # a recorded run (error)
    port = _free_port()
    log = (tmp / "api-server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "airflow", "api-server", "-H", "127.0.0.1",
                             "-p", str(port), "-w", "1"], env=_server_env(tmp, env),
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_up(base, proc)
        yield {"base": base, "project": project, "spec": spec}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _token(base: str, user: str) -> str:
    r = httpx.post(f"{base}/auth/token", json={"username": user, "password": USERS[user][1]})
    assert r.status_code == 201, r.text
    return str(r.json()["access_token"])


PATHS = ["/lifegate/", "/lifegate/api/systems", f"/lifegate/report?system={SYSTEM}"]


@pytest.mark.parametrize("path", PATHS)
def test_anonymous_callers_are_refused_like_the_core_api(server: dict[str, Any],
                                                         path: str) -> None:
    base = server["base"]
    assert httpx.get(f"{base}/api/v2/dags").status_code == 401
    assert httpx.get(f"{base}{path}").status_code == 401
    bad = httpx.get(f"{base}{path}", headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code in (401, 403)


def test_openapi_and_docs_of_the_plugin_are_not_served(server: dict[str, Any]) -> None:
    for path in ("/lifegate/docs", "/lifegate/openapi.json", "/lifegate/redoc"):
        assert httpx.get(server["base"] + path).status_code in (401, 404)


@pytest.mark.parametrize("path", PATHS)
def test_a_user_who_may_read_dags_sees_the_view(server: dict[str, Any], path: str) -> None:
    base = server["base"]
    token = _token(base, "viewer")
    by_header = httpx.get(f"{base}{path}", headers={"Authorization": f"Bearer {token}"})
    assert by_header.status_code == 200, by_header.text
    # the browser: Airflow's login leaves the JWT in the `_token` cookie, sent with every page
    by_cookie = httpx.get(f"{base}{path}", cookies={"_token": token})
    assert by_cookie.status_code == 200, by_cookie.text
    assert SYSTEM in by_cookie.text


def test_the_view_reads_with_public_keys_only(server: dict[str, Any]) -> None:
    """The API server holds no private key (the connection has none): the view still shows the
    verdicts and the report, as it does when the connection carries the system's key."""
    base = server["base"]
    auth = {"Authorization": f"Bearer {_token(base, 'admin')}"}
    _put_connection(None, server["spec"]["extra"])
    try:
        r = httpx.get(f"{base}/lifegate/api/systems", headers=auth)
        assert r.status_code == 200, r.text
        verdicts = {g["gate"]: g["verdict"] for g in r.json()[0]["gates"]}
        assert verdicts["LG-THREAT"] == "error" and verdicts["LG-SIGN"] == "never run"
        page = httpx.get(f"{base}/lifegate/", headers=auth)
        assert page.status_code == 200 and "LG-THREAT" in page.text
        report = httpx.get(f"{base}/lifegate/report", params={"system": SYSTEM}, headers=auth)
        assert report.status_code == 200, report.text
        assert "5.1.3-1" in report.text  # the threat-model provision, from the failed run
    finally:
        _put_connection(server["spec"]["password"], server["spec"]["extra"])
    nope = httpx.get(f"{base}/lifegate/report", params={"system": "nope"}, headers=auth)
    assert nope.status_code == 404


@pytest.mark.parametrize("path", PATHS)
def test_a_user_without_dag_read_permission_is_forbidden(server: dict[str, Any],
                                                         path: str) -> None:
    base = server["base"]
    token = _token(base, "nobody")
    assert httpx.get(f"{base}/api/v2/dags",
                     headers={"Authorization": f"Bearer {token}"}).status_code == 403
    assert httpx.get(f"{base}{path}", cookies={"_token": token}).status_code == 403


def test_a_tampered_ledger_is_not_reported(server: dict[str, Any]) -> None:
    """Last in this module: it edits the ledger."""
    base = server["base"]
    with sqlite3.connect(server["project"] / ".lifegate" / "ledger.db") as db:
        db.execute("UPDATE lifegate_records SET recorded_at = '2000-01-01T00:00:00+00:00'")
    r = httpx.get(f"{base}/lifegate/report", params={"system": SYSTEM},
                  cookies={"_token": _token(base, "viewer")})
    assert r.status_code == 409 and "does not verify" in r.text
