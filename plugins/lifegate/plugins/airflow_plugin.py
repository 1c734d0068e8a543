"""The lifegate Airflow plugin (``airflow.plugins`` entry point): the audit-trail listener and
the conformity view in the Airflow 3 UI."""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from lifegate.plugins._airflow_listener import AuditListener
from lifegate.plugins._airflow_view import URL_PREFIX, LazyApp

__all__ = ["LifegatePlugin"]


class LifegatePlugin(AirflowPlugin):
    name = "lifegate"
    listeners: list[Any] = [AuditListener()]
    fastapi_apps: list[Any] = [{"app": LazyApp(), "url_prefix": URL_PREFIX,
                                "name": "lifegate conformity"}]
    external_views: list[Any] = [{"name": "lifegate conformity", "href": f"{URL_PREFIX}/",
                                  "destination": "nav", "url_route": "lifegate"}]
