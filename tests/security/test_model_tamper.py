"""Every way a signed model can be tampered with is blocked, and the message names the cause.
Bad input (a corrupt signature file) is an error; tampering is a failure."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lifegate.core import GateFailed, Policy, Verdict, make_context, run_gate_by_id
from lifegate.evidence.keys import KeyPair, generate_keypair
from lifegate.evidence.ledger import open_ledger

Make = Callable[..., Policy]


def run(gate: str, policy: Policy, model: Path) -> None:
    run_gate_by_id(gate, policy, make_context(policy, artifacts={"model": str(model)}))


@pytest.fixture
def signed(model: Path, signing_policy: Make) -> Policy:
    policy = signing_policy()
    run("LG-SIGN", policy, model)
    return policy


def blocked(policy: Policy, model: Path, rule: str, text: str,
            verdict: Verdict = Verdict.FAIL) -> None:
    before = list(open_ledger(policy).entries())
    with pytest.raises(GateFailed) as exc:
        run("LG-VERIFY", policy, model)
    assert exc.value.result.verdict is verdict
    rules = {f.rule for f in exc.value.result.findings if f.blocking}
    assert rule in rules, rules
    assert text in str(exc.value)
    after = list(open_ledger(policy).entries())
    assert [e.record_hash for e in after[:len(before)]] == [e.record_hash for e in before]
    open_ledger(policy).verify()


def test_flipped_byte(signed: Policy, model: Path) -> None:
    w = model / "weights.safetensors"
    data = bytearray(w.read_bytes())
    data[1234] ^= 0x01
    w.write_bytes(bytes(data))
    blocked(signed, model, "VERIFY-CHANGED", "weights.safetensors changed since signing")


def test_appended_byte(signed: Policy, model: Path) -> None:
    with (model / "config.json").open("ab") as f:
        f.write(b" ")
    blocked(signed, model, "VERIFY-CHANGED", "config.json changed since signing")


def test_added_file(signed: Policy, model: Path) -> None:
    (model / "tokenizer" / "evil.py").write_text("import os")
    blocked(signed, model, "VERIFY-ADDED", "tokenizer/evil.py was added after signing")


def test_added_file_allowed_by_policy(model: Path, signing_policy: Make) -> None:
    policy = signing_policy(**{"LG-VERIFY": {"allow_unsigned_files": True}})
    run("LG-SIGN", policy, model)
    (model / "README.md").write_text("notes")
    run("LG-VERIFY", policy, model)


def test_removed_file(signed: Policy, model: Path) -> None:
    (model / "config.json").unlink()
    blocked(signed, model, "VERIFY-MISSING", "config.json is signed but missing")


def test_renamed_file(signed: Policy, model: Path) -> None:
    (model / "config.json").rename(model / "config.old.json")
    blocked(signed, model, "VERIFY-RENAMED", "config.json was renamed to config.old.json")


def test_symlink_to_outside(signed: Policy, model: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.bin").write_bytes(b"x")
    os.symlink(tmp_path / "outside.bin", model / "extra.bin")
    blocked(signed, model, "VERIFY-SYMLINK", "extra.bin is a symlink")


def test_symlink_refused_when_signing(model: Path, signing_policy: Make) -> None:
    os.symlink("/etc/hostname", model / "host")
    with pytest.raises(GateFailed, match="host is a symlink"):
        run("LG-SIGN", signing_policy(), model)


def test_wrong_key(model: Path, signing_policy: Make, tmp_path: Path) -> None:
    """Signed with a key of someone the policy does not trust."""
    other = generate_keypair(tmp_path / "other")
    policy = signing_policy(**{"LG-SIGN": {"private_key": str(other.private)}})
    run("LG-SIGN", policy, model)
    blocked(policy, model, "VERIFY-UNTRUSTED-KEY", "signed by a key the policy does not trust")


def test_fingerprint_only_trust_needs_the_key(model: Path, signing_policy: Make,
                                              keys: KeyPair) -> None:
    run("LG-SIGN", signing_policy(), model)
    policy = signing_policy(trusted=[{"name": "sys", "fingerprint": keys.keyid}],
                            **{"LG-VERIFY": {"public_keys": [str(keys.public)]}})
    run("LG-VERIFY", policy, model)
    untrusted = signing_policy(trusted=[{"name": "sys", "fingerprint": "0" * 64}],
                               **{"LG-VERIFY": {"public_keys": [str(keys.public)]}})
    blocked(untrusted, model, "VERIFY-UNTRUSTED-KEY", "does not trust")


def test_revoked_release(signed: Policy, model: Path) -> None:
    from lifegate.evidence.statement import PredicateType, revocation_statement

    root = json.loads(base64.b64decode(json.loads(
        (model.parent / "clf.sig").read_text())["dsseEnvelope"]["payload"]))["subject"][0]
    open_ledger(signed).append(revocation_statement(
        system="sys", name="model", digest=root["digest"]["sha256"], reason="leaked weights",
        by="carol"), PredicateType.REVOCATION)
    blocked(signed, model, "VERIFY-REVOKED", "leaked weights")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "not-a-bundle"])
def test_corrupt_signature_file_is_bad_input(signed: Policy, model: Path, damage: str) -> None:
    sig = model.parent / "clf.sig"
    text = sig.read_text()
    sig.write_text({"truncate": text[: len(text) // 2], "garbage": "\x00\xffnot json",
                    "empty": "", "not-a-bundle": '{"hello": "world"}'}[damage])
    blocked(signed, model, "GATE-EVIDENCEERROR", "is not a usable model signature",
            verdict=Verdict.ERROR)


def test_missing_signature_file(signed: Policy, model: Path) -> None:
    (model.parent / "clf.sig").unlink()
    blocked(signed, model, "GATE-EVIDENCEERROR", "signature file not found",
            verdict=Verdict.ERROR)


def test_forged_payload(signed: Policy, model: Path) -> None:
    """A valid-looking bundle whose signed statement was edited to match tampered files."""
    sig = model.parent / "clf.sig"
    doc = json.loads(sig.read_text())
    stmt = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    stmt["predicate"]["resources"][0]["digest"] = "ab" * 32
    doc["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(stmt).encode()).decode()
    sig.write_text(json.dumps(doc))
    blocked(signed, model, "VERIFY-BAD-SIGNATURE", "was altered or forged")


def test_signature_of_another_model(signed: Policy, model: Path, tmp_path: Path) -> None:
    other = tmp_path / "models" / "other"
    other.mkdir()
    (other / "weights.safetensors").write_bytes(b"other weights")
    shutil.copy(model.parent / "clf.sig", tmp_path / "models" / "other.sig")
    shutil.copy(model.parent / "clf.release.json", tmp_path / "models" / "other.release.json")
    blocked(signed, other, "VERIFY-OTHER-MODEL", "the signature was made for model 'clf'")


def test_release_manifest_tampered(signed: Policy, model: Path) -> None:
    path = model.parent / "clf.release.json"
    env = json.loads(path.read_text())
    stmt = json.loads(base64.b64decode(env["payload"]))
    stmt["predicate"]["entries"].pop("model-signature")
    env["payload"] = base64.b64encode(json.dumps(stmt).encode()).decode()
    path.write_text(json.dumps(env))
    blocked(signed, model, "VERIFY-RELEASE-INVALID", "not signed by a trusted key")


def test_ed25519_key_is_refused_clearly(model: Path, signing_policy: Make,
                                        tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = tmp_path / "ed.pem"
    key.write_bytes(ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    key.chmod(0o600)
    policy = signing_policy(**{"LG-SIGN": {"private_key": str(key)}})
    with pytest.raises(GateFailed, match=r"not an ECDSA P-256/P-384/P-521 key"):
        run("LG-SIGN", policy, model)


def test_key_from_environment_never_lands_in_evidence(model: Path, signing_policy: Make,
                                                      keys: KeyPair, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The model key comes from the environment (it wins over the policy's key, which still
    signs the ledger); its PEM never reaches a record."""
    env_key = generate_keypair(tmp_path / "env", "model")
    pem = env_key.private.read_text()
    monkeypatch.setenv("LIFEGATE_MODEL_SIGNING_KEY", pem)
    policy = signing_policy(trusted=[{"name": "sys", "public_key": str(keys.public)},
                                     {"name": "model", "public_key": str(env_key.public)}])
    signed = run_gate_by_id("LG-SIGN", policy, make_context(
        policy, artifacts={"model": str(model)})).result
    assert signed.details["signer"] == env_key.keyid
    run("LG-VERIFY", policy, model)
    statements = [json.dumps(e.statement) for e in open_ledger(policy).entries()]
    assert len(statements) >= 3  # release record, LG-SIGN run, LG-VERIFY run
    assert not any("PRIVATE KEY" in s or pem.splitlines()[1] in s for s in statements)


def test_p384_key(model: Path, signing_policy: Make, keys: KeyPair, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    k = ec.generate_private_key(ec.SECP384R1())
    priv, pub = tmp_path / "p384.key", tmp_path / "p384.pub"
    priv.write_bytes(k.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    priv.chmod(0o600)
    pub.write_bytes(k.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo))
    policy = signing_policy(trusted=[{"name": "p384", "public_key": str(pub)},
                                     {"name": "sys", "public_key": str(keys.public)}],
                            **{"LG-SIGN": {"private_key": str(priv)}})
    run("LG-SIGN", policy, model)
    run("LG-VERIFY", policy, model)


# -- special files: FIFOs, sockets and devices are refused like links, and never read --------

def _special(path: Path, kind: str) -> Iterator[None]:
    """Make a FIFO, a listening Unix socket or a character device at ``path``."""
    import socket
    import stat

    if kind == "fifo":
        os.mkfifo(path)
        yield
    elif kind == "socket":
        with socket.socket(socket.AF_UNIX) as s:
            s.bind(str(path))
            s.listen()
            yield
    else:
        try:
            os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # what /dev/null is
        except PermissionError:
            pytest.skip("creating a device needs CAP_MKNOD")
        yield


KINDS = {"fifo": "FIFO (named pipe)", "socket": "socket", "device": "character device"}


def _bounded(fn: Callable[[], object], seconds: float = 30) -> object:
    """Run ``fn`` in a thread; a read that blocks on a FIFO would otherwise hang the test."""
    import threading

    out: dict[str, object] = {}

    def target() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:
            out["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still running after {seconds} s: it blocked on a special file"
    if "error" in out:
        raise out["error"]  # type: ignore[misc]
    return out.get("value")


@pytest.mark.parametrize("kind", list(KINDS))
def test_special_file_in_model_blocks_verify(signed: Policy, model: Path, kind: str) -> None:
    for _ in _special(model / "tokenizer" / "pipe", kind):
        _bounded(lambda: blocked(signed, model, "VERIFY-SPECIAL",
                                 f"tokenizer/pipe is a {KINDS[kind]}"))


@pytest.mark.parametrize("kind", list(KINDS))
def test_special_file_refused_when_signing(model: Path, signing_policy: Make, kind: str) -> None:
    policy = signing_policy()
    for _ in _special(model / "pipe", kind):
        with pytest.raises(GateFailed, match=re.escape(f"pipe is a {KINDS[kind]}")) as exc:
            _bounded(lambda: run("LG-SIGN", policy, model))
    assert {f.rule for f in exc.value.result.findings} == {"SIGN-SPECIAL"}
    assert not (model.parent / "clf.sig").exists()


def test_special_model_path_refused(tmp_path: Path, signing_policy: Make) -> None:
    os.mkfifo(tmp_path / "model.bin")
    with pytest.raises(GateFailed, match=r"\. is a FIFO"):
        _bounded(lambda: run("LG-SIGN", signing_policy(), tmp_path / "model.bin"))


@pytest.mark.parametrize("which", ["clf.sig", "clf.release.json"])
def test_fifo_in_place_of_signature_or_manifest_is_not_read(signed: Policy, model: Path,
                                                            which: str) -> None:
    path = model.parent / which
    path.unlink()
    os.mkfifo(path)
    _bounded(lambda: blocked(
        signed, model, "GATE-EVIDENCEERROR" if which == "clf.sig" else "VERIFY-RELEASE-INVALID",
        "not a regular file" if which == "clf.release.json" else "FIFO",
        verdict=Verdict.ERROR if which == "clf.sig" else Verdict.FAIL))
