"""Property tests: the LG-SCAN pickle walker and scanner never raise, whatever the bytes.

Random bytes, and random mutations (flipped, inserted, deleted bytes, truncation) of valid
pickles at every protocol, go through the walker and through the whole file scanner; each
run must return a result (findings), never an exception. Example counts are bounded so the
module runs in well under 30 seconds.
"""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifegate.gates._scan_allow import Allowlist
from lifegate.gates._scan_common import FileReport, Stream
from lifegate.gates._scan_engine import ScanConfig, Scanner
from lifegate.gates._scan_pickle import PickleResult, PickleWalker

SEEDS = [pickle.dumps({"w": [1.5, None, True], "n": (1, 2), "s": {"a", "b"}, "b": b"\x00\x01",
                       "od": OrderedDict(k=3), "big": 2**70, "r": range(3)}, protocol=p)
         for p in range(6)]
FAST = settings(max_examples=250, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if kind == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 4))]
        else:
            del data[at:]
    return bytes(data)


def walk(data: bytes) -> PickleResult:
    return PickleWalker(Stream(io.BytesIO(data), limit=len(data), size=len(data)),
                        tee_limit=1 << 20).walk()


@FAST
@given(st.binary(max_size=512))
def test_walker_never_raises_on_random_bytes(data: bytes) -> None:
    result = walk(data)
    assert result.error is not None or result.end is not None


@FAST
@given(mutated())
def test_walker_never_raises_on_mutated_pickles(data: bytes) -> None:
    result = walk(data)
    assert result.error is not None or result.end is not None


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner(ScanConfig(allow=Allowlist(), allow_unknown=False, allow_empty=False,
                              tee_limit=1 << 20, max_depth=3, max_member_bytes=1 << 20,
                              max_files=1 << 30))


def _scan_file(scanner: Scanner, folder: Path, name: str, data: bytes) -> FileReport:
    path = folder / name
    path.write_bytes(data)
    return scanner.scan_file(path, name)


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=512), mutated()),
       name=st.sampled_from(["m.pkl", "m.pt", "m.bin", "m.joblib", "m.npy", "m.zip", "m"]))
def test_scanner_never_raises(scanner: Scanner, tmp_path_factory: pytest.TempPathFactory,
                              data: bytes, name: str) -> None:
    report = _scan_file(scanner, tmp_path_factory.getbasetemp(), name, data)
    assert report.format
    assert all(issue.message for issue in report.issues)


@pytest.mark.parametrize(("data", "rule"), [
    (b"\x80\x04" + b"(" * 100_000 + b"t" * 100_000 + b".", None),  # tuples 100 000 deep
    (b"\x80\x04" + b"]" * 50_000 + b".", None),  # 50 000 lists left on the stack, as loads allows
    (b"\x80\x02" + b"(" * 100_000 + b"N" + b"t" * 100_000 + b"Q.", "SCAN-PERSID"),
    (b"\x80\x04" + b"(" * 100_000 + b"N" + b"t" * 100_000 + b"\x8c\x01x\x93.",
     "SCAN-GLOBAL-UNRESOLVED"),
    (b"\x80\x04cbuiltins\nlist\n" + b"(" * 50_000 + b"N" + b"t" * 50_000 + b"\x85R\x8c\x01x\x93.",
     "SCAN-GLOBAL-UNRESOLVED"),
])
def test_deep_structures_are_findings_with_short_messages(scanner: Scanner, tmp_path: Path,
                                                          data: bytes, rule: str | None) -> None:
    """Values nested deeper than Python's recursion limit are described, never repr()'d."""
    report = _scan_file(scanner, tmp_path, "deep.pkl", data)
    assert [i.rule for i in report.issues] == ([rule] if rule else [])
    assert all(len(i.message) < 400 for i in report.issues)
