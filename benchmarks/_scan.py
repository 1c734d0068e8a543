"""LG-SCAN over pickle-based checkpoints, against the floor of reading each file once.

Three benign files of 1 GiB each (quick 32 MiB), made without torch or joblib:

- a PyTorch zip in the ``torch.save`` layout: ``archive/data.pkl``, a protocol-2 pickle of an
  OrderedDict of float32 tensors rebuilt by ``torch._utils._rebuild_tensor_v2`` from
  persistent-id storages, and the raw storages ``archive/data/0``, ... stored uncompressed;
- a joblib file in the ``numpy_pickle`` layout: protocol-4 pickle frames with one
  ``NumpyArrayWrapper`` per array, each followed in the file by its (16-byte aligned) bytes;
- a plain ``pickle.dump`` (protocol 4) of a dict of numpy arrays.
"""

from __future__ import annotations

import os
import pickle
import shutil
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from _common import SYSTEM, VERSION, RandomBytes, Row, Section, Sizes, read_file
from _hashing import best_interleaved, sha256_whole

from lifegate.core import (
    GateResult,
    LifegateError,
    Policy,
    gate_class,
    load_policy,
    make_context,
    run_gate_by_id,
)

READ_WHAT = "GB/s reading the file once (4 MiB chunks)"
NOTE = ("the gate also hashes each file with SHA-256 for its subjects, one thread per file, "
        "so it can be no faster than that hash alone (shown as 'SHA-256 alone')")
ALIGN = 16  # joblib's numpy_array_alignment_bytes


def _parts(size: int) -> list[int]:
    """Tensor / array sizes making up ``size``: 16 parts (8 below 256 MiB), float32-sized."""
    count = 16 if size >= 256 << 20 else 8
    part = size // count // 4 * 4
    return [part] * (count - 1) + [size - part * (count - 1)]


def _fsync(path: Path) -> Path:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


# Pickle opcodes, written by hand: the names must be torch's and joblib's, which are not
# installed, and the joblib layout interleaves pickle frames with raw array bytes.
def _global(module: str, name: str) -> bytes:  # GLOBAL (protocols 0-3)
    return b"c" + f"{module}\n{name}\n".encode()


def _stack_global(module: str, name: str) -> bytes:  # STACK_GLOBAL (protocol 4)
    return _short(module) + _short(name) + b"\x93"


def _text(s: str) -> bytes:  # BINUNICODE
    raw = s.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def _short(s: str) -> bytes:  # SHORT_BINUNICODE
    raw = s.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def _int(n: int) -> bytes:  # BININT
    return b"J" + struct.pack("<i", n)


def torch_pickle(numels: list[int]) -> bytes:
    """``archive/data.pkl`` as torch.save writes it for 1-D float32 tensors (memo omitted)."""
    out = [b"\x80\x02", _global("collections", "OrderedDict"), b")R("]
    for i, n in enumerate(numels):
        storage = (b"(" + _text("storage") + _global("torch", "FloatStorage") + _text(str(i))
                   + _text("cpu") + _int(n) + b"tQ")  # persistent id, then BINPERSID
        out += [_text(f"layers.{i}.weight"), _global("torch._utils", "_rebuild_tensor_v2"),
                b"(", storage, _int(0), _int(n), b"\x85", _int(1), b"\x85", b"\x89",
                _global("collections", "OrderedDict"), b")R", b"tR"]
    out.append(b"u.")
    return b"".join(out)


def torch_zip(path: Path, size: int, rnd: RandomBytes) -> Path:
    parts = _parts(size)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr("archive/data.pkl", torch_pickle([n // 4 for n in parts]))
        zf.writestr("archive/byteorder", "little")
        for i, n in enumerate(parts):
            with zf.open(f"archive/data/{i}", "w", force_zip64=True) as f:
                rnd.write(f, n)
        zf.writestr("archive/version", "3\n")
        zf.writestr("archive/.data/serialization_id", "0123456789012345678901234567890123")
    return _fsync(path)


def _wrapper(numel: int) -> bytes:
    """A joblib NumpyArrayWrapper for a C-order float32 vector: NEWOBJ, then its state."""
    dtype = (_stack_global("numpy", "dtype") + _short("f4") + b"\x89\x88\x87R"
             + b"(K\x03" + _short("<") + b"NNN" + _int(-1) + _int(-1) + b"K\x00tb")
    state = [_short("subclass"), _stack_global("numpy", "ndarray"),
             _short("shape"), _int(numel), b"\x85", _short("order"), _short("C"),
             _short("dtype"), dtype, _short("allow_mmap"), b"\x89",
             _short("numpy_array_alignment_bytes"), b"K" + bytes([ALIGN])]
    return (_stack_global("joblib.numpy_pickle", "NumpyArrayWrapper") + b")\x81}("
            + b"".join(state) + b"ub")


def _frame(f: Any, data: bytes) -> None:  # FRAME, as pickle's framer commits it
    f.write(b"\x95" + struct.pack("<Q", len(data)) + data)


def joblib_file(path: Path, size: int, rnd: RandomBytes) -> Path:
    """What ``joblib.dump({"w0": array, ...})`` writes (protocol 4, memo omitted)."""
    with path.open("wb") as f:
        f.write(b"\x80\x04")
        head = b"}("
        for i, n in enumerate(_parts(size)):
            _frame(f, head + _short(f"w{i}") + _wrapper(n // 4))
            head = b""
            pad = ALIGN - (f.tell() + 1) % ALIGN  # joblib pads 1..16 bytes
            f.write(bytes([pad]) + b"\xff" * pad)
            rnd.write(f, n)
        _frame(f, b"u.")
    return _fsync(path)


def numpy_pickle(path: Path, size: int, rnd: RandomBytes) -> Path:
    """``pickle.dump`` (protocol 4) of an OrderedDict of float32 arrays."""
    arrays = OrderedDict((f"w{i}", np.frombuffer(rnd.take(n), dtype=np.float32))
                         for i, n in enumerate(_parts(size)))
    with path.open("wb") as f:
        pickle.dump(arrays, f, protocol=4)
    return _fsync(path)


FILES: dict[str, tuple[str, str, Callable[[Path, int, RandomBytes], Path]]] = {
    "torch_zip": ("model.pt", "PyTorch zip", torch_zip),
    "joblib": ("model.joblib", "joblib numpy_pickle", joblib_file),
    "numpy_pickle": ("arrays.pkl", "pickle.dump of numpy arrays", numpy_pickle),
}


def scan_unavailable() -> str | None:
    """Why LG-SCAN cannot run here, or None when it can."""
    try:
        gate_class("LG-SCAN")
    except (LifegateError, ImportError, AttributeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def scan_policy(folder: Path, key: Path) -> Policy:
    """LG-SCAN with its default settings, a private SQLite ledger, overrides over the env."""
    (folder / "lifegate.yaml").write_text(yaml.safe_dump(
        {"system": {"name": SYSTEM, "version": VERSION}}))
    return load_policy(folder / "lifegate.yaml", overrides={
        ("ledger", "url"): f"sqlite:///{folder / 'ledger.db'}",
        ("keys", "signing_key"): str(key),
        ("system", "name"): SYSTEM, ("system", "version"): VERSION})


def scan(policy: Policy, path: Path) -> GateResult:
    ctx = make_context(policy, artifacts={"model": str(path)})
    return run_gate_by_id("LG-SCAN", policy, ctx, raise_on_block=False).result


def scan_bench(folder: Path, key: Path, sizes: Sizes) -> Section:
    missing = scan_unavailable()
    if missing:
        return {"skipped": f"LG-SCAN not available: {missing}"}, [
            Row("LG-SCAN", None, "GB/s", note=f"skipped: LG-SCAN not available ({missing})")]
    tmp = folder / "scan"
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        rnd, size = RandomBytes(), sizes.scan_file_mib << 20
        files = {k: build(tmp / name, size, rnd) for k, (name, _, build) in FILES.items()}
        policy = scan_policy(tmp, key)
        for path in files.values():
            read_file(path)  # warm the page cache
        first = {k: scan(policy, p) for k, p in files.items()}  # the verdicts; warms up too
        todo: dict[str, Callable[[], object]] = {}
        for k, p in files.items():
            todo[f"read_{k}"] = partial(read_file, p)
            todo[f"sha256_{k}"] = partial(sha256_whole, p)
            todo[f"scan_{k}"] = partial(scan, policy, p)
        seconds = best_interleaved(todo, sizes.runs)
        return summarise(files, first, seconds, sizes.runs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _outcome(result: GateResult) -> dict[str, Any]:
    formats = sorted({str(d.get("format")) for d in result.details.get("files", {}).values()})
    return {"verdict": result.verdict.value, "formats": formats,
            "findings": sorted({f.rule for f in result.findings})}


def summarise(files: dict[str, Path], first: dict[str, GateResult],
              seconds: dict[str, float], runs: int) -> Section:
    data: dict[str, Any] = {"runs": runs, "baseline_what": READ_WHAT, "note": NOTE,
                            "files": {}}
    rows: list[Row] = []
    for k, path in files.items():
        size = path.stat().st_size
        gbps = {step: size / seconds[f"{step}_{k}"] / 1e9 for step in ("read", "sha256", "scan")}
        outcome = _outcome(first[k])
        data["files"][k] = {"bytes": size, **{f"{step}_gb_per_s": round(v, 3)
                                               for step, v in gbps.items()},
                            "ratio": round(gbps["scan"] / gbps["read"], 3),
                            "scan_seconds": round(seconds[f"scan_{k}"], 3), **outcome}
        findings = ", ".join(outcome["findings"]) or "no findings"
        rows.append(Row(f"LG-SCAN, {FILES[k][1]} ({size / (1 << 20):,.0f} MiB)", gbps["scan"],
                        "GB/s", gbps["read"], READ_WHAT,
                        note=f"SHA-256 alone {gbps['sha256']:.3f} GB/s; verdict "
                        f"{outcome['verdict']} ({findings}); formats "
                        f"{', '.join(outcome['formats'])}" + ("" if rows else f"; {NOTE}")))
    return data, rows
