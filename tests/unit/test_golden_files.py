"""The golden-file helper: a mismatch shows a diff, a regeneration fails the run."""

from __future__ import annotations

from pathlib import Path

import pytest

import golden_files


def test_mismatch_fails_with_a_unified_diff(tmp_path: Path) -> None:
    golden = tmp_path / "g.txt"
    golden.write_text("one\ntwo\nthree\n")
    golden_files.assert_golden(golden, "one\ntwo\nthree\n")
    with pytest.raises(pytest.fail.Exception) as exc:
        golden_files.assert_golden(golden, "one\nTWO\nthree\n")
    assert "-two" in str(exc.value) and "+TWO" in str(exc.value)


def test_regenerating_writes_the_file_and_still_fails(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFEGATE_REGEN_GOLDEN", "1")
    golden = tmp_path / "g.txt"
    golden.write_text("old\n")
    with pytest.raises(pytest.fail.Exception, match=r"regenerated .* review the diff"):
        golden_files.assert_golden(golden, "new\n")
    assert golden.read_text() == "new\n"
    golden_files.assert_golden(golden, "new\n")  # nothing changed: nothing to review


def test_a_missing_golden_file_fails(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="missing golden file"):
        golden_files.assert_golden(tmp_path / "none.txt", "x")
