"""Provider metadata for Airflow's providers manager (``apache_airflow_provider`` entry point)."""

from __future__ import annotations

from typing import Any

__all__ = ["get_provider_info"]


def get_provider_info() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version("lifegate")
    except PackageNotFoundError:
        ver = "0.0.0"
    return {
        "package-name": "lifegate",  # must equal the distribution name
        "name": "lifegate",
        "description": "Security gates for ML pipelines with ETSI EN 304 223 evidence",
        "versions": [ver],
        "connection-types": [{"hook-class-name": "lifegate.operators._hook.LifegateHook",
                              "connection-type": "lifegate"}],
        "config": {"lifegate": {
            "description": "lifegate integration",
            "options": {"enforce_dag_policy": {
                "description": "Reject AI pipeline DAGs that lack the gates their policy "
                               "requires (cluster policy)",
                "version_added": "0.1.0", "type": "boolean", "example": "True",
                "default": "False"}}}},
    }
