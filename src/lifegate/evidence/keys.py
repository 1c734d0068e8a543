"""ECDSA P-256 key material: generate, load, fingerprint, sign, verify."""

from __future__ import annotations

import base64
import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from lifegate.core.errors import KeyMaterialError

__all__ = ["KeyPair", "Signer", "fingerprint", "generate_keypair", "load_private_key",
           "load_public_key", "public_pem", "verify_signature"]

CURVE = ec.SECP256R1


def fingerprint(key: ec.EllipticCurvePublicKey) -> str:
    """sha256 of the DER SubjectPublicKeyInfo: the key id used everywhere in lifegate."""
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def public_pem(key: ec.EllipticCurvePublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _check_curve(key: object, path: Path | str) -> None:
    if not isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) or not \
            isinstance(key.curve, CURVE):
        raise KeyMaterialError(
            f"{path} is not an ECDSA P-256 key ({type(key).__name__})",
            where=str(path), fix="generate one with `lifegate keys generate`")


def load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyMaterialError(f"cannot read signing key {path}: {exc.strerror}", where=str(path),
                               fix="check keys.signing_key in the policy or LIFEGATE_SIGNING_KEY"
                               ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyMaterialError(f"{path} is not an unencrypted PEM private key: {exc}",
                               where=str(path), fix="generate one with `lifegate keys generate`"
                               ) from None
    _check_curve(key, path)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def load_public_key(source: Path | str) -> ec.EllipticCurvePublicKey:
    """From a PEM file path, or PEM text."""
    if isinstance(source, str) and source.lstrip().startswith("-----BEGIN"):
        data, where = source.encode(), "<inline PEM>"
    else:
        where = str(source)
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise KeyMaterialError(f"cannot read public key {source}: {exc.strerror}",
                                   where=where, fix="check the path of the trusted key") from None
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise KeyMaterialError(f"{where} is not a PEM public key: {exc}", where=where) from None
    _check_curve(key, where)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def verify_signature(key: ec.EllipticCurvePublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class Signer:
    """Signs with a private key; ``keyid`` is the public key's fingerprint."""

    key: ec.EllipticCurvePrivateKey

    @functools.cached_property
    def keyid(self) -> str:
        return fingerprint(self.key.public_key())

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message, ec.ECDSA(hashes.SHA256()))

    def sign_b64(self, message: bytes) -> str:
        return base64.b64encode(self.sign(message)).decode()

    @classmethod
    def from_file(cls, path: Path) -> Signer:
        return cls(load_private_key(path))


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path
    keyid: str


def generate_keypair(directory: Path, name: str = "lifegate") -> KeyPair:
    """Write ``name.key`` (mode 0600) and ``name.pub``; never overwrite existing files."""
    directory.mkdir(parents=True, exist_ok=True)
    priv_path, pub_path = directory / f"{name}.key", directory / f"{name}.pub"
    for p in (priv_path, pub_path):
        if p.exists():
            raise KeyMaterialError(f"{p} already exists; lifegate never overwrites keys",
                                   where=str(p), fix="use another --name, or move the old key "
                                   "away deliberately")
    key = ec.generate_private_key(CURVE())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(priv_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(priv_path, 0o600)
    pub_path.write_text(public_pem(key.public_key()))
    return KeyPair(priv_path, pub_path, fingerprint(key.public_key()))
