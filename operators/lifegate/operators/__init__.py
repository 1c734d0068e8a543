"""Airflow operators for lifegate's gates (what DAG authors import).

This module must stay cheap to import: Airflow parses DAG files constantly. Heavy libraries
are imported inside ``execute``. The operators themselves arrive with the Airflow integration.
"""

__all__: list[str] = []
