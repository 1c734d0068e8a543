"""Signed checkpoints of the ledger head, in the C2SP signed-note checkpoint format.

A checkpoint says "the ledger called ORIGIN had SIZE records, and record #SIZE had hash ROOT",
signed by the system key. It is the note text of c2sp.org/tlog-checkpoint::

    lifegate/fraud-model
    42
    <base64 of the 32-byte record hash of record #42>

    — lifegate/fraud-model/2f9a6c1d0e4b7a33 <base64(4-byte key id || ECDSA signature)>

signed as c2sp.org/signed-note signature type 0x02 (ECDSA; the key id is the first four bytes of
the SHA-256 of the public key's DER SubjectPublicKeyInfo, which is lifegate's key fingerprint).
Today the root hash is the head record's chain hash; a Merkle tree over the records can later
take its place under a new origin line, and both kinds of note verify with the same code.

Every command that appended writes one checkpoint per configured folder when it ends; readers
check the ledger against the newest valid checkpoint they find, so a ledger rolled back or
truncated below it no longer verifies. A checkpoint kept only beside the database can be rolled
back with it: put one folder out of the database host's reach.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from lifegate.core.errors import EvidenceError, LedgerTamperedError, SignatureError
from lifegate.evidence.keys import Signer, verify_signature

__all__ = ["Checkpoint", "CheckpointFolder", "format_note", "newest_of", "origin_for",
           "parse_note", "sign_note"]

log = logging.getLogger(__name__)

SIG_TYPE_ECDSA = 0x02
KEEP = 8  # checkpoints kept per folder (the newest); older ones add nothing a newer one lacks
_NAME = re.compile(r"^checkpoint\.(\d{12})$")
_DASH = "\u2014"


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint: the ledger ``origin`` had ``size`` records ending in ``root``."""

    origin: str
    size: int
    root: str  # hex record hash of record #size (GENESIS for an empty ledger)
    source: str = ""


def origin_for(system: str) -> str:
    """The origin line of a system's ledger: a schema-less name without spaces or plus."""
    cleaned = re.sub(r"[\s+]+", "-", system.strip()) or "ai-system"
    return f"lifegate/{cleaned}"


def format_note(origin: str, size: int, root_hex: str) -> str:
    """The checkpoint note text (origin, size, base64 root hash), ending in a newline."""
    return f"{origin}\n{size}\n{base64.b64encode(bytes.fromhex(root_hex)).decode()}\n"


def _key_name(origin: str, keyid: str) -> str:
    return f"{origin}/{keyid[:16]}"


def sign_note(text: str, signer: Signer, origin: str) -> str:
    """The signed note: text, blank line, one signature line (C2SP type 0x02, ECDSA)."""
    sig = bytes.fromhex(signer.keyid[:8]) + signer.sign(text.encode())
    return f"{text}\n{_DASH} {_key_name(origin, signer.keyid)} {base64.b64encode(sig).decode()}\n"


def _split(note: str, where: str) -> tuple[str, list[str]]:
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise LedgerTamperedError(f"checkpoint {where} contains control characters",
                                  where=where)
    text, sep, sigs = note.rpartition("\n\n")
    if not sep or not text:
        raise LedgerTamperedError(f"checkpoint {where} is not a signed note (no blank line "
                                  "before its signatures)", where=where)
    return text + "\n", [line for line in sigs.split("\n") if line]


def _body(text: str, where: str) -> tuple[str, int, str]:
    lines = text.split("\n")
    try:
        origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)
    except (IndexError, ValueError, binascii.Error):
        raise LedgerTamperedError(f"checkpoint {where} is not a checkpoint note (origin, size, "
                                  "root hash)", where=where) from None
    if size < 0 or len(root) != 32 or not origin:
        raise LedgerTamperedError(f"checkpoint {where} has an invalid size or root hash",
                                  where=where)
    return origin, size, root.hex()


def parse_note(note: str, keys: dict[str, ec.EllipticCurvePublicKey], *, origin: str,
               where: str) -> Checkpoint:
    """Verify a checkpoint note against ``keys`` (fingerprint -> public key) and ``origin``."""
    text, lines = _split(note, where)
    verified = False
    for line in lines[:16]:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != _DASH:
            raise LedgerTamperedError(f"checkpoint {where}: malformed signature line",
                                      where=where)
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except (binascii.Error, ValueError):
            raise LedgerTamperedError(f"checkpoint {where}: signature is not base64",
                                      where=where) from None
        for keyid, key in keys.items():
            if parts[1] != _key_name(origin, keyid) or raw[:4] != bytes.fromhex(keyid[:8]):
                continue  # not this key (the spec says: ignore unknown keys)
            if not verify_signature(key, raw[4:], text.encode()):
                raise SignatureError(f"checkpoint {where}: signature by {keyid[:16]} does not "
                                     "verify (the checkpoint was altered)", where=where)
            verified = True
    if not verified:
        raise SignatureError(f"checkpoint {where} is not signed by a trusted key", where=where,
                             fix="checkpoints are signed by the system key the policy trusts")
    found, size, root = _body(text, where)
    if found != origin:
        raise LedgerTamperedError(f"checkpoint {where} is for ledger {found!r}, not {origin!r}",
                                  where=where)
    return Checkpoint(origin, size, root, where)


@dataclass(frozen=True)
class CheckpointFolder:
    """One configured folder of checkpoints: ``checkpoint.<size>`` files, newest kept."""

    path: Path
    origin: str
    required: bool = False  # named in the policy: a missing folder is an error for readers

    def _folder(self) -> Path:
        return self.path / self.origin.replace("/", "_")

    def write(self, signer: Signer, size: int, root_hex: str) -> Path:
        """Write the signed note atomically; keep the newest few. Never goes backwards."""
        folder = self._folder()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            out = folder / f"checkpoint.{size:012d}"
            tmp = folder / f".checkpoint.{size:012d}.{os.getpid()}.{threading.get_ident()}.part"
            tmp.write_text(sign_note(format_note(self.origin, size, root_hex), signer,
                                     self.origin))
            with tmp.open("rb") as f:
                os.fsync(f.fileno())
            tmp.replace(out)
            for old in self._files()[KEEP:]:
                old.unlink(missing_ok=True)
        except OSError as exc:
            raise EvidenceError(f"cannot write a ledger checkpoint to {folder}: {exc.strerror}",
                                where=str(folder), fix="make ledger.checkpoints folders "
                                "writable by this user (the records were appended)") from None
        return out

    def _files(self) -> list[Path]:
        """Checkpoint files, newest (largest size) first."""
        folder = self._folder()
        try:
            names = [p for p in folder.iterdir() if _NAME.match(p.name)]
        except FileNotFoundError:
            if self.required and not self.path.is_dir():
                raise EvidenceError(f"the checkpoint location {self.path} does not exist",
                                    where=str(self.path), fix="the policy names it in "
                                    "ledger.checkpoints: mount it, or correct the policy "
                                    "(readers fail closed)") from None
            return []
        except OSError as exc:
            raise EvidenceError(f"cannot read the checkpoint location {folder}: "
                                f"{exc.strerror}", where=str(folder),
                                fix="the policy names this folder in ledger.checkpoints; "
                                "mount it or make it readable (readers fail closed)") from None
        return sorted(names, key=lambda p: p.name, reverse=True)

    def newest(self, keys: dict[str, ec.EllipticCurvePublicKey]) -> Checkpoint | None:
        """The newest checkpoint here, verified; an invalid one is an error, not skipped."""
        for path in self._files()[:1]:
            try:
                note = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise EvidenceError(f"cannot read checkpoint {path}: {exc}",
                                    where=str(path)) from None
            return parse_note(note, keys, origin=self.origin, where=str(path))
        return None


def newest_of(folders: Iterable[CheckpointFolder],
              keys: dict[str, ec.EllipticCurvePublicKey]) -> Checkpoint | None:
    """The checkpoint with the largest size over every folder (each one verified)."""
    found = [cp for f in folders if (cp := f.newest(keys)) is not None]
    return max(found, key=lambda cp: cp.size, default=None)
