"""Builders for LG-SCAN samples: malicious pickles written opcode by opcode, archives, and
benign model files. Nothing here ever loads what it writes.

Loaded by path from test_scan.py (``samples``), so it works in any pytest import mode.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import sys
import tarfile
import types
import zipfile
from pathlib import Path
from typing import Any

import pytest


def unicode4(s: str) -> bytes:
    data = s.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def short_unicode(s: str) -> bytes:
    data = s.encode()
    return b"\x8c" + bytes([len(data)]) + data


def reduce_p2(module: str, name: str, arg: str) -> bytes:
    """Protocol 2: GLOBAL module.name, then call it with one string (REDUCE)."""
    return b"\x80\x02" + f"c{module}\n{name}\n".encode() + unicode4(arg) + b"\x85R."


def reduce_p0(module: str, name: str, arg: str) -> bytes:
    return f"c{module}\n{name}\n(S'{arg}'\ntR.".encode()


def getattr_chain(cmd: str) -> bytes:
    """getattr(__import__('os'), 'system')(cmd)."""
    return (b"\x80\x02cbuiltins\ngetattr\ncbuiltins\n__import__\n" + unicode4("os")
            + b"\x85R" + unicode4("system") + b"\x86R" + unicode4(cmd) + b"\x85R.")


def stack_global_memo(cmd: str) -> bytes:
    """Protocol 4: 'os' and 'system' memoised and popped, fetched back, then STACK_GLOBAL."""
    return (b"\x80\x04" + short_unicode("os") + b"\x940" + short_unicode("system") + b"\x940"
            + b"h\x00h\x01\x93" + short_unicode(cmd) + b"\x85R.")


def inst_p0(cmd: str) -> bytes:
    return f"(S'{cmd}'\nios\nsystem\n.".encode()


class Evil:
    def __init__(self, cmd: str) -> None:
        self.cmd = cmd

    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, (self.cmd,)


def npy_object(payload: bytes) -> bytes:
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += " " * (63 - len(header) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name), data)
    return path


def tar_gz_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def torch_zip(path: Path, data_pkl: bytes, prefix: str = "archive") -> Path:
    return write_zip(path, {f"{prefix}/data.pkl": data_pkl, f"{prefix}/version": b"3\n",
                            f"{prefix}/byteorder": b"little", f"{prefix}/data/0": bytes(16),
                            f"{prefix}/.data/serialization_id": b"1234\n"})


def safetensors_bytes(header: dict[str, Any], data: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def fake_modules(monkeypatch: pytest.MonkeyPatch, classes: dict[str, type]) -> None:
    """Make ``module.Class`` importable for pickle.dumps (for writing samples only); real
    modules get the attribute for the test only, missing ones a stand-in module."""
    for dotted, cls in classes.items():
        module_name, _, name = dotted.rpartition(".")
        parts = module_name.split(".")
        for i in range(1, len(parts) + 1):
            mod_name = ".".join(parts[:i])
            if mod_name not in sys.modules:
                monkeypatch.setitem(sys.modules, mod_name, _Fake(mod_name))
        cls.__module__, cls.__qualname__, cls.__name__ = module_name, name, name
        monkeypatch.setattr(sys.modules[module_name], name, cls, raising=False)


class _Fake(types.ModuleType):
    pass


def joblib_like(path: Path, obj: object, monkeypatch: pytest.MonkeyPatch, *,
                aligned: bool = True) -> Path:
    """What joblib.dump writes: each ndarray as a NumpyArrayWrapper, its bytes right after."""
    import numpy as np

    class NumpyArrayWrapper:
        def __init__(self, array: Any) -> None:
            self.subclass, self.shape, self.order = type(array), array.shape, "C"
            self.dtype, self.allow_mmap = array.dtype, not array.dtype.hasobject
            if aligned:
                self.numpy_array_alignment_bytes = 16

    fake_modules(monkeypatch, {"joblib.numpy_pickle.NumpyArrayWrapper": NumpyArrayWrapper})
    with open(path, "wb") as fh:
        class Pickler(pickle._Pickler):  # type: ignore[name-defined,misc]
            def save(self, o: object, save_persistent_id: bool = True) -> None:
                if type(o) is not np.ndarray:
                    return super().save(o, save_persistent_id)  # type: ignore[no-any-return]
                super().save(NumpyArrayWrapper(o))
                self.framer.commit_frame(force=True)
                if o.dtype.hasobject:
                    pickle.dump(o, fh, protocol=2)
                    return None
                if aligned:
                    pad = 16 - (fh.tell() + 1) % 16
                    fh.write(bytes([pad]) + b"\xff" * pad)
                fh.write(o.tobytes("C"))
                return None

        Pickler(fh, protocol=4).dump(obj)
    return path


def torch_state_pickle(monkeypatch: pytest.MonkeyPatch, *, legacy: bool = False,
                       pid: Any = None) -> bytes:
    """data.pkl as torch.save writes it (protocol 2): an OrderedDict of tensors rebuilt by
    torch._utils._rebuild_tensor_v2 from storages given as persistent ids. ``pid`` replaces
    the storage's persistent id (to write ids that torch would not)."""
    import collections

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args: object) -> None:
        raise AssertionError("never called")

    class Tensor:
        def __reduce__(self) -> tuple[Any, ...]:
            return _rebuild_tensor_v2, (FloatStorage(), 0, (2,), (1,), False,
                                        collections.OrderedDict())

    fake_modules(monkeypatch, {"torch.FloatStorage": FloatStorage,
                               "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2})  # type: ignore[dict-item]
    storage_id = ("storage", FloatStorage, "0", "cpu", 2) + ((None,) if legacy else ())
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=2)
    pickler.persistent_id = lambda o: (  # type: ignore[method-assign]
        (storage_id if pid is None else pid) if isinstance(o, FloatStorage) else None)
    pickler.dump(collections.OrderedDict(weight=Tensor()))
    return buf.getvalue()


def torch_legacy(state: bytes, *, first: bytes | None = None) -> bytes:
    """A legacy (non-zip) torch.save file: magic, protocol, sys info, the object, the storage
    keys, then the raw storage bytes. ``first`` replaces the pickle of the magic number."""
    buf = io.BytesIO(first or pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2))
    buf.seek(0, io.SEEK_END)
    for part in (1001, {"little_endian": True}):
        pickle.dump(part, buf, protocol=2)
    buf.write(state)
    pickle.dump(["0"], buf, protocol=2)
    return buf.getvalue() + struct.pack("<q", 2) + bytes(8)
