"""LifegateHook: the policy, ledger URL and key material from an Airflow connection.

Connection type ``lifegate`` (default id ``lifegate_default``):

- ``password``: the PEM private key that signs ledger records (optional);
- ``extra``: ``{"policy": "/path/lifegate.yaml", "ledger_url": "postgresql+psycopg://..."}``.

The connection is resolved as the calling process resolves connections (a task through the Task
SDK; the scheduler's listener and the API server's view through the secrets backends, the
metastore included). Without the connection, the environment is the fallback (``LIFEGATE_POLICY``,
``LIFEGATE_LEDGER_URL``, ``LIFEGATE_SIGNING_KEY``), as for the CLI. Key material never reaches
logs or messages: it is written to a private temporary file (mode 0600) while in use, because
the core reads keys from files.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from lifegate.core.policy import Policy
    from lifegate.evidence.keys import Signer

__all__ = ["LifegateHook"]

_EXTRA_KEYS = ("policy", "ledger_url")


def _private_file(directory: str, name: str, text: str) -> Path:
    path = Path(directory) / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path


class LifegateHook(BaseHook):
    """Reads a ``lifegate`` connection; falls back to the environment when it is absent."""

    conn_name_attr = "lifegate_conn_id"
    default_conn_name = "lifegate_default"
    conn_type = "lifegate"
    hook_name = "lifegate"

    def __init__(self, lifegate_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lifegate_conn_id = lifegate_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["host", "schema", "login", "port"],
            "relabeling": {"password": "Signing key (PEM)"},
            "placeholders": {"extra": '{"policy": "/opt/ml/lifegate.yaml", '
                                      '"ledger_url": "postgresql+psycopg://host/ledger"}'},
        }

    def _lookup(self) -> Any:
        """The connection as this process resolves connections: a task process through the
        Task SDK (its supervisor asks the API server), any other component (scheduler, API
        server, ``dag.test()``) through Airflow's secrets backends (environment, configured
        backend, metastore). A metastore query then runs in the calling thread's own session.
        """
        import sys

        runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
        if getattr(runner, "SUPERVISOR_COMMS", None) is not None:
            return self.get_connection(self.lifegate_conn_id)
        try:
            from airflow.models.connection import Connection
        except ImportError:  # a worker with the Task SDK only
            return self.get_connection(self.lifegate_conn_id)
        return Connection.get_connection_from_secrets(self.lifegate_conn_id)

    def connection_fields(self) -> tuple[dict[str, Any], str | None]:
        """``(extra, signing key PEM)`` of the connection; ``({}, None)`` when it is absent."""
        from airflow.sdk.exceptions import AirflowNotFoundException

        from lifegate.core.errors import ConfigError

        try:
            conn = self._lookup()
        except AirflowNotFoundException:
            return {}, None
        extra = conn.extra_dejson
        unknown = sorted(set(extra) - set(_EXTRA_KEYS))
        if unknown:
            raise ConfigError(f"unknown key(s) {', '.join(unknown)} in the extra of the "
                              f"Airflow connection {self.lifegate_conn_id}",
                              where=f"connection {self.lifegate_conn_id}",
                              fix=f"use only: {', '.join(_EXTRA_KEYS)}")
        return extra, conn.password or None

    @contextmanager
    def policy(self, path: str | None = None, *, signing_key: bool = True) -> Iterator[Policy]:
        """The policy: explicit path > connection > ``LIFEGATE_*`` environment > ./lifegate.yaml.

        With ``signing_key=False`` (readers, the scheduler's listener) the connection's private
        key is never read into a file: the policy then holds public keys only.
        """
        from lifegate.core.policy import load_policy

        extra, pem = self.connection_fields()
        if not signing_key:
            pem = None
        overrides: dict[tuple[str, ...], Any] = {}
        if extra.get("ledger_url"):
            overrides[("ledger", "url")] = str(extra["ledger_url"])
        policy_path = path or extra.get("policy")
        if pem is None:
            yield load_policy(policy_path, overrides=overrides)
            return
        with tempfile.TemporaryDirectory(prefix="lifegate-conn-") as tmp:
            overrides[("keys", "signing_key")] = str(_private_file(tmp, "signing.key", pem))
            yield load_policy(policy_path, overrides=overrides)

    def approver_signer(self, approver: str) -> Signer:
        """The approver's own key: connection ``lifegate_approver_<name>`` (password), else the
        PEM file named by ``LIFEGATE_APPROVER_KEY_<NAME>``."""
        from airflow.sdk.exceptions import AirflowNotFoundException

        from lifegate.core.errors import KeyMaterialError
        from lifegate.evidence.keys import Signer, load_private_key, parse_private_key

        slug = re.sub(r"[^A-Za-z0-9]+", "_", approver).strip("_")
        conn_id = f"lifegate_approver_{slug.lower()}"
        try:
            pem = self.get_connection(conn_id).password
        except AirflowNotFoundException:
            pem = None
        if pem:
            return Signer(parse_private_key(pem.encode(), f"connection {conn_id}"))
        env = f"LIFEGATE_APPROVER_KEY_{slug.upper()}"
        if os.environ.get(env):
            return Signer(load_private_key(Path(os.environ[env])))
        raise KeyMaterialError(f"no approver key for {approver}",
                               where=f"connection {conn_id} or ${env}",
                               fix=f"store {approver}'s PEM private key in the password of the "
                               f"Airflow connection {conn_id}")
