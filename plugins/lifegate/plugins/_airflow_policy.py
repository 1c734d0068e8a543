"""Opt-in cluster policy: an AI pipeline DAG without the gates its policy requires is rejected
when Airflow parses it (it becomes an import error and never runs).

Opt in with ``[lifegate] enforce_dag_policy = True`` (``AIRFLOW__LIFEGATE__ENFORCE_DAG_POLICY``).
A DAG is an AI pipeline when tagged ``ai-pipeline``; it names the lifecycle phases it covers
with tags ``lifegate:<phase>`` (e.g. ``lifegate:secure-development``) and must contain a gate
task for every gate the policy requires in those phases.
"""

from __future__ import annotations

from typing import Any

from airflow.policies import hookimpl

from lifegate.plugins._airflow_common import PHASE_TAG_PREFIX, governed

__all__ = ["check_dag", "dag_policy", "enforced"]


def enforced() -> bool:
    from airflow.configuration import conf

    return conf.getboolean("lifegate", "enforce_dag_policy", fallback=False)


def _policy_path(dag: Any) -> str | None:
    paths = {getattr(t, "policy", None) for t in dag.tasks if getattr(t, "gate_id", None)}
    paths = {p for p in paths if isinstance(p, str) and "{{" not in p}
    return paths.pop() if len(paths) == 1 else None


def missing_gates(dag: Any) -> list[str]:
    """Gates the policy requires for the DAG's declared phases that no task runs."""
    from lifegate.core.errors import ConfigError
    from lifegate.operators._hook import LifegateHook
    from lifegate.operators._insert import policy_phases

    phases = [t.removeprefix(PHASE_TAG_PREFIX) for t in dag.tags
              if t.startswith(PHASE_TAG_PREFIX)]
    if not phases:
        raise ConfigError(f"AI pipeline {dag.dag_id} declares no lifecycle phase",
                          fix=f"tag it with {PHASE_TAG_PREFIX}<phase>, e.g. "
                          f"{PHASE_TAG_PREFIX}secure-development")
    present = {getattr(t, "gate_id", None) for t in dag.tasks}
    path = _policy_path(dag) or LifegateHook().connection_fields()[0].get("policy")
    phases_of = policy_phases(path)
    unknown = sorted(set(phases) - set(phases_of))
    if unknown:
        raise ConfigError(f"AI pipeline {dag.dag_id} declares phase(s) {', '.join(unknown)} "
                          "that its policy does not list", fix="check the lifegate: tags")
    required = [g for p in phases for g in phases_of[p]]
    return [g for g in dict.fromkeys(required) if g not in present]


def check_dag(dag: Any) -> None:
    """Raise AirflowClusterPolicyViolation when a governed DAG lacks required gates."""
    from airflow.exceptions import AirflowClusterPolicyViolation

    from lifegate.core.errors import LifegateError

    if not governed(dag.tags):
        return
    try:
        missing = missing_gates(dag)
    except LifegateError as exc:
        raise AirflowClusterPolicyViolation(f"lifegate: DAG {dag.dag_id}: {exc}") from None
    if missing:
        raise AirflowClusterPolicyViolation(
            f"lifegate: AI pipeline {dag.dag_id} lacks the gate(s) its policy requires: "
            f"{', '.join(missing)}; add them with lifegate.operators (or insert_gates)")


@hookimpl
def dag_policy(dag: Any) -> None:
    if enforced():
        check_dag(dag)
