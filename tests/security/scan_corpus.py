"""The LG-SCAN adversarial corpus: malicious files written opcode by opcode, and benign files
written by the real libraries. Nothing here ever loads what it writes.

Each case is a name, a file name (the suffix matters: the scanner sniffs content first and
names second) and a writer. Malicious cases also name one rule the scan must report for them,
so a case cannot count as detected only because its generator wrote garbage.
Cases that mirror another scanner's test suite live in ``scan_corpus_upstream.py``.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

CMD = "touch /tmp/lifegate-corpus-payload-ran"
MAGIC = 0x1950A86A20F9469CFC6C


@dataclass(frozen=True)
class Case:
    name: str
    file: str
    write: Callable[[Path], None]
    expect: str = "SCAN-GLOBAL"  # a rule the scan must report (malicious cases only)


def raw(name: str, file: str, data: Callable[[], bytes], expect: str = "SCAN-GLOBAL") -> Case:
    return Case(name, file, lambda p: p.write_bytes(data()), expect)


# -- a small pickle assembler ---------------------------------------------------------------------

@dataclass(frozen=True)
class Ref:
    """A global used as a value (an argument that is itself a function or class)."""

    module: str
    name: str


class Asm:
    """Writes pickle opcodes the way CPython's pickler would at ``proto`` (None: no PROTO
    opcode at all, as in a hand-written protocol-0 stream)."""

    def __init__(self, proto: int | None = 4) -> None:
        self.proto = proto or 0
        self.out = bytearray(b"\x80" + bytes([proto]) if proto and proto >= 2 else b"")

    def op(self, data: bytes) -> Asm:
        self.out += data
        return self

    def str(self, s: str) -> Asm:
        data = s.encode()
        if self.proto == 0:  # escaped as CPython's pickler escapes a UNICODE line
            for ch in "\\\0\n\r\x1a":
                s = s.replace(ch, f"\\u{ord(ch):04x}")
            return self.op(b"V" + s.encode("raw-unicode-escape") + b"\n")
        if self.proto >= 4 and len(data) < 256:
            return self.op(b"\x8c" + bytes([len(data)]) + data)
        return self.op(b"X" + struct.pack("<I", len(data)) + data)

    def int(self, n: int) -> Asm:
        if self.proto == 0:
            return self.op(f"I{n}\n".encode())
        return self.op(b"J" + struct.pack("<i", n))

    def bytes(self, b: bytes) -> Asm:
        return self.op(b"C" + bytes([len(b)]) + b if len(b) < 256
                       else b"B" + struct.pack("<I", len(b)) + b)

    def value(self, v: object) -> Asm:
        if isinstance(v, Ref):
            return self.glob(v.module, v.name)
        if isinstance(v, str):
            return self.str(v)
        if isinstance(v, bool) or v is None:
            return self.op({None: b"N", True: b"I01\n", False: b"I00\n"}[v])
        if isinstance(v, int):
            return self.int(v)
        if isinstance(v, bytes):
            return self.bytes(v)
        if isinstance(v, tuple | list):
            self.op(b"(")
            for item in v:
                self.value(item)
            return self.op(b"t" if isinstance(v, tuple) else b"l")
        if isinstance(v, dict):
            self.op(b"(")
            for key, item in v.items():
                self.value(key).value(item)
            return self.op(b"d")
        raise TypeError(v)

    def glob(self, module: str, name: str) -> Asm:
        """Push a global as CPython's pickler writes it at this protocol."""
        if self.proto < 3 and module == "builtins":
            module = "__builtin__"
        if self.proto >= 4:
            return self.str(module).op(b"\x94").str(name).op(b"\x94\x93\x94")
        if "." in name:  # below protocol 4 a dotted name is getattr(parent, last)
            parent, last = name.rsplit(".", 1)
            self.glob("builtins", "getattr").op(b"(").glob(module, parent)
            return self.str(last).op(b"tR")
        return self.op(f"c{module}\n{name}\n".encode())

    def call(self, module: str, name: str, *args: object) -> Asm:
        return self.glob(module, name).value(tuple(args)).op(b"R")

    def stop(self) -> bytes:
        return bytes(self.out + b".")


def dumps_call(module: str, name: str, *args: object, proto: int | None = 4) -> bytes:
    """What pickle.dumps writes for an object whose __reduce__ returns (module.name, args)."""
    return Asm(proto).call(module, name, *args).stop()


# -- containers -----------------------------------------------------------------------------------

def zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buf.getvalue()


def tar_bytes(members: dict[str, bytes], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as t:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def npy_object(payload: bytes) -> bytes:
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += " " * (63 - len(header) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload


def storage_pid(asm: Asm, key: str, legacy: bool = False) -> Asm:
    """A PyTorch storage reference, as torch.save writes it (BINPERSID follows)."""
    asm.op(b"(").str("storage").glob("torch", "FloatStorage").str(key).str("cpu").int(2)
    return asm.op(b"Nt" if legacy else b"t")


def torch_state(payload: Callable[[Asm], Asm] | None = None, legacy: bool = False) -> bytes:
    """data.pkl of torch.save({"w": tensor}) at protocol 2, optionally with ``payload``
    injected as a second dict value."""
    a = Asm(2).op(b"}(").str("w").glob("torch._utils", "_rebuild_tensor_v2").op(b"(")
    storage_pid(a, "0", legacy).op(b"Q").int(0).op(b"(").int(2).op(b"t(").int(1)
    a.op(b"t\x89").glob("collections", "OrderedDict").op(b")RtR")
    if payload is not None:
        payload(a.str("x"))
    return a.op(b"u").stop()


def torch_zip(data_pkl: bytes, prefix: str = "archive") -> bytes:
    return zip_bytes({f"{prefix}/data.pkl": data_pkl, f"{prefix}/byteorder": b"little",
                      f"{prefix}/data/0": bytes(8), f"{prefix}/version": b"3\n",
                      f"{prefix}/.data/serialization_id": b"0123456789\n"},
                     zipfile.ZIP_STORED)


def torch_legacy(state: bytes, first: bytes | None = None) -> bytes:
    parts = [first or pickle.dumps(MAGIC, protocol=2), pickle.dumps(1001, protocol=2),
             pickle.dumps({"little_endian": True}, protocol=2), state,
             pickle.dumps(["0"], protocol=2)]
    return b"".join(parts) + struct.pack("<q", 2) + bytes(8)


def joblib_wrapped(payload: bytes, codec: str) -> bytes:
    """A joblib-compressed pickle (joblib writes zlib, gzip, bz2, xz or lzma streams)."""
    if codec == "zlib":
        return zlib.compress(payload)
    if codec == "gzip":
        return gzip.compress(payload)
    if codec == "bz2":
        return bz2.compress(payload)
    return lzma.compress(payload, format=lzma.FORMAT_XZ if codec == "xz" else lzma.FORMAT_ALONE)


def framed(body: bytes, declared: int) -> bytes:
    return b"\x80\x05\x95" + struct.pack("<Q", declared) + body


def memo_call(p: int) -> bytes:
    """The global is stored in the memo (PUT below protocol 1, BINPUT above), popped, fetched
    back (GET / BINGET) and only then called."""
    a = Asm(p).glob("os", "system").op(b"p90\n0g90\n" if p < 1 else b"q\x5a0h\x5a")
    return a.op(b"(").str(CMD).op(b"tR").stop()


def evil(proto: int | None = 4) -> bytes:
    return dumps_call("posix", "system", CMD, proto=proto)


def _protocol_cases() -> Iterable[Case]:
    for p in range(6):
        yield raw(f"lifegate:proto{p}-reduce-posix.system", f"p{p}.pkl", lambda p=p: evil(p))
        yield raw(f"lifegate:proto{p}-eval", f"e{p}.pkl",
                  lambda p=p: dumps_call("builtins", "eval", "1", proto=p))
        yield raw(f"lifegate:proto{p}-inst", f"i{p}.pkl", lambda p=p: bytes(
            Asm(p).op(b"(").str(CMD).op(b"ios\nsystem\n").out) + b".")
        yield raw(f"lifegate:proto{p}-obj", f"o{p}.pkl", lambda p=p: bytes(
            Asm(p).op(b"(").glob("subprocess", "Popen").value(["sh", "-c", CMD]).op(b"o").out)
            + b".")
        yield raw(f"lifegate:proto{p}-dotted-method", f"d{p}.pkl",
                  lambda p=p: dumps_call("bdb", "Bdb.run", CMD, proto=p))
        yield raw(f"lifegate:proto{p}-global-memoised-popped-fetched", f"m{p}.pkl",
                  lambda p=p: memo_call(p))
    for p in (2, 3, 4, 5):
        yield raw(f"lifegate:proto{p}-newobj", f"n{p}.pkl", lambda p=p: bytes(
            Asm(p).glob("subprocess", "Popen").value((["sh", "-c", CMD],)).op(b"\x81").out)
            + b".")
    for p in (4, 5):
        yield raw(f"lifegate:proto{p}-newobj-ex", f"x{p}.pkl", lambda p=p: bytes(
            Asm(p).glob("subprocess", "Popen").value((["id"],)).op(b"}\x92").out) + b".")


def _memo_cases() -> Iterable[Case]:
    """Globals stored in the memo, popped, fetched back and called; STACK_GLOBAL from memo."""
    yield raw("lifegate:memoize-binget-stack-global", "sg.pkl", lambda: (
        b"\x80\x04\x8c\x02os\x940\x8c\x06system\x940h\x00h\x01\x93\x8c\x02id\x85R."))
    yield raw("lifegate:long-binput-long-binget", "lb.pkl", lambda: (
        b"\x80\x02cos\nsystem\nr\x00\x01\x00\x000j\x00\x01\x00\x00X\x02\x00\x00\x00id\x85R."))
    yield raw("lifegate:text-put-get-proto0", "pg.pkl",
              lambda: b"cos\nsystem\np99\n0g99\n(Vid\ntR.")
    yield raw("lifegate:stack-global-from-computed-name", "cn.pkl", lambda: Asm(4).str(
        "os").call("builtins", "str", "system").op(b"\x93").stop(),
        expect="SCAN-GLOBAL-UNRESOLVED")
    yield raw("lifegate:dup-global-then-reduce", "dup.pkl",
              lambda: b"\x80\x02cos\nsystem\n2X\x02\x00\x00\x00id\x85R0X\x02\x00\x00\x00id\x85R.")


def _dotted_cases() -> Iterable[Case]:
    yield raw("lifegate:os.path-style-module", "op.pkl",
              lambda: dumps_call("os.path", "os.system", CMD))
    yield raw("lifegate:dotted-name-through-allowlisted-package", "sk.pkl",
              lambda: dumps_call("sklearn.base", "np.os.system", CMD))
    yield raw("lifegate:dotted-name-through-allowlisted-class", "od.pkl",
              lambda: dumps_call("collections", "OrderedDict.__init__.__globals__"))
    yield raw("lifegate:reduce-ex-attribute", "rx.pkl",
              lambda: dumps_call("builtins", "object.__reduce_ex__", 2))
    yield raw("lifegate:getattr-chain", "ga.pkl", lambda: (
        b"\x80\x02cbuiltins\ngetattr\ncbuiltins\n__import__\nX\x02\x00\x00\x00os\x85R"
        b"X\x06\x00\x00\x00system\x86RX\x02\x00\x00\x00id\x85R."))
    yield raw("lifegate:python2-builtin-name", "p2.pkl",
              lambda: b"c__builtin__\neval\n(S'1'\ntR.")


def _other_opcode_cases() -> Iterable[Case]:
    for n, code in ((1, b"\x82\x01"), (2, b"\x83\x01\x00"), (4, b"\x84\x01\x00\x00\x00")):
        yield raw(f"lifegate:ext{n}-extension-code", f"ext{n}.pkl",
                  lambda c=code: b"\x80\x02" + c + b")R.", expect="SCAN-EXT")
    yield raw("lifegate:persid-text", "pid.pkl", lambda: b"Pos.system\n.", expect="SCAN-PERSID")
    yield raw("lifegate:binpersid-tuple", "bpid.pkl",
              lambda: b"\x80\x02X\x02\x00\x00\x00osX\x06\x00\x00\x00system\x86Q.",
              expect="SCAN-PERSID")
    yield raw("lifegate:binpersid-in-torch-zip-not-a-storage", "tp.pt", lambda: torch_zip(
        b"\x80\x02(X\x06\x00\x00\x00systemX\x02\x00\x00\x00idtQ."), expect="SCAN-PERSID")
    yield raw("lifegate:torch-storage-pid-outside-a-checkpoint", "sp.pkl",
              lambda: torch_state(), expect="SCAN-PERSID")
    yield raw("lifegate:build-patches-imported-module", "bm.pkl", lambda: (
        b"\x80\x02ccollections\nOrderedDict\n}X\x03\x00\x00\x00keyX\x01\x00\x00\x00vsb."),
        expect="SCAN-MUTATE-GLOBAL")
    yield raw("lifegate:frame-straddle", "fr.pkl", lambda: framed(
        b"B\x07\x01\x00\x00" + (b"cos\nsystem\nVid\n\x85R(").ljust(0x107, b"N"), 2) + b"1.",
        expect="SCAN-CORRUPT")
    yield raw("lifegate:trailing-pickle-after-stop", "tr.pkl",
              lambda: pickle.dumps([1, 2], protocol=2) + evil(2))
    yield raw("lifegate:nested-pickle-in-bytes", "nb.pkl", lambda: Asm(5).call(
        "pickle", "loads", evil(2)).stop())


def _container_cases() -> Iterable[Case]:
    yield raw("lifegate:torch-zip-injected-os.system", "model.pt", lambda: torch_zip(
        torch_state(lambda a: a.call("posix", "system", CMD))))
    yield raw("lifegate:torch-zip-renamed-prefix", "pytorch_model.bin", lambda: torch_zip(
        torch_state(lambda a: a.call("builtins", "exec", "1")), prefix="pytorch_model"))
    yield raw("lifegate:torch-zip-storage-member-is-a-pickle", "st.pt", lambda: zip_bytes({
        "archive/data.pkl": torch_state(), "archive/version": b"3\n", "archive/data/0": evil(2)}))
    yield raw("lifegate:torch-legacy-injected", "legacy.pt", lambda: torch_legacy(
        torch_state(lambda a: a.call("posix", "system", CMD), legacy=True)))
    yield raw("lifegate:torch-legacy-magic-from-eval", "magic.pt", lambda: torch_legacy(
        torch_state(legacy=True), first=dumps_call("builtins", "eval", hex(MAGIC), proto=2)))
    for mode, suffix in (("w", "tar"), ("w:gz", "tar.gz"), ("w:bz2", "tar.bz2"),
                         ("w:xz", "tar.xz")):
        yield raw(f"lifegate:{suffix}-member", f"model.{suffix}",
                  lambda m=mode: tar_bytes({"model/weights.pkl": evil(4)}, m))
    for codec in ("zlib", "gzip", "bz2", "xz", "lzma"):
        yield raw(f"lifegate:joblib-{codec}", f"model-{codec}.joblib",
                  lambda c=codec: joblib_wrapped(evil(4), c))
    yield raw("lifegate:nested-zip-in-tar.gz-in-zip", "bundle.zip", lambda: zip_bytes({
        "pkg.tar.gz": tar_bytes({"w/inner.zip": zip_bytes({"data.pkl": evil(2)})}, "w:gz")}))
    yield raw("lifegate:npy-object-array", "a.npy", lambda: npy_object(evil(3)))
    yield raw("lifegate:npz-object-array", "a.npz", lambda: zip_bytes({
        "x.npy": npy_object(evil(3))}))
    yield raw("lifegate:zip-member-disguised-as-json", "m.zip",
              lambda: zip_bytes({"config.json": evil(2)}))
    yield raw("lifegate:keras-lambda-config", "model.keras", lambda: zip_bytes({
        "config.json": b'{"class_name": "Functional", "config": {"layers": [{"class_name": '
                       b'"Lambda", "config": {"function": "x"}}]}}'}), expect="SCAN-KERAS-LAMBDA")
    yield raw("lifegate:yaml-python-tag", "config.yaml",
              lambda: b"a: !!python/object/apply:os.system ['id']\n",
              expect="SCAN-YAML-PYTHON-TAG")


def malicious() -> list[Case]:
    return [*_protocol_cases(), *_memo_cases(), *_dotted_cases(), *_other_opcode_cases(),
            *_container_cases()]


# -- benign files, written by the real libraries ---------------------------------------------------

def pandas_objects() -> dict[str, object]:
    """DataFrames, Series, every Index kind, Categorical, datetime data and scalars, nullable
    and sparse arrays, string dtypes and every offset class of the installed pandas."""
    import datetime as dt

    import numpy as np
    import pandas as pd
    from pandas.tseries import offsets

    objs: dict[str, object] = {
        "frame": pd.DataFrame({"a": [1, 2], "b": [1.5, None], "s": ["x", "y"],
                               "o": np.array(["p", None], dtype=object), "t": [True, False]}),
        "series": pd.Series([1, 2], name="n"), "str": pd.Series(["a", None], dtype="string"),
        "str_py": pd.Series(["a", None], dtype="string[python]"),
        "cat": pd.Categorical(["a", "b", "a"]), "cat_idx": pd.CategoricalIndex(["a", "b"]),
        "cat_series": pd.Series(pd.Categorical(["a", "b"], ordered=True)),
        "dt": pd.date_range("2024-01-01", periods=3, freq="D"),
        "dt_utc": pd.date_range("2024-01-01", periods=2, freq="h", tz="UTC"),
        "dt_fixed": pd.date_range("2024", periods=2, tz=dt.timezone(dt.timedelta(hours=2))),
        "dt_col": pd.DataFrame({"v": [1, 2]}, index=pd.date_range("2024", periods=2)),
        "td": pd.to_timedelta([1, 2], unit="s"), "period": pd.period_range("2024-01", periods=2,
                                                                           freq="M"),
        "interval": pd.interval_range(0, 3),
        "interval_array": pd.arrays.IntervalArray.from_breaks([0, 1, 2]),
        "multi": pd.MultiIndex.from_tuples([(1, "a")]),
        "range": pd.RangeIndex(5), "float_idx": pd.Index([1.0, 2.0]),
        "bool_idx": pd.Index([True, False]), "ts": pd.Timestamp("2024-01-01"),
        "ts_utc": pd.Timestamp("2024-01-01", tz="UTC"), "tdelta": pd.Timedelta("1D"),
        "int_na": pd.Series([1, None], dtype="Int64"), "uint_na": pd.Series([1], dtype="UInt8"),
        "bool_na": pd.Series([True, None], dtype="boolean"),
        "float_na": pd.Series([1.0, None], dtype="Float64"),
        "sparse": pd.Series(pd.arrays.SparseArray([0, 0, 1])), "nat": pd.NaT, "na": pd.NA,
        "period_scalar": pd.Period("2024-01", freq="M"), "interval_scalar": pd.Interval(0, 1),
        "interval_dtype": pd.IntervalDtype("int64"), "date_offset": offsets.DateOffset(months=1),
    }
    flagged = pd.DataFrame({"a": [1]}).set_flags(allows_duplicate_labels=False)
    flagged.attrs["source"] = "corpus"
    objs["flags_attrs"] = flagged
    for name in offsets.__all__:
        cls = getattr(offsets, name)
        if isinstance(cls, type) and name not in ("DateOffset", "BaseOffset", "Tick"):
            objs[f"offset_{name}"] = cls()
    return objs


def _write_pickle(obj: Callable[[], object], proto: int) -> Callable[[Path], None]:
    return lambda p: p.write_bytes(pickle.dumps(obj(), protocol=proto))


def _sklearn_models() -> dict[str, object]:
    from sklearn.cluster import KMeans
    from sklearn.datasets import load_iris
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeRegressor

    x, y = load_iris(return_X_y=True)
    return {
        "pipeline": make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(x, y),
        "forest": RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y),
        "boosting": GradientBoostingClassifier(n_estimators=3, random_state=0).fit(x, y),
        "kmeans": KMeans(n_clusters=3, n_init=1, random_state=0).fit(x),
        "svc": SVC().fit(x, y), "tree": DecisionTreeRegressor(max_depth=3).fit(x, y[::-1]),
        "onehot": OneHotEncoder().fit([["a"], ["b"]]),
    }


def _sklearn_cases() -> Iterable[Case]:
    import joblib

    models = _sklearn_models()
    for name, model in models.items():
        for compress in (0, 3, "gzip", "bz2", "xz", "lzma"):
            yield Case(f"sklearn:{name}-joblib-{compress}", f"{name}-{compress}.joblib",
                       lambda p, m=model, c=compress: joblib.dump(m, p, compress=c))
        for proto in (2, 4, 5):
            yield Case(f"sklearn:{name}-pickle-{proto}", f"{name}-{proto}.pkl",
                       lambda p, m=model, pr=proto: p.write_bytes(pickle.dumps(m, protocol=pr)))


def _numpy_cases() -> Iterable[Case]:
    import joblib
    import numpy as np

    arrays = {"f": np.arange(12.0).reshape(3, 4), "i": np.arange(5, dtype="i2"),
              "s": np.array(["ab", "c"]), "b": np.array([True]), "c": np.array([1j]),
              "dt": np.array(["2024-01-01"], dtype="M8[D]"), "empty": np.zeros((0, 3)),
              "rec": np.zeros(2, dtype=[("x", "f4"), ("y", "i8")]),
              "rng": np.random.default_rng(0), "legacy_rng": np.random.RandomState(0)}
    plain = {k: v for k, v in arrays.items() if isinstance(v, np.ndarray)}
    yield Case("numpy:np.save", "a.npy", lambda p: np.save(p, plain["f"]))
    yield Case("numpy:np.savez", "a.npz", lambda p: np.savez(p, **plain))
    yield Case("numpy:np.savez_compressed", "c.npz", lambda p: np.savez_compressed(p, **plain))
    for proto in range(6):
        yield Case(f"numpy:pickle-{proto}", f"np{proto}.pkl", _write_pickle(lambda: arrays, proto))
    yield Case("numpy:joblib", "np.joblib", lambda p: joblib.dump(arrays, p))
    yield Case("numpy:joblib-compressed", "npz.joblib",
               lambda p: joblib.dump(arrays, p, compress=3))


def _pandas_cases() -> Iterable[Case]:
    import pandas as pd

    for proto in range(6):
        yield Case(f"pandas:objects-pickle-{proto}", f"pd{proto}.pkl",
                   _write_pickle(pandas_objects, proto))
    frame = pandas_objects()["frame"]
    assert isinstance(frame, pd.DataFrame)
    for suffix in ("pkl", "pkl.gz", "pkl.bz2", "pkl.xz", "pkl.zip"):
        yield Case(f"pandas:DataFrame.to_pickle-{suffix}", f"frame.{suffix}",
                   lambda p: frame.to_pickle(p))


def _onnx_model(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [1, 4])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, [1, 4])], [helper.make_tensor("w", TensorProto.FLOAT, [4],
                                                                 [1.0, 2.0, 3.0, 4.0])])
    onnx.save(helper.make_model(graph), path)


def _format_cases() -> Iterable[Case]:
    header = b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{}}'
    yield Case("onnx:relu-model", "model.onnx", _onnx_model)
    yield raw("lifegate:safetensors-format-hand-written", "model.safetensors",
              lambda: struct.pack("<Q", len(header)) + header + struct.pack("<2f", 1.0, 2.0))
    yield raw("lifegate:torch-zip-layout", "model.pt", lambda: torch_zip(torch_state()))
    yield raw("lifegate:torch-zip-layout-hf-name", "pytorch_model.bin",
              lambda: torch_zip(torch_state(), prefix="pytorch_model"))
    yield raw("lifegate:torch-legacy-layout", "legacy.pt",
              lambda: torch_legacy(torch_state(legacy=True)))
    yield raw("lifegate:configs", "config.json", lambda: b'{"hidden": 8}')
    yield raw("lifegate:yaml", "params.yaml", lambda: b"lr: 0.1\nlayers: [1, 2]\n")


def benign() -> list[Case]:
    return [*_sklearn_cases(), *_numpy_cases(), *_pandas_cases(), *_format_cases()]
