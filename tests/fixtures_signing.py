"""Fixtures for signing tests: a trusted key, a small model, a policy that trusts the key."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from lifegate.core import Policy, load_policy
from lifegate.evidence.keys import KeyPair, generate_keypair


@pytest.fixture
def keys(tmp_path: Path) -> KeyPair:
    return generate_keypair(tmp_path / "keys", "sys")


@pytest.fixture
def model(tmp_path: Path) -> Path:
    m = tmp_path / "models" / "clf"
    (m / "tokenizer").mkdir(parents=True)
    (m / "weights.safetensors").write_bytes(os.urandom(300_000))
    (m / "config.json").write_text('{"hidden": 16}')
    (m / "tokenizer" / "vocab.txt").write_text("a\nb\n")
    return m


@pytest.fixture
def signing_policy(tmp_path: Path, keys: KeyPair) -> Callable[..., Policy]:
    def make(trusted: list[dict] | None = None, **gates: dict) -> Policy:  # type: ignore[type-arg]
        data = {"system": {"name": "sys", "version": "1"},
                "keys": {"signing_key": str(keys.private),
                         "trusted": trusted if trusted is not None else
                         [{"name": "sys", "public_key": str(keys.public)}]},
                "gates": {gid: {"settings": s} for gid, s in gates.items()}}
        path = tmp_path / "lifegate.yaml"
        path.write_text(yaml.safe_dump(data))
        return load_policy(path)

    return make
