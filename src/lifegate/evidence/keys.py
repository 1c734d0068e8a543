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

__all__ = ["MODEL_CURVES", "KeyPair", "Signer", "fingerprint", "generate_keypair",
           "load_private_key", "load_public_key", "parse_private_key", "public_pem",
           "verify_signature"]

CURVE = ec.SECP256R1
# Curves the OpenSSF model-signing format accepts in key mode (the ledger uses P-256 only).
MODEL_CURVES: tuple[type[ec.EllipticCurve], ...] = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)


def fingerprint(key: ec.EllipticCurvePublicKey) -> str:
    """sha256 of the DER SubjectPublicKeyInfo: the key id used everywhere in lifegate."""
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def public_pem(key: ec.EllipticCurvePublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _check_curve(key: object, path: Path | str,
                 curves: tuple[type[ec.EllipticCurve], ...] = (CURVE,)) -> None:
    if not isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) or not \
            isinstance(key.curve, curves):
        kind = f"P-{key.curve.key_size}" if isinstance(
            key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) else type(key).__name__
        names = "/".join(f"P-{c.key_size}" for c in curves)
        raise KeyMaterialError(
            f"{path} is not an ECDSA {names} key (it is {kind})", where=str(path),
            fix="generate one with `lifegate keys generate` (ECDSA P-256)")


def _check_private_mode(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & 0o077:
        raise KeyMaterialError(
            f"private key {path} is readable by group or others (mode {mode & 0o777:o})",
            where=str(path), fix=f"chmod 600 {path}")


def parse_private_key(data: bytes, where: str,
                      curves: tuple[type[ec.EllipticCurve], ...] = (CURVE,),
                      ) -> ec.EllipticCurvePrivateKey:
    """A PEM private key; the message never includes key material."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise KeyMaterialError(f"{where} is not an unencrypted PEM private key",
                               where=where, fix="generate one with `lifegate keys generate`"
                               ) from None
    _check_curve(key, where, curves)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def load_private_key(path: Path, curves: tuple[type[ec.EllipticCurve], ...] = (CURVE,),
                     ) -> ec.EllipticCurvePrivateKey:
    """From a file that only its owner may read."""
    try:
        _check_private_mode(path)
        data = path.read_bytes()
    except OSError as exc:
        raise KeyMaterialError(f"cannot read signing key {path}: {exc.strerror}", where=str(path),
                               fix="check keys.signing_key in the policy or LIFEGATE_SIGNING_KEY"
                               ) from None
    return parse_private_key(data, str(path), curves)


def load_public_key(source: Path | str, curves: tuple[type[ec.EllipticCurve], ...] = (CURVE,),
                    ) -> ec.EllipticCurvePublicKey:
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
    _check_curve(key, where, curves)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def hash_for(curve: ec.EllipticCurve) -> hashes.HashAlgorithm:
    """The digest ECDSA uses with each curve (as the model-signing format does)."""
    return {256: hashes.SHA256(), 384: hashes.SHA384()}.get(curve.key_size, hashes.SHA512())


def verify_signature(key: ec.EllipticCurvePublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message, ec.ECDSA(hash_for(key.curve)))
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
        return self.key.sign(message, ec.ECDSA(hash_for(self.key.curve)))

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
