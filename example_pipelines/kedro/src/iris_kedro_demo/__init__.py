"""An iris classifier pipeline in Kedro, governed by lifegate through its hooks."""
