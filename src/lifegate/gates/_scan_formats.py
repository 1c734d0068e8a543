"""Format recognition and the checks for formats that carry no code.

:func:`sniff` names a stream's format from its magic bytes first and its file name second, so
a pickle renamed ``config.json`` is still read as a pickle. The checkers read only what they
need, stream the rest, and raise :class:`CorruptError` on malformed input; they return the
(rule, severity, message) of anything unsafe they find in otherwise well-formed input.
"""

from __future__ import annotations

import ast
import json
import math
import re
import struct
from dataclasses import dataclass
from typing import Final

from lifegate.core.model import Severity
from lifegate.gates._scan_common import CHUNK, CorruptError, Stream

__all__ = ["HEAD", "Note", "NpyHeader", "check_simple", "read_npy_header", "sniff"]

Note = tuple[str, Severity, str]

HEAD: Final = 512
ZIP_MAGIC: Final = (b"PK\x03\x04", b"PK\x05\x06")
_MAGIC: Final = ((b"\x93NUMPY", "npy"), (b"GGUF", "gguf"), (b"\x89HDF\r\n\x1a\n", "hdf5"))
COMPRESSED: Final = ((b"\x1f\x8b", "gzip"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "xz"),
                     (b"\x5d\x00\x00", "lzma"), (b"\x04\x22\x4d\x18", "lz4"),
                     (b"ZF", "joblib-zfile"))
TAR_SUFFIXES: Final = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
_BY_SUFFIX: Final = {
    ".safetensors": "safetensors", ".onnx": "onnx", ".npy": "npy", ".npz": "zip",
    ".keras": "zip", ".zip": "zip", ".gguf": "gguf", ".h5": "hdf5", ".hdf5": "hdf5",
    ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".txt": "text", ".csv": "text",
    ".tsv": "text", ".md": "text", ".pkl": "pickle", ".pickle": "pickle",
    ".joblib": "pickle", ".pt": "pickle", ".pth": "pickle", ".ckpt": "pickle",
}
_SAFETENSORS_MAX_HEADER: Final = 100_000_000  # the limit of the safetensors library
_NPY_MAX_HEADER: Final = 1 << 16
_TEXT_MAX_PARSE: Final = 64 << 20
_TYPESTR: Final = re.compile(r"[<>|=]?([biufcmMOSUVa])(\d*)(\[[A-Za-z0-9]+\])?")  # M8[D]
_LAMBDA: Final = (b'"class_name": "Lambda"', b'"class_name":"Lambda"')
_LAMBDA_CLASSES: Final = frozenset({"Lambda", "__lambda__"})
_PYTHON_TAG: Final = "tag:yaml.org,2002:python/"


def suffix(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1].lower()
    return "." + base.rsplit(".", 1)[-1] if "." in base else ""


def compression(head: bytes) -> str | None:
    for magic, kind in COMPRESSED:
        if head.startswith(magic):
            return kind
    if len(head) >= 2 and head[0] == 0x78 and (head[0] << 8 | head[1]) % 31 == 0:
        return "zlib"
    return None


def sniff(name: str, head: bytes) -> str:
    """The format of a stream named ``name`` whose first bytes are ``head``."""
    if head.startswith(ZIP_MAGIC):
        return "zip"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if name.lower().endswith(TAR_SUFFIXES) or head[257:262] == b"ustar":
        return "tar"
    if len(head) >= 2 and head[0] == 0x80 and head[1] <= 5:
        return "pickle"
    packed = compression(head)
    if packed is not None:
        return packed
    by_name = _BY_SUFFIX.get(suffix(name))
    if by_name is not None:
        return by_name
    if len(head) > 9 and head[8:9] == b"{" and 0 < struct.unpack("<Q", head[:8])[0] < (1 << 40):
        return "safetensors"
    return "unknown"


def check_simple(kind: str, s: Stream) -> list[Note]:
    checker = _CHECKERS[kind]
    return checker(s)


def _safetensors(s: Stream) -> list[Note]:
    (n,) = struct.unpack("<Q", s.read_exact(8, "safetensors header length"))
    if n > _SAFETENSORS_MAX_HEADER:
        raise CorruptError(f"safetensors header length {n} exceeds the format's limit of "
                           f"{_SAFETENSORS_MAX_HEADER} bytes")
    if s.size is not None and n > s.size - 8:
        raise CorruptError(f"safetensors header length {n} is larger than the file")
    try:
        header = json.loads(s.read_exact(n, "safetensors header"))
    except (ValueError, RecursionError) as exc:
        raise CorruptError(f"safetensors header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise CorruptError("safetensors header is not a JSON object")
    data_len = s.size - 8 - n if s.size is not None else None
    for key, info in header.items():
        if key == "__metadata__":
            if not isinstance(info, dict) or not all(isinstance(v, str) for v in info.values()):
                raise CorruptError("safetensors __metadata__ is not a map of strings")
            continue
        _tensor_entry(key, info, data_len)
    return []


def _tensor_entry(key: str, info: object, data_len: int | None) -> None:
    ok = (isinstance(info, dict) and isinstance(info.get("dtype"), str)
          and isinstance(info.get("shape"), list)
          and all(type(d) is int and d >= 0 for d in info["shape"])
          and isinstance(info.get("data_offsets"), list) and len(info["data_offsets"]) == 2
          and all(type(o) is int for o in info["data_offsets"]))
    if not ok:
        raise CorruptError(f"safetensors entry {key!r} lacks a dtype, shape or data_offsets")
    assert isinstance(info, dict)
    begin, end = info["data_offsets"]
    if not 0 <= begin <= end or (data_len is not None and end > data_len):
        raise CorruptError(f"safetensors tensor {key!r} has offsets [{begin}, {end}] outside "
                           f"the {data_len} bytes of tensor data")


@dataclass(frozen=True)
class NpyHeader:
    descr: object
    has_object: bool
    nbytes: int | None


def read_npy_header(s: Stream) -> NpyHeader:
    """Parse a .npy header (a Python literal, read with ast.literal_eval: no code runs)."""
    if s.read_exact(6, "npy magic") != b"\x93NUMPY":
        raise CorruptError("not a .npy file: the \\x93NUMPY magic is missing")
    major = s.read_exact(2, "npy version")[0]
    if major not in (1, 2, 3):
        raise CorruptError(f"unknown .npy format version {major}")
    fmt, width = ("<H", 2) if major == 1 else ("<I", 4)
    (n,) = struct.unpack(fmt, s.read_exact(width, "npy header length"))
    if n > _NPY_MAX_HEADER:
        raise CorruptError(f".npy header of {n} bytes is larger than {_NPY_MAX_HEADER}")
    text = s.read_exact(n, "npy header").decode("utf-8" if major == 3 else "latin-1")
    try:
        header = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise CorruptError(f".npy header is not a literal: {exc}") from None
    if not isinstance(header, dict) or not {"descr", "shape", "fortran_order"} <= set(header):
        raise CorruptError(".npy header lacks descr, shape or fortran_order")
    shape = header["shape"]
    if not isinstance(shape, tuple) or not all(type(d) is int and d >= 0 for d in shape):
        raise CorruptError(f".npy shape {shape!r} is not a tuple of non-negative integers")
    descr = header["descr"]
    itemsize = _itemsize(descr)
    return NpyHeader(descr, _has_object(descr),
                     None if itemsize is None else itemsize * math.prod(shape))


def _has_object(descr: object) -> bool:
    if isinstance(descr, str):
        match = _TYPESTR.fullmatch(descr)
        if match is None:
            raise CorruptError(f".npy dtype {descr!r} is not a type string")
        return match.group(1) == "O"
    if isinstance(descr, list):
        return any(isinstance(f, tuple) and len(f) >= 2 and _has_object(f[1]) for f in descr)
    raise CorruptError(f".npy dtype {descr!r} is neither a type string nor a field list")


def _itemsize(descr: object) -> int | None:
    match = _TYPESTR.fullmatch(descr) if isinstance(descr, str) else None
    if match is None or not match.group(2) or match.group(1) == "O":
        return None
    return int(match.group(2)) * (4 if match.group(1) == "U" else 1)


def _gguf(s: Stream) -> list[Note]:
    s.read_exact(4, "GGUF magic")
    (version,) = struct.unpack("<I", s.read_exact(4, "GGUF version"))
    if version not in (1, 2, 3):
        raise CorruptError(f"unknown GGUF version {version}")
    return []


def _varint(s: Stream) -> int:
    value = 0
    for i in range(10):
        byte = s.read_exact(1, "protobuf varint")[0]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value
    raise CorruptError("protobuf varint longer than 10 bytes")


def _onnx(s: Stream) -> list[Note]:
    """A light check: the file is a well-formed sequence of top-level protobuf fields."""
    fields = 0
    while not s.at_eof():
        key = _varint(s)
        wire = key & 7
        if key >> 3 == 0 or wire not in (0, 1, 2, 5):
            raise CorruptError(f"not a protobuf message: bad field key {key} at offset "
                               f"{s.tell()}")
        if wire == 0:
            _varint(s)
        else:
            s.skip({1: 8, 5: 4}.get(wire) or _varint(s), "protobuf field")
        fields += 1
    if not fields:
        raise CorruptError("empty ONNX file")
    return []


def _read_text(s: Stream) -> bytes | None:
    if s.size is not None and s.size > _TEXT_MAX_PARSE:
        return None
    data = s.read(_TEXT_MAX_PARSE + 1)
    return data if len(data) <= _TEXT_MAX_PARSE else None


def _json(s: Stream) -> list[Note]:
    data = _read_text(s)
    if data is None:
        return [("SCAN-NOT-PARSED", Severity.INFO, f"JSON larger than {_TEXT_MAX_PARSE} bytes "
                 "was not parsed")]
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise CorruptError(f"not valid JSON: {exc}") from None
    return _keras_lambdas(doc)


def _keras_lambdas(doc: object) -> list[Note]:
    todo, found = [doc], set()
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            if node.get("class_name") in _LAMBDA_CLASSES:
                found.add(str(node["class_name"]))
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return [("SCAN-KERAS-LAMBDA", Severity.HIGH, f"Keras {name} layer: loading it runs "
             "marshalled Python bytecode stored in the model") for name in sorted(found)]


def _yaml(s: Stream) -> list[Note]:
    import yaml

    data = _read_text(s)
    if data is None:
        return [("SCAN-NOT-PARSED", Severity.INFO, f"YAML larger than {_TEXT_MAX_PARSE} bytes "
                 "was not parsed")]
    tags: set[str] = set()
    try:  # events only: nothing is constructed, aliases are not expanded
        for event in yaml.parse(data, Loader=yaml.SafeLoader):
            tag = getattr(event, "tag", None)
            if isinstance(tag, str) and tag.startswith(_PYTHON_TAG):
                tags.add(tag.removeprefix("tag:yaml.org,2002:"))
    except yaml.YAMLError as exc:
        raise CorruptError(f"not valid YAML: {exc}") from None
    return [("SCAN-YAML-PYTHON-TAG", Severity.CRITICAL, f"YAML tag !!{t} runs Python code when "
             "the file is read with yaml.Loader / yaml.unsafe_load") for t in sorted(tags)]


def _text(s: Stream) -> list[Note]:
    if b"\0" in s.peek(8192):
        raise CorruptError("binary content (NUL bytes) in a text file")
    return []


def _hdf5(s: Stream) -> list[Note]:
    """HDF5 holds data only, but a legacy Keras model keeps its layer config as a JSON
    attribute, and a Lambda layer there carries Python bytecode."""
    tail = b""
    while chunk := s.read(CHUNK):
        window = tail + chunk
        if any(needle in window for needle in _LAMBDA):
            return _keras_lambdas({"class_name": "Lambda"})
        tail = window[-64:]
    return []


_CHECKERS: Final = {"safetensors": _safetensors, "gguf": _gguf, "onnx": _onnx,
                    "json": _json, "yaml": _yaml, "text": _text, "hdf5": _hdf5}
SIMPLE_FORMATS: Final = frozenset(_CHECKERS)
