"""What the Airflow plugin parts share: which DAGs are governed, which policies to show, and
how a server component (API server, scheduler) reads a policy and its ledger."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lifegate.core import Policy
    from lifegate.evidence.ledger import Ledger

__all__ = ["AI_PIPELINE_TAG", "DEFAULT_CONN_ID", "PHASE_TAG_PREFIX", "POLICIES_ENV", "governed",
           "policies", "read_ledger", "require_policy_file"]

AI_PIPELINE_TAG = "ai-pipeline"
PHASE_TAG_PREFIX = "lifegate:"
POLICIES_ENV = "LIFEGATE_AIRFLOW_POLICIES"
DEFAULT_CONN_ID = "lifegate_default"


def governed(tags: Iterable[str] | None) -> bool:
    """A DAG marked as an AI pipeline (tag ``ai-pipeline``) is governed by lifegate."""
    return AI_PIPELINE_TAG in set(tags or ())


def require_policy_file(policy: Policy, where: str) -> Policy:
    """A server component never falls back to defaults relative to its working directory."""
    from lifegate.core import ConfigError

    if policy.source == "<defaults>":
        raise ConfigError("no lifegate policy is configured for the Airflow components",
                          where=where,
                          fix="name the policy in the extra of the Airflow connection "
                          f"{DEFAULT_CONN_ID} ({{\"policy\": \"/path/lifegate.yaml\"}}) or set "
                          "LIFEGATE_POLICY for the scheduler and API server")
    return policy


@contextmanager
def policies(conn_id: str = DEFAULT_CONN_ID) -> Iterator[list[Policy]]:
    """The policies of the systems to show, with public keys only: ``$LIFEGATE_AIRFLOW_POLICIES``
    (path list), else the lifegate connection's (or the environment's) policy."""
    from lifegate.core import load_policy
    from lifegate.operators._hook import LifegateHook

    paths = [p for p in os.environ.get(POLICIES_ENV, "").split(os.pathsep) if p]
    if paths:
        yield [load_policy(p) for p in paths]
        return
    with LifegateHook(conn_id).policy(signing_key=False) as policy:
        yield [require_policy_file(policy, f"connection {conn_id}")]


def read_ledger(policy: Policy) -> Ledger:
    """The policy's ledger opened for reading: public keys only, nothing is created."""
    from lifegate.evidence.ledger import open_ledger

    return open_ledger(policy, write=False)
