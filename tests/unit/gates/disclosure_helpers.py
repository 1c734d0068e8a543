"""Shared set-up for the LG-DISCLOSE and LG-APPROVE tests: a signed release with a ledger."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import yaml

from lifegate.core import Policy, run_gate_by_id
from lifegate.evidence.ledger import open_ledger
from lifegate.evidence.release import manifest_path

REPO = Path(__file__).resolve().parents[3]
DEMO_CARD = REPO / "example_pipelines" / "quickstart" / "project" / "system_card.yaml"
GOLDEN = REPO / "tests" / "golden" / "disclosure"


def snapshot(policy: Policy) -> list[tuple[int, str]]:
    """Every ledger record as (seq, record hash): earlier records must never change."""
    return [(r.seq, r.record_hash) for r in open_ledger(policy).store.records()]


def card(tmp_path: Path, **changes: object) -> Path:
    """The demo system card, with top-level keys replaced (None deletes a key)."""
    data = yaml.safe_load(DEMO_CARD.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path = tmp_path / "system_card.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def signed_release(signing_policy: Callable[..., Policy], model: Path, tmp_path: Path,
                   **gates: dict) -> Policy:  # type: ignore[type-arg]
    """Policy with the demo card, a signed model and its release manifest."""
    if not (tmp_path / "system_card.yaml").exists():
        shutil.copy(DEMO_CARD, tmp_path / "system_card.yaml")
    policy = signing_policy(**gates)
    from lifegate.core import make_context

    ctx = make_context(policy, artifacts={"model": str(model)})
    run_gate_by_id("LG-SIGN", policy, ctx)
    assert manifest_path(model).is_file()
    return policy
