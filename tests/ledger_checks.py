"""The fail-closed check every gate test shares: records already in the ledger stay as they
were, the blocked run adds exactly one, and the chain still verifies."""

from __future__ import annotations

from lifegate.core import Policy
from lifegate.evidence.ledger import open_ledger


def records(policy: Policy) -> list[tuple[int, str]]:
    return [(e.seq, e.record_hash) for e in open_ledger(policy).entries()]


def assert_one_record_added(policy: Policy, before: list[tuple[int, str]]) -> None:
    after = records(policy)
    assert after[:len(before)] == before and len(after) == len(before) + 1
    open_ledger(policy).verify()
