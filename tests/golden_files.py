"""Golden-file comparison shared by the report, disclosure and SBOM tests.

A mismatch fails with a unified diff. ``LIFEGATE_REGEN_GOLDEN=1`` rewrites the golden files,
and every test that rewrote one still fails ("regenerated, review the diff"), so a
regeneration can never pass a run by itself: review ``git diff tests/golden``, commit it, and
run the tests again without the switch.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"


def assert_golden(path: Path, text: str) -> None:
    """Compare ``text`` with the golden file at ``path``."""
    old = path.read_text(encoding="utf-8") if path.is_file() else None
    if os.environ.get("LIFEGATE_REGEN_GOLDEN") == "1":
        if old == text:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        pytest.fail(f"regenerated {path}: review the diff (git diff {path}), then run the "
                    "tests again without LIFEGATE_REGEN_GOLDEN", pytrace=False)
    if old is None:
        pytest.fail(f"missing golden file {path}: run with LIFEGATE_REGEN_GOLDEN=1 and review "
                    "it", pytrace=False)
    if text != old:
        diff = "".join(difflib.unified_diff(old.splitlines(keepends=True),
                                            text.splitlines(keepends=True),
                                            f"golden/{path.name}", "produced", n=2))
        if len(diff) > 6000:
            diff = diff[:6000] + "\n... (diff cut; run with LIFEGATE_REGEN_GOLDEN=1 to see it "
            "all in git diff)\n"
        pytest.fail(f"{path.name} differs from its golden file:\n{diff}", pytrace=False)
