"""What the Airflow plugin parts share: which DAGs are governed, which policies to show."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lifegate.core import Policy

__all__ = ["AI_PIPELINE_TAG", "PHASE_TAG_PREFIX", "POLICIES_ENV", "governed", "policies"]

AI_PIPELINE_TAG = "ai-pipeline"
PHASE_TAG_PREFIX = "lifegate:"
POLICIES_ENV = "LIFEGATE_AIRFLOW_POLICIES"


def governed(tags: Iterable[str] | None) -> bool:
    """A DAG marked as an AI pipeline (tag ``ai-pipeline``) is governed by lifegate."""
    return AI_PIPELINE_TAG in set(tags or ())


@contextmanager
def policies(conn_id: str = "lifegate_default") -> Iterator[list[Policy]]:
    """The policies of the systems to show: ``$LIFEGATE_AIRFLOW_POLICIES`` (path list), else
    the default lifegate connection's (or the environment's) policy."""
    from lifegate.core import load_policy
    from lifegate.operators._hook import LifegateHook

    paths = [p for p in os.environ.get(POLICIES_ENV, "").split(os.pathsep) if p]
    if paths:
        yield [load_policy(p) for p in paths]
        return
    with LifegateHook(conn_id).policy() as policy:
        yield [policy]
