"""LG-SCAN against hand-built malicious and benign model files.

Malicious samples are written as pickle opcodes by hand (or with ``pickle.dumps`` of an
object whose ``__reduce__`` names ``os.system``); they are never loaded. Each payload would
create ``<project>/PWNED``; the ``cmd`` fixture checks afterwards that it does not exist.
"""

from __future__ import annotations

import _compat_pickle
import bz2
import collections
import gzip
import importlib.util
import io
import json
import lzma
import os
import pickle
import pickletools
import socket
import struct
import sys
import tarfile
import types
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lifegate.core import (
    ConfigError,
    GateFailed,
    Policy,
    Verdict,
    make_context,
    run_gate_by_id,
)
from lifegate.core.model import GateResult
from lifegate.gates._scan_common import Stream
from lifegate.gates._scan_pickle import PickleWalker

Make = Callable[..., Policy]


def _load_samples() -> types.ModuleType:
    """scan_samples.py from this folder, whatever pytest's import mode."""
    path = Path(__file__).with_name("scan_samples.py")
    spec = importlib.util.spec_from_file_location("lifegate_scan_samples", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


samples = _load_samples()


# -- fixtures and helpers -----------------------------------------------------------------------

@pytest.fixture
def models(project: Path) -> Path:
    path = project / "m"
    path.mkdir()
    return path


@pytest.fixture
def cmd(project: Path) -> Iterator[str]:
    marker = project / "PWNED"
    yield f"touch {marker}"
    assert not marker.exists(), "a payload ran"


@pytest.fixture
def policy(make_policy: Make) -> Policy:
    return make_policy(**{"LG-SCAN": {}})


def scan(policy: Policy, path: Path) -> GateResult:
    context = make_context(policy, artifacts={"model": str(path)})
    return run_gate_by_id("LG-SCAN", policy, context).result


def fails(policy: Policy, path: Path, *needles: str) -> GateFailed:
    with pytest.raises(GateFailed) as exc:
        scan(policy, path)
    text = str(exc.value)
    assert exc.value.result.verdict is Verdict.FAIL, text
    for needle in needles:
        assert needle in text, f"{needle!r} not in:\n{text}"
    return exc.value


def rules(exc: GateFailed) -> set[str]:
    return {f.rule for f in exc.result.findings if f.blocking}


# -- malicious pickles --------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "build", "expected"), [
    ("os-system.pkl", lambda c: samples.reduce_p0("os", "system", c),
     "os.system (GLOBAL at offset 0)"),
    ("posix.pkl", lambda c: pickle.dumps(samples.Evil(c), protocol=2), "posix.system"),
    ("popen.pkl", lambda c: samples.reduce_p2("subprocess", "Popen", c), "subprocess.Popen"),
    ("check.pkl", lambda c: samples.reduce_p2("subprocess", "check_output", c),
     "subprocess.check_output"),
    ("exec.pkl", lambda c: samples.reduce_p2("builtins", "exec", c), "builtins.exec"),
    ("eval2.pkl", lambda c: samples.reduce_p2("__builtin__", "eval", c),
     "builtins.eval (written as __builtin__.eval)"),
    ("getattr.pkl", samples.getattr_chain, "builtins.getattr"),
    ("importlib.pkl", lambda c: samples.reduce_p2("importlib", "import_module", "os"),
     "importlib.import_module"),
    ("memo.pkl", samples.stack_global_memo, "os.system (STACK_GLOBAL at offset"),
    ("inst.pkl", samples.inst_p0, "os.system (INST at offset"),
    ("proto4.pkl", lambda c: pickle.dumps(samples.Evil(c), protocol=4),
     "posix.system (STACK_GLOBAL"),
    ("config.json", lambda c: pickle.dumps(samples.Evil(c), protocol=2), "posix.system"),
])
def test_malicious_pickle_fails(policy: Policy, models: Path, cmd: str, name: str,
                                build: Callable[[str], bytes], expected: str) -> None:
    path = models / name
    path.write_bytes(build(cmd))
    exc = fails(policy, path, expected, f"m/{name}", "critical")
    assert "SCAN-GLOBAL" in rules(exc)


def test_getattr_chain_names_both_builtins(policy: Policy, models: Path, cmd: str) -> None:
    (models / "g.pkl").write_bytes(samples.getattr_chain(cmd))
    fails(policy, models / "g.pkl", "builtins.getattr", "builtins.__import__")


def test_pickle_hidden_in_case_mangled_zip_member(policy: Policy, models: Path,
                                                   cmd: str) -> None:
    evil = pickle.dumps(samples.Evil(cmd), protocol=2)
    path = samples.write_zip(models / "model.bin", {"ARCHIVE/DATA.PKL": evil})
    fails(policy, path, "m/model.bin!ARCHIVE/DATA.PKL", "posix.system")


def test_pytorch_zip_with_malicious_data_pkl(policy: Policy, models: Path, cmd: str) -> None:
    path = samples.torch_zip(models / "model.pt", samples.reduce_p2("os", "system", cmd))
    exc = fails(policy, path, "m/model.pt!archive/data.pkl", "os.system")
    assert exc.result.details["files"]["m/model.pt"]["member_formats"]["archive/data/0"] == \
        "tensor-data"


def test_pickle_disguised_as_tensor_storage(policy: Policy, models: Path, cmd: str) -> None:
    path = samples.write_zip(models / "model.pt", {
        "archive/data.pkl": pickle.dumps({"a": 1}, protocol=2), "archive/version": b"3\n",
        "archive/data/7": pickle.dumps(samples.Evil(cmd), protocol=2)})
    fails(policy, path, "m/model.pt!archive/data/7", "posix.system")


def test_nested_zip_in_tar_gz_in_zip(policy: Policy, models: Path, cmd: str) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(samples.Evil(cmd), protocol=2))
    tgz = samples.tar_gz_bytes({"weights/inner.zip": inner.getvalue()})
    path = samples.write_zip(models / "bundle.zip", {"pkg.tar.gz": tgz})
    fails(policy, path, "m/bundle.zip!pkg.tar.gz!weights/inner.zip!archive/data.pkl",
          "posix.system")


def test_nesting_deeper_than_limit_fails(make_policy: Make, models: Path, cmd: str) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("data.pkl", pickle.dumps({"ok": 1}, protocol=2))
    tgz = samples.tar_gz_bytes({"i.zip": inner.getvalue()})
    path = samples.write_zip(models / "bundle.zip", {"pkg.tar.gz": tgz})
    policy = make_policy(**{"LG-SCAN": {"max_archive_depth": 2}})
    exc = fails(policy, path, "max_archive_depth=2", "m/bundle.zip!pkg.tar.gz!i.zip")
    assert rules(exc) == {"SCAN-DEPTH"}


def test_npy_with_object_dtype_fails(policy: Policy, models: Path, cmd: str) -> None:
    (models / "a.npy").write_bytes(samples.npy_object(pickle.dumps(samples.Evil(cmd), protocol=3)))
    exc = fails(policy, models / "a.npy", "holds Python objects", "posix.system")
    assert {"SCAN-NPY-OBJECT", "SCAN-GLOBAL"} <= rules(exc)


def test_unknown_format_fails(policy: Policy, models: Path) -> None:
    (models / "weights.xyz").write_bytes(bytes(range(256)) * 4)
    exc = fails(policy, models / "weights.xyz", "unknown format", "allow_unknown_formats",
                "convert to safetensors")
    assert rules(exc) == {"SCAN-UNKNOWN-FORMAT"}


def test_unknown_name_with_pickle_content_is_scanned(policy: Policy, models: Path,
                                                     cmd: str) -> None:
    (models / "weights.dat").write_bytes(samples.reduce_p0("os", "system", cmd))
    fails(policy, models / "weights.dat", "os.system")


def test_symlink_to_outside_fails(policy: Policy, models: Path) -> None:
    (models / "config.json").write_text('{"a": 1}')
    os.symlink("/etc/passwd", models / "link.pkl")
    exc = fails(policy, models, "m/link.pkl", "/etc/passwd", "not followed")
    assert rules(exc) == {"SCAN-SYMLINK"}


def test_zip_member_with_parent_path_fails(policy: Policy, models: Path) -> None:
    path = samples.write_zip(models / "a.zip", {"../../etc/cron.d/x.json": b"{}"})
    exc = fails(policy, path, "m/a.zip!../../etc/cron.d/x.json", "'..' component")
    assert rules(exc) == {"SCAN-MEMBER-PATH"}


def test_tar_links_and_absolute_names_fail(policy: Policy, models: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        link = tarfile.TarInfo("weights.bin")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
        t.addfile(link)
        data = b"{}"
        info = tarfile.TarInfo("/etc/cron.d/job.json")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    (models / "bundle.tar").write_bytes(buf.getvalue())
    exc = fails(policy, models / "bundle.tar", "m/bundle.tar!weights.bin", "'/etc/shadow'",
                "m/bundle.tar!/etc/cron.d/job.json: archive member name has an absolute path")
    assert rules(exc) == {"SCAN-LINK-MEMBER", "SCAN-MEMBER-PATH"}


def test_truncated_pickle_is_corrupt(policy: Policy, models: Path) -> None:
    (models / "t.pkl").write_bytes(pickle.dumps({"a": list(range(100))}, protocol=4)[:-7])
    exc = fails(policy, models / "t.pkl", "corrupt pickle", "before its STOP")
    assert rules(exc) == {"SCAN-CORRUPT"}


def test_corrupt_zip_and_safetensors_are_findings(policy: Policy, models: Path) -> None:
    (models / "x.pt").write_bytes(b"PK\x03\x04" + bytes(40))
    (models / "y.safetensors").write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    exc = fails(policy, models, "m/x.pt: corrupt zip", "exceeds the format's limit")
    assert rules(exc) == {"SCAN-CORRUPT"}


def test_joblib_zlib_compressed_malicious(policy: Policy, models: Path, cmd: str) -> None:
    evil = pickle.dumps(samples.Evil(cmd), protocol=4)
    (models / "model.joblib").write_bytes(zlib.compress(evil))
    exc = fails(policy, models / "model.joblib", "m/model.joblib!<zlib>", "posix.system")
    assert exc.result.details["files"]["m/model.joblib"]["format"] == "zlib:pickle"


def test_joblib_object_array_pickle_is_scanned(policy: Policy, models: Path, cmd: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    np = pytest.importorskip("numpy")
    arrays = {"w": np.ones(3), "objs": np.array([samples.Evil(cmd)], dtype=object)}
    path = samples.joblib_like(models / "model.joblib", arrays, monkeypatch)
    fails(policy, path, "posix.system", "m/model.joblib@")


def test_joblib_bytes_that_pickle_load_would_run(policy: Policy, models: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    np = pytest.importorskip("numpy")
    data = np.frombuffer(b"cos\nsystem\n", dtype=np.uint8).copy()
    path = samples.joblib_like(models / "old.joblib", {"w": data}, monkeypatch, aligned=False)
    exc = fails(policy, path, "pickle.load (not joblib) would run them")
    assert rules(exc) == {"SCAN-JOBLIB-AMBIGUOUS"}


def test_trailing_data_after_stop_fails(policy: Policy, models: Path) -> None:
    (models / "p.pkl").write_bytes(pickle.dumps([1, 2], protocol=2) + b"PK\x05\x06junk")
    assert rules(fails(policy, models / "p.pkl", "after the pickle's STOP")) == \
        {"SCAN-TRAILING"}


@pytest.mark.parametrize(("data", "rule", "needle"), [
    (b"\x80\x02\x82\x01)R.", "SCAN-EXT", "extension code 1"),
    (b"\x80\x04cbuiltins\nstr\n" + samples.short_unicode("os") + b"\x85R"
     + samples.short_unicode("x") + b"\x93).", "SCAN-GLOBAL-UNRESOLVED", "not plain strings"),
])
def test_hidden_globals_fail(policy: Policy, models: Path, data: bytes, rule: str,
                             needle: str) -> None:
    (models / "h.pkl").write_bytes(data)
    exc = fails(policy, models / "h.pkl", needle)
    assert rule in rules(exc)


def test_yaml_python_tag_fails(policy: Policy, models: Path) -> None:
    (models / "c.yaml").write_text("model: !!python/object/apply:os.system ['id']\n")
    exc = fails(policy, models / "c.yaml", "python/object/apply:os.system")
    assert rules(exc) == {"SCAN-YAML-PYTHON-TAG"}


def test_oversized_member_is_a_finding(make_policy: Make, models: Path) -> None:
    path = samples.write_zip(models / "w.npz", {"a.npy": bytes(5000)})
    policy = make_policy(**{"LG-SCAN": {"max_member_bytes": 1000}})
    assert rules(fails(policy, path, "larger than max_member_bytes=1000")) == {"SCAN-SIZE"}


def test_decompression_bomb_is_a_finding(make_policy: Make, models: Path) -> None:
    bomb = b"\x80\x02cos\nsystem\n0" + b"N0" * 100_000
    (models / "bomb.joblib").write_bytes(zlib.compress(bomb))
    policy = make_policy(**{"LG-SCAN": {"max_member_bytes": 10_000}})
    exc = fails(policy, models / "bomb.joblib", "max_member_bytes", "os.system")
    assert rules(exc) == {"SCAN-SIZE", "SCAN-GLOBAL"}


@pytest.mark.parametrize("compress", [
    gzip.compress, bz2.compress, lzma.compress,
    lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE)], ids=["gzip", "bz2", "xz", "lzma"])
def test_joblib_compressions_are_opened(policy: Policy, models: Path, cmd: str,
                                        compress: Callable[[bytes], bytes]) -> None:
    (models / "model.joblib").write_bytes(compress(pickle.dumps(samples.Evil(cmd), protocol=4)))
    fails(policy, models / "model.joblib", "m/model.joblib!<", "posix.system")


@pytest.mark.parametrize("container", ["tar", "zip"])
def test_archive_inside_a_compressed_stream(policy: Policy, models: Path, cmd: str,
                                            container: str) -> None:
    evil = pickle.dumps(samples.Evil(cmd), protocol=2)
    if container == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("a/data.pkl", evil)
        data = buf.getvalue()
    else:
        data = gzip.decompress(samples.tar_gz_bytes({"a/data.pkl": evil}))
    (models / "bundle.gz").write_bytes(gzip.compress(data))
    fails(policy, models / "bundle.gz", "m/bundle.gz!<gzip>!a/data.pkl", "posix.system")


def test_keras_lambda_layer_fails(policy: Policy, models: Path) -> None:
    config = {"class_name": "Sequential", "config": {"layers": [
        {"class_name": "Lambda", "config": {"function": {"class_name": "__lambda__"}}}]}}
    path = samples.write_zip(models / "m.keras", {"config.json": json.dumps(config).encode(),
                                          "metadata.json": b"{}",
                                          "model.weights.h5": b"\x89HDF\r\n\x1a\n" + bytes(64)})
    exc = fails(policy, path, "m/m.keras!config.json", "Keras Lambda layer")
    assert rules(exc) == {"SCAN-KERAS-LAMBDA"}


def test_duplicate_zip_member_fails(policy: Policy, models: Path) -> None:
    path = models / "d.npz"
    with zipfile.ZipFile(path, "w") as z, pytest.warns(UserWarning, match="Duplicate"):
        z.writestr("a.json", b"{}")
        z.writestr("a.json", b"[]")
    assert rules(fails(policy, path, "holds this name twice")) == {"SCAN-DUPLICATE-MEMBER"}


def test_pickle_that_patches_an_imported_global_fails(make_policy: Make, models: Path) -> None:
    # BUILD (None, {"fit": builtins.dict}) on the class itself: setattr(BaseEstimator, ...),
    # with nothing but allowlisted globals
    (models / "patch.pkl").write_bytes(b"\x80\x02csklearn.base\nBaseEstimator\nN}"
                                       + samples.unicode4("fit") + b"cbuiltins\ndict\ns\x86b.")
    exc = fails(make_policy(**{"LG-SCAN": {}}), models / "patch.pkl",
                "changes the imported global sklearn.base.BaseEstimator")
    assert rules(exc) == {"SCAN-MUTATE-GLOBAL"}


def test_sklearn_download_helpers_stay_blocked(policy: Policy, models: Path) -> None:
    (models / "f.pkl").write_bytes(samples.reduce_p2("sklearn.datasets", "fetch_openml", "x"))
    (models / "ok.pkl").write_bytes(b"\x80\x02csklearn.linear_model._logistic\n"
                                    b"LogisticRegression\n)\x81}b.")
    exc = fails(policy, models, "sklearn.datasets.fetch_openml", "high:")
    assert exc.result.details["files"]["m/ok.pkl"]["verdict"] == "pass"


# -- benign models --------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", [2, 5])
def test_dict_of_numpy_arrays_passes(policy: Policy, models: Path, protocol: int) -> None:
    np = pytest.importorskip("numpy")
    state = {"coef": np.arange(12.0).reshape(3, 4), "big": np.zeros(300_000, dtype="f4"),
             "classes": np.array(["a", "b"]), "od": collections.OrderedDict(k=np.int64(3)),
             "rng": np.random.RandomState(0), "gen": np.random.default_rng(1), "b": b"xy"}
    (models / "m.pkl").write_bytes(pickle.dumps(state, protocol=protocol))
    result = scan(policy, models / "m.pkl")
    assert result.verdict is Verdict.PASS
    info = result.details["files"]["m/m.pkl"]
    assert info["verdict"] == "pass" and "numpy.dtype" in info["globals"]
    assert not result.details["second_opinion"]["m/m.pkl"].startswith(("error", "skipped"))


def test_joblib_like_arrays_pass(policy: Policy, models: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    np = pytest.importorskip("numpy")
    obj = {"w": np.arange(10.0), "i": np.arange(6, dtype="i4").reshape(2, 3).T,
           "empty": np.zeros((0, 3)), "s": np.array(["ab", "c"]), "n": 3,
           "objs": np.array([{"k": 1}, None], dtype=object)}
    path = samples.joblib_like(models / "est.joblib", obj, monkeypatch)
    result = scan(policy, path)
    assert result.verdict is Verdict.PASS
    assert "joblib.numpy_pickle.NumpyArrayWrapper" in \
        result.details["files"]["m/est.joblib"]["globals"]


def test_real_joblib_dump_passes(policy: Policy, models: Path) -> None:
    joblib = pytest.importorskip("joblib", reason="joblib is not installed")
    np = pytest.importorskip("numpy")
    joblib.dump({"w": np.arange(100.0)}, models / "j.joblib")
    joblib.dump({"w": np.arange(100.0)}, models / "z.joblib", compress=3)
    assert scan(policy, models).verdict is Verdict.PASS


def test_real_scikit_learn_model_saved_with_joblib_passes(policy: Policy, models: Path) -> None:
    joblib = pytest.importorskip("joblib", reason="joblib is not installed")
    datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn is not installed")
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = datasets.load_iris(return_X_y=True)
    joblib.dump(make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y),
                models / "pipe.joblib")
    joblib.dump(RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y),
                models / "forest.joblib", compress=3)
    result = scan(policy, models)
    assert result.verdict is Verdict.PASS, result.findings
    globals_ = result.details["files"]["m/pipe.joblib"]["globals"]
    assert "sklearn.linear_model._logistic.LogisticRegression" in globals_


def test_pytorch_style_zip_passes(policy: Policy, models: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    state = samples.torch_state_pickle(monkeypatch)
    path = samples.torch_zip(models / "model.pt", state, prefix="model")
    result = scan(policy, path)
    assert result.verdict is Verdict.PASS, result.findings
    assert "torch._utils._rebuild_tensor_v2" in result.details["files"]["m/model.pt"]["globals"]


def test_legacy_pytorch_file_passes(policy: Policy, models: Path) -> None:
    buf = io.BytesIO()
    for part in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}, {"w": [1.0]}, ["0"]):
        pickle.dump(part, buf, protocol=2)
    (models / "old.pt").write_bytes(buf.getvalue() + struct.pack("<q", 2) + bytes(8))
    result = scan(policy, models / "old.pt")
    assert result.verdict is Verdict.PASS and result.metrics["pickles"] == 5


def test_data_formats_pass(policy: Policy, models: Path) -> None:
    np = pytest.importorskip("numpy")
    (models / "w.safetensors").write_bytes(samples.safetensors_bytes(
        {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
         "__metadata__": {"format": "pt"}}, struct.pack("<2f", 1.0, 2.0)))
    np.save(models / "f.npy", np.arange(5.0))
    np.savez(models / "arrays.npz", a=np.ones(3), b=np.zeros((2, 2)))
    (models / "config.json").write_text('{"layers": 2}')
    (models / "params.yaml").write_text("lr: 0.1\n")
    (models / "vocab.txt").write_text("a\nb\n")
    (models / "m.onnx").write_bytes(b"\x08\x08\x12\x04test\x3a\x00")
    (models / "m.gguf").write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 0))
    result = scan(policy, models)
    assert result.verdict is Verdict.PASS, result.findings
    formats = {k: v["format"] for k, v in result.details["files"].items()}
    assert formats == {"m/w.safetensors": "safetensors", "m/f.npy": "npy", "m/arrays.npz": "zip",
                       "m/config.json": "json", "m/params.yaml": "yaml", "m/vocab.txt": "text",
                       "m/m.onnx": "onnx", "m/m.gguf": "gguf"}
    assert {s.name for s in result.subjects} == set(formats)
    assert result.metrics["files"] == 8 and result.metrics["archives"] == 1


def test_real_onnx_model_passes(policy: Policy, models: Path) -> None:
    onnx = pytest.importorskip("onnx", reason="onnx is not installed")
    node = onnx.helper.make_node("Relu", ["x"], ["y"])
    graph = onnx.helper.make_graph(
        [node], "g", [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    onnx.save(onnx.helper.make_model(graph), str(models / "relu.onnx"))
    assert scan(policy, models / "relu.onnx").verdict is Verdict.PASS


# -- policy settings, evidence and isolation ----------------------------------------------------

CUSTOM = b"\x80\x02cmypkg.models\nCustom\n)\x81}X\x01\x00\x00\x00aK\x01sb."


@pytest.mark.parametrize("entry", ["mypkg.models.Custom", "mypkg.*"])
def test_allowed_globals_allow_a_custom_class(make_policy: Make, models: Path,
                                              entry: str) -> None:
    (models / "c.pkl").write_bytes(CUSTOM)
    fails(make_policy(**{"LG-SCAN": {}}), models / "c.pkl", "mypkg.models.Custom", "high:")
    policy = make_policy(**{"LG-SCAN": {"allowed_globals": [entry]}})
    assert scan(policy, models / "c.pkl").verdict is Verdict.PASS


def test_package_entry_does_not_allow_dotted_names(make_policy: Make, models: Path) -> None:
    (models / "d.pkl").write_bytes(b"\x80\x04" + samples.short_unicode("sklearn.base")
                                   + samples.short_unicode("os.system") + b"\x93).")
    fails(make_policy(**{"LG-SCAN": {}}), models / "d.pkl", "critical: m/d.pkl: pickle imports "
          "sklearn.base.os.system")


def test_bad_allowlist_entry_is_config_error(make_policy: Make, models: Path) -> None:
    (models / "c.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"'module\.name' or 'module\.\*'"):
        scan(make_policy(**{"LG-SCAN": {"allowed_globals": ["os system"]}}), models)


def test_unknown_formats_pass_when_allowed(make_policy: Make, models: Path) -> None:
    (models / "weights.xyz").write_bytes(bytes(range(256)))
    result = scan(make_policy(**{"LG-SCAN": {"allow_unknown_formats": True}}), models)
    assert result.verdict is Verdict.PASS
    assert [f.rule for f in result.findings if not f.blocking] == ["SCAN-UNKNOWN-FORMAT"]


def test_paths_setting_is_used_without_artifact(make_policy: Make, models: Path) -> None:
    (models / "config.json").write_text("{}")
    policy = make_policy(**{"LG-SCAN": {"paths": ["m"]}})
    assert run_gate_by_id("LG-SCAN", policy).result.verdict is Verdict.PASS


def test_missing_path_is_an_error(make_policy: Make) -> None:
    with pytest.raises(GateFailed) as exc:
        run_gate_by_id("LG-SCAN", make_policy(**{"LG-SCAN": {"paths": ["nowhere.pkl"]}}))
    assert exc.value.result.verdict is Verdict.ERROR
    assert "path to scan not found" in str(exc.value)


def test_sarif_evidence(make_policy: Make, project: Path, models: Path, cmd: str) -> None:
    samples.torch_zip(models / "model.pt", samples.reduce_p2("os", "system", cmd))
    (models / "ok.json").write_text("{}")
    policy = make_policy(**{"LG-SCAN": {"sarif_out": "reports/scan.sarif"}})
    exc = fails(policy, models)
    doc = json.loads((project / "reports/scan.sarif").read_text())
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    assert run["tool"]["driver"]["name"] == "lifegate LG-SCAN"
    blocking = [f for f in exc.result.findings if f.blocking]
    assert len(run["results"]) == len(blocking) >= 2
    first = run["results"][0]
    assert first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "m/model.pt"
    assert first["properties"]["member"] == "archive/data.pkl"
    assert {a["location"]["uri"] for a in run["artifacts"]} == {"m/model.pt", "m/ok.json"}
    (evidence,) = exc.result.evidence
    assert evidence.kind == "scan-sarif" and evidence.media_type == "application/sarif+json"


def test_second_opinion_blocks_what_a_wildcard_let_through(make_policy: Make,
                                                           models: Path) -> None:
    (models / "w.pkl").write_bytes(samples.reduce_p2("mypkg.subprocess", "run", "x"))
    policy = make_policy(**{"LG-SCAN": {"allowed_globals": ["mypkg.*"]}})
    exc = fails(policy, models / "w.pkl", "second opinion: fickling rates m/w.pkl")
    assert rules(exc) == {"SCAN-SECOND-OPINION"}
    no_second = make_policy(**{"LG-SCAN": {"allowed_globals": ["mypkg.*"],
                                           "second_opinion": False}})
    assert scan(no_second, models / "w.pkl").details["second_opinion"] == {}


def test_fickling_unavailable_is_recorded(policy: Policy, models: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fickling.analysis", None)
    (models / "l.pkl").write_bytes(pickle.dumps([1, 2], protocol=2))
    assert scan(policy, models / "l.pkl").details["second_opinion"] == {"m/l.pkl": "unavailable"}


def test_scan_never_unpickles_and_never_connects(policy: Policy, models: Path, cmd: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import _pickle

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the scan tried to unpickle or to connect")

    for module in (pickle, _pickle):
        for name in ("load", "loads", "Unpickler"):
            monkeypatch.setattr(module, name, refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    samples.torch_zip(models / "model.pt", pickle.dumps(samples.Evil(cmd), protocol=2))
    (models / "ok.pkl").write_bytes(pickle.dumps({"a": [1.5]}, protocol=4))
    exc = fails(policy, models, "posix.system")
    assert exc.result.details["files"]["m/ok.pkl"]["verdict"] == "pass"
    assert set(exc.result.details["second_opinion"]) == {"m/model.pt!archive/data.pkl",
                                                         "m/ok.pkl"}


def test_uri_artifact_is_an_error(policy: Policy) -> None:
    context = make_context(policy, artifacts={"model": "s3://bucket/model.pt"})
    with pytest.raises(GateFailed) as exc:
        run_gate_by_id("LG-SCAN", policy, context)
    assert exc.value.result.verdict is Verdict.ERROR and "local files" in str(exc.value)


def test_empty_folder_fails(policy: Policy, models: Path) -> None:
    assert rules(fails(policy, models, "holds no files")) == {"SCAN-EMPTY"}


def _genops_globals(data: bytes) -> set[str]:
    """The globals of a benign pickle the simple way: track pushed strings and the memo."""
    found: set[str] = set()
    pushed: list[object] = []
    memo: dict[object, object] = {}
    for op, arg, _ in pickletools.genops(data):
        if op.name in ("GLOBAL", "INST"):
            found.add(str(arg).replace(" ", "."))
        elif op.name == "STACK_GLOBAL":
            found.add(f"{pushed[-2]}.{pushed[-1]}")
        elif op.name in ("MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"):
            memo[len(memo) if op.name == "MEMOIZE" else arg] = pushed[-1]
            continue
        pushed.append(memo.get(arg) if op.name in ("GET", "BINGET", "LONG_BINGET")
                      else arg if isinstance(arg, str) else None)
    return found


@pytest.mark.parametrize("protocol", range(6))
def test_walker_agrees_with_genops(protocol: int) -> None:
    np = pytest.importorskip("numpy")
    obj = {"a": np.arange(4.0), "s": {1, 2}, "f": frozenset("ab"), "c": 1j, "b": b"\x00",
           "od": collections.OrderedDict(x=[1.5, None, True]), "r": range(3), "sl": slice(1)}
    data = pickle.dumps(obj, protocol=protocol)
    result = PickleWalker(Stream(io.BytesIO(data), limit=len(data)), tee_limit=1 << 20).walk()
    assert result.error is None and result.end == len(data)
    expected = set()
    for g in _genops_globals(data):  # what the unpickler imports (Python 2 names mapped < 3)
        module, _, name = g.rpartition(".")
        if protocol < 3:
            module, name = _compat_pickle.NAME_MAPPING.get(
                (module, name), (_compat_pickle.IMPORT_MAPPING.get(module, module), name))
        expected.add(f"{module}.{name}")
    assert {f"{m}.{n}" for m, n in result.refs} == expected
    assert result.normalized is not None
    assert _genops_globals(result.normalized) == _genops_globals(data)


# -- persistent ids -------------------------------------------------------------------------------

def test_pytorch_zip_storage_ids_pass(policy: Policy, models: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = samples.torch_zip(models / "model.bin", samples.torch_state_pickle(monkeypatch))
    assert scan(policy, path).verdict is Verdict.PASS


def test_legacy_pytorch_storage_ids_pass(policy: Policy, models: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    state = samples.torch_state_pickle(monkeypatch, legacy=True)
    (models / "old.pt").write_bytes(samples.torch_legacy(state))
    result = scan(policy, models / "old.pt")
    assert result.verdict is Verdict.PASS and result.metrics["pickles"] == 5


@pytest.mark.parametrize(("pid", "shown"), [
    ("os.system", "'os.system'"),  # a name a persistent_load could look up and call
    (("storage", "FloatStorage", "0", "cpu", 2), "'FloatStorage'"),  # class given as text
    (("module", "x", "y", "z", 1), "'module'"),
    (("storage", None, "0", "cpu", 2, None), "None"),  # legacy shape inside a zip
])
def test_other_persistent_ids_in_a_pytorch_zip_fail(policy: Policy, models: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    pid: object, shown: str) -> None:
    data = samples.torch_state_pickle(monkeypatch, pid=pid)
    path = samples.torch_zip(models / "model.pt", data)
    exc = fails(policy, path, "BINPERSID at offset", shown, "persistent_load")
    assert rules(exc) == {"SCAN-PERSID"}


def test_persistent_ids_outside_pytorch_fail(policy: Policy, models: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    state = samples.torch_state_pickle(monkeypatch)
    (models / "plain.pkl").write_bytes(state)  # torch's own ids, but not in a checkpoint
    (models / "text.pkl").write_bytes(b"Pos.system\n.")  # protocol 0 PERSID
    samples.write_zip(models / "nover.pt", {"archive/data.pkl": state})
    exc = fails(policy, models, "m/plain.pkl: BINPERSID", "m/text.pkl: PERSID at offset 0 "
                "hands 'os.system'", "m/nover.pt!archive/data.pkl: BINPERSID")
    assert rules(exc) == {"SCAN-PERSID"}


def test_legacy_pytorch_magic_must_be_literal(policy: Policy, models: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    state = samples.torch_state_pickle(monkeypatch, legacy=True)
    first = b"\x80\x02cbuiltins\nint\nX\x16\x00\x00\x000x1950A86A20F9469CFC6CK\x10\x86R."
    (models / "old.pt").write_bytes(samples.torch_legacy(state, first=first))
    assert "SCAN-PERSID" in rules(fails(policy, models / "old.pt", "BINPERSID"))


# -- profiles -------------------------------------------------------------------------------------

def _frames() -> dict[str, object]:
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    return {"frame": pd.DataFrame({"a": [1, 2], "s": ["x", "y"], "t": pd.date_range(
                "2024", periods=2, tz="UTC")}),
            "series": pd.Series(pd.Categorical(["a", "b"])), "arr": np.arange(3.0),
            "index": pd.period_range("2024-01", periods=2, freq="M")}


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_pandas_pickles_pass_with_the_pandas_profile(policy: Policy, models: Path,
                                                     protocol: int) -> None:
    for name, obj in _frames().items():
        (models / f"{name}.pkl").write_bytes(pickle.dumps(obj, protocol=protocol))
    result = scan(policy, models)
    assert result.verdict is Verdict.PASS, result.findings
    assert "pandas" in result.details["allowlist"]["profiles"]


def test_pandas_pickles_fail_without_the_profile(make_policy: Make, models: Path) -> None:
    (models / "f.pkl").write_bytes(pickle.dumps(_frames()["frame"], protocol=4))
    policy = make_policy(**{"LG-SCAN": {"profiles": ["numpy"]}})
    exc = fails(policy, models / "f.pkl", "pandas.DataFrame", "not on the allowlist",
                "the 'pandas' profile allows it")
    assert exc.result.details["allowlist"]["profiles"] == ["numpy"]


def test_profiles_select_what_is_allowed(make_policy: Make, models: Path) -> None:
    np = pytest.importorskip("numpy")
    (models / "a.pkl").write_bytes(pickle.dumps(np.arange(3), protocol=2))
    (models / "c.pkl").write_bytes(CUSTOM)
    policy = make_policy(**{"LG-SCAN": {"profiles": ["pandas"]}})  # requires numpy
    fails(policy, models, "mypkg.models.Custom")
    assert scan(policy, models / "a.pkl").verdict is Verdict.PASS
    policy = make_policy(**{"LG-SCAN": {"profiles": ["torch"]}})
    fails(policy, models / "a.pkl", "numpy.dtype", "the 'numpy' profile allows it")


def test_unknown_profile_is_a_config_error(make_policy: Make, models: Path) -> None:
    (models / "c.json").write_text("{}")
    with pytest.raises(ConfigError, match="profiles"):
        scan(make_policy(**{"LG-SCAN": {"profiles": ["everything"]}}), models)


# -- empty files ----------------------------------------------------------------------------------

def test_empty_file_is_reported_as_empty(policy: Policy, models: Path) -> None:
    for name in ("weights.bin", "model.pkl", "x.safetensors"):
        (models / name).write_bytes(b"")
    samples.write_zip(models / "a.zip", {"inner/empty.pt": b"", "ok.json": b"{}"})
    exc = fails(policy, models, "m/weights.bin: empty (0 bytes)", "m/model.pkl: empty",
                "m/x.safetensors: empty", "m/a.zip!inner/empty.pt: empty")
    assert rules(exc) == {"SCAN-EMPTY-FILE"}
    assert exc.result.details["files"]["m/weights.bin"]["format"] == "empty"


def test_empty_files_pass_when_allowed(make_policy: Make, models: Path) -> None:
    (models / "placeholder").write_bytes(b"")
    result = scan(make_policy(**{"LG-SCAN": {"allow_empty_files": True}}), models)
    assert result.verdict is Verdict.PASS
    assert [f.rule for f in result.findings] == ["SCAN-EMPTY-FILE"]


# -- frames ---------------------------------------------------------------------------------------

def _framed(body: bytes, declared: int) -> bytes:
    return b"\x80\x05\x95" + struct.pack("<Q", declared) + body


@pytest.mark.parametrize("data", [
    # BINBYTES of 0x107 bytes in a 2-byte frame: pickle.load (C, from a file) reads on past
    # the frame and runs the GLOBAL/REDUCE that pickle.loads and a linear walk see as bytes.
    _framed(b"B\x07\x01\x00\x00" + b"cos\nsystem\nVid\n\x85R(".ljust(0x107, b"N"), 2) + b"1.",
    _framed(b"cos\nsystem\n", 4) + b".",
    _framed(b"N\x95" + struct.pack("<Q", 2) + b"N", 30) + b".",  # a frame inside a frame
])
def test_opcodes_that_cross_a_frame_boundary_fail(policy: Policy, models: Path,
                                                  data: bytes) -> None:
    (models / "f.pkl").write_bytes(data)
    assert rules(fails(policy, models / "f.pkl", "frame")) == {"SCAN-CORRUPT"}


@pytest.mark.parametrize("obj", [[1, b"y" * 100_000, 2], list(range(50_000))])
def test_well_formed_frames_pass(policy: Policy, models: Path, obj: object) -> None:
    (models / "w.pkl").write_bytes(pickle.dumps(obj, protocol=5))
    assert scan(policy, models / "w.pkl").verdict is Verdict.PASS


# -- false positives found by the benign corpus (tests/security/test_scan_corpus.py) ---------------

def test_scikit_learn_cython_state_passes(policy: Policy, models: Path) -> None:
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_iris
    from sklearn.ensemble import GradientBoostingClassifier

    x, y = load_iris(return_X_y=True)  # its loss pickles as __pyx_unpickle_CyHalfMultinomialLoss
    model = GradientBoostingClassifier(n_estimators=2, random_state=0).fit(x, y)
    (models / "gb.pkl").write_bytes(pickle.dumps(model, protocol=4))
    assert scan(policy, models / "gb.pkl").verdict is Verdict.PASS


def test_package_entries_allow_no_other_dunder(policy: Policy, models: Path) -> None:
    (models / "d.pkl").write_bytes(b"\x80\x04\x8c\x0csklearn.base\x8c\x0b__getattr__\x93.")
    fails(policy, models / "d.pkl", "sklearn.base.__getattr__")


def test_npy_datetime_arrays_pass(policy: Policy, models: Path) -> None:
    np = pytest.importorskip("numpy")
    np.savez(models / "t.npz", d=np.array(["2024-01-01"], dtype="M8[D]"),
             s=np.array([1], dtype="m8[s]"))
    assert scan(policy, models / "t.npz").verdict is Verdict.PASS


def test_every_rule_has_a_sarif_description() -> None:
    import re

    from lifegate.gates._scan_sarif import RULES

    src = Path(__file__).parents[3] / "src" / "lifegate" / "gates"
    emitted = {m for f in src.glob("*scan*.py") for m in re.findall(
        r'"(SCAN-[A-Z-]+[A-Z])"', f.read_text(encoding="utf-8"))}
    assert emitted - {"SCAN-MORE"} - set(RULES) == set()
