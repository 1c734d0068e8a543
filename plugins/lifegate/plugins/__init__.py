"""Platform plugins for lifegate (Airflow plugin and listener, Kedro hooks, DVC release)."""
