"""LG-SCAN against an adversarial corpus: every malicious file blocked, every benign one passed.

The corpus (``scan_corpus.py``, ``scan_corpus_upstream.py``) is generated at test time; no file
in it is ever loaded. Malicious: pickles at every protocol, dotted and memoised globals,
STACK_GLOBAL from memo, INST / OBJ / NEWOBJ / NEWOBJ_EX / EXT1-4, persistent ids, frame
tricks, inside zip (as torch writes it), tar, joblib compressions and nested archives, plus
our own reproductions of the malicious cases of picklescan, modelscan and fickling
(CORPUS.md). Benign: scikit-learn, numpy, pandas, ONNX written by the real libraries.
"""

from __future__ import annotations

import importlib.util
import io
import pickle
import pickletools
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lifegate.core import GateResult, Policy, load_policy, make_context, run_gate_by_id
from lifegate.gates._scan_common import Stream
from lifegate.gates._scan_formats import HEAD, sniff
from lifegate.gates._scan_pickle import PickleWalker
from lifegate.gates._scan_profiles import PROFILES, Profile


def _load(name: str) -> types.ModuleType:
    """A module from this folder, whatever pytest's import mode (the upstream cases import
    the corpus helpers by their plain name)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


corpus = _load("scan_corpus")
upstream = _load("scan_corpus_upstream")


UPSTREAM = ("picklescan:", "modelscan:", "fickling:")


@pytest.fixture
def policy(tmp_path: Path) -> Policy:
    path = tmp_path / "lifegate.yaml"
    path.write_text(yaml.safe_dump({"system": {"name": "corpus", "version": "1"},
                                    "gates": {"LG-SCAN": {"settings": {}}}}))
    return load_policy(path)


CHUNK = 40  # files per gate run, so that no run reaches the gate's cap on listed findings


def _scan_cases(policy: Policy, folder: Path, cases: list[Any]) -> dict[str, set[str]]:
    """Each case in a folder of its own, scanned CHUNK folders per gate run; returns the
    case name -> the rules of the blocking findings located in its file."""
    found: dict[str, set[str]] = {}
    for start in range(0, len(cases), CHUNK):
        shown = {}
        batch = folder / f"batch{start:04d}"
        for i, case in enumerate(cases[start:start + CHUNK], start):
            (batch / f"{i:03d}").mkdir(parents=True)
            path = batch / f"{i:03d}" / case.file
            case.write(path)
            shown[path.relative_to(policy.base_dir).as_posix()] = case.name
        context = make_context(policy, artifacts={"model": str(batch)})
        result = run_gate_by_id("LG-SCAN", policy, context, raise_on_block=False).result
        assert not any(f.rule == "SCAN-MORE" for f in result.findings)
        for display, name in shown.items():
            found[name] = _blocking_rules(result, display)
    return found


def _blocking_rules(result: GateResult, display: str) -> set[str]:
    return {f.rule for f in result.findings if f.blocking and f.location is not None and (
        f.location == display or f.location.startswith((display + "!", display + "@",
                                                         display + " ")))}


def test_malicious_corpus_is_blocked(policy: Policy) -> None:
    cases = corpus.malicious() + upstream.malicious()
    assert len({c.name for c in cases}) == len(cases), "case names must be unique"
    found = _scan_cases(policy, policy.base_dir / "malicious", cases)
    missed = [c.name for c in cases if not found[c.name]]
    wrong = [f"{c.name}: {sorted(found[c.name])}" for c in cases
             if found[c.name] and c.expect not in found[c.name]]
    print(f"\nLG-SCAN corpus: malicious: {len(cases) - len(missed)} detected / {len(cases)} "
          f"({sum(c.name.startswith(UPSTREAM) for c in cases)} mirror other scanners' tests)")
    assert not missed, f"{len(missed)} malicious files passed: {missed}"
    assert not wrong, f"detected for another reason than the case's technique: {wrong}"


def test_benign_corpus_passes(policy: Policy) -> None:
    for lib in ("sklearn", "numpy", "pandas", "onnx", "joblib"):
        pytest.importorskip(lib)
    cases = corpus.benign()
    found = _scan_cases(policy, policy.base_dir / "benign", cases)
    flagged = {name: sorted(rules) for name, rules in found.items() if rules}
    print(f"\nLG-SCAN corpus: benign: {len(cases) - len(flagged)} passed / {len(cases)}")
    assert not flagged, f"false positives: {flagged}"


# Cases that are meant to be malformed (they mirror upstream cases about broken input).
MALFORMED = frozenset({
    "picklescan:tests/data/bad_pytorch.pt", "picklescan:tests/data/broken_model.pkl",
    "picklescan:tests/data/malicious1.7z", "picklescan:tests/data/not_a_pickle.bin",
    "modelscan:tests/test_modelscan.py::pytorch_file_path/bad_pytorch.pt"})


def test_generated_pickles_are_well_formed(tmp_path: Path) -> None:
    """A case must be detected for its technique, not because its generator wrote garbage:
    every raw pickle in the corpus parses to its STOP (pickletools.genops; nothing loaded)."""
    checked = 0
    for i, case in enumerate(corpus.malicious() + upstream.malicious()):
        path = tmp_path / f"{i:03d}-{case.file}"
        case.write(path)
        data = path.read_bytes()
        if case.name in MALFORMED or sniff(case.file, data[:HEAD]) != "pickle":
            continue
        ops = list(pickletools.genops(io.BytesIO(data)))
        assert ops[-1][0].name == "STOP", case.name
        checked += 1
    assert checked > 150


def test_corpus_md_lists_every_mirrored_case() -> None:
    text = Path(__file__).with_name("CORPUS.md").read_text(encoding="utf-8")
    listed = [c.name for c in upstream.malicious() if "TestUnsafeModuleCoverage" not in c.name
              and "test_all_scanner_modules_covered[" not in c.name]
    missing = [name for name in listed if f"`{name}`" not in text]
    assert not missing, f"CORPUS.md does not list: {missing}"
    for licence in ("MIT", "Apache License 2.0", "LGPL v3.0"):
        assert licence in text


def test_safetensors_library_is_not_installed_so_its_files_are_hand_written() -> None:
    """The benign corpus writes safetensors files by the format's specification; when the
    library is installed, this says so, so the corpus can switch to it."""
    if importlib.util.find_spec("safetensors") is not None:
        pytest.fail("safetensors is installed: write the corpus's safetensors files with it")


def _globals_of(data: bytes) -> set[str]:
    result = PickleWalker(Stream(io.BytesIO(data), limit=len(data))).walk()
    assert result.error is None
    return {f"{m}.{n}" for m, n in result.refs}


def test_pandas_profile_is_what_pandas_pickles_use() -> None:
    """Every entry of the pandas profile is used by a pickle the installed pandas writes, and
    every pandas global those pickles use is on the profile: nothing guessed, nothing missing."""
    pd = pytest.importorskip("pandas")
    if not pd.__version__.startswith("3.1."):
        pytest.skip(f"the pandas profile was read from pandas 3.1; this is {pd.__version__}: "
                    "derive it again (docs/scanning.md)")
    used: set[str] = set()
    for obj in corpus.pandas_objects().values():
        for proto in range(6):
            used |= _globals_of(pickle.dumps(obj, protocol=proto))
    profile = PROFILES[Profile.PANDAS].exact
    assert profile - used == set(), "profile entries no pandas pickle uses"
    others = PROFILES[Profile.NUMPY].exact | {"builtins.object", "builtins.slice",
                                              "builtins.bytearray", "copyreg._reconstructor",
                                              "_codecs.encode"}
    assert used - profile - others == set(), "globals pandas uses that the profile lacks"


@pytest.fixture(autouse=True)
def _no_payload_ran() -> Iterator[None]:
    marker = Path("/tmp/lifegate-corpus-payload-ran")
    marker.unlink(missing_ok=True)
    yield
    assert not marker.exists(), "a corpus payload ran"
