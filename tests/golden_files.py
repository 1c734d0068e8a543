"""Golden-file comparison shared by the report, disclosure and SBOM tests."""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "golden"


def assert_golden(path: Path, text: str) -> None:
    """Compare ``text`` with the golden file; ``LIFEGATE_REGEN_GOLDEN=1`` rewrites it."""
    if os.environ.get("LIFEGATE_REGEN_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        return
    assert path.is_file(), f"missing golden file {path}: run with LIFEGATE_REGEN_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{path.name} differs from its golden file"
