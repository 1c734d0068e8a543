"""The policy: who the system is, which gates each phase requires, keys, ledger, waivers.

Loaded at the edges only. Precedence: explicit argument > ``LIFEGATE_*`` environment >
file > defaults.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from lifegate.core._yamlio import read_yaml, validate
from lifegate.core.model import Phase

__all__ = [
    "ConformitySettings",
    "GateConfig",
    "KeyScope",
    "KeySettings",
    "LedgerSettings",
    "Person",
    "Policy",
    "Roles",
    "SystemIdentity",
    "TrustedKey",
    "UnsignedAccepted",
    "Waiver",
    "load_policy",
]

POLICY_FILE = "lifegate.yaml"
DEFAULT_LEDGER = ".lifegate/ledger.db"
DEFAULT_CHECKPOINTS = ".lifegate/checkpoints"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SystemIdentity(_Strict):
    name: str = "ai-system"
    version: str = "0.0.0"
    owner: str = "unassigned"
    uses_prompts: bool = False


class Roles(_Strict):
    """Named people per EN 304 223 stakeholder role."""

    developer: list[str] = Field(default_factory=list)
    system_operator: list[str] = Field(default_factory=list)
    data_custodian: list[str] = Field(default_factory=list)

    def of(self, person: str) -> list[str]:
        return [role for role, people in self.model_dump().items() if person in people]


class GateConfig(_Strict):
    enabled: bool = True
    timeout_seconds: float = Field(default=600.0, gt=0)
    settings: dict[str, Any] = Field(default_factory=dict)


class KeyScope(enum.StrEnum):
    """What a trusted key may sign in the ledger."""

    ALL = "all"
    PLATFORM_EVENTS = "platform-events"  # a scheduler's key: platform events, nothing else


class TrustedKey(_Strict):
    name: str
    public_key: str | None = Field(default=None, description="path to a PEM public key")
    fingerprint: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    scope: KeyScope = KeyScope.ALL


class Person(_Strict):
    """A named person with their own public key (attestations, approvals)."""

    name: str = Field(min_length=1)
    public_key: str = Field(description="path to the person's PEM public key")
    fingerprint: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class UnsignedAccepted(_Strict):
    """Records written unsigned before signatures were required, accepted by a named person."""

    through_seq: int = Field(ge=1, description="records #1..#through_seq may be unsigned")
    approver: str
    justification: str = Field(min_length=10)


class KeySettings(_Strict):
    dir: str = ".lifegate/keys"
    signing_key: str | None = Field(default=None, description="path to the PEM private key")
    event_key: str | None = Field(
        default=None, description="private key the Airflow listener signs platform events "
        "with; its public key is trusted with scope platform-events")
    trusted: list[TrustedKey] = Field(default_factory=list)
    require_signatures: bool | None = Field(
        default=None, description="default: required as soon as any key is trusted")
    accept_unsigned: UnsignedAccepted | None = None

    @property
    def signatures_required(self) -> bool:
        if self.require_signatures is None:
            return bool(self.trusted)
        return self.require_signatures


class LedgerSettings(_Strict):
    url: str = f"sqlite:///{DEFAULT_LEDGER}"
    checkpoints: list[str] = Field(
        default_factory=lambda: [DEFAULT_CHECKPOINTS], min_length=1,
        description="folders for the signed checkpoints written after every appending "
        "command; put one out of the database host's reach")


class ConformitySettings(_Strict):
    max_evidence_age_days: int = Field(default=90, gt=0)
    required: str | list[str] = Field(
        default="shall", description="'shall', 'all', or a list of provision ids"
    )
    fail_on: list[str] = Field(default_factory=lambda: ["failed", "missing"])


class Waiver(_Strict):
    id: str
    gate: str
    rule: str | None = Field(default=None, description="finding rule; omit to waive the gate")
    location: str | None = None
    approver: str
    justification: str = Field(min_length=10)
    expires: date

    def active(self, today: date | None = None) -> bool:
        return (today or date.today()) <= self.expires


_DEFAULT_PHASES: dict[Phase, list[str]] = {
    Phase.DESIGN: ["LG-THREAT"],
    Phase.DEVELOPMENT: ["LG-INV"],
    Phase.DEPLOYMENT: [],
    Phase.MAINTENANCE: [],
    Phase.END_OF_LIFE: [],
}


class Policy(_Strict):
    version: int = 1
    system: SystemIdentity = Field(default_factory=SystemIdentity)
    roles: Roles = Field(default_factory=Roles)
    people: list[Person] = Field(default_factory=list)
    phases: dict[Phase, list[str]] = Field(default_factory=lambda: dict(_DEFAULT_PHASES))
    gates: dict[str, GateConfig] = Field(default_factory=dict)
    keys: KeySettings = Field(default_factory=KeySettings)
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    conformity: ConformitySettings = Field(default_factory=ConformitySettings)
    waivers: list[Waiver] = Field(default_factory=list)

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _source: str = PrivateAttr(default="<defaults>")

    @field_validator("version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v != 1:
            raise ValueError("only policy version 1 is known to this lifegate")
        return v

    @property
    def base_dir(self) -> Path:
        return self._base_dir

    @property
    def source(self) -> str:
        return self._source

    def resolve(self, path: str | os.PathLike[str]) -> Path:
        """A path from the policy, relative to the policy file's folder."""
        p = Path(os.path.expanduser(os.fspath(path)))
        return p if p.is_absolute() else self._base_dir / p

    def gate(self, gate_id: str) -> GateConfig:
        return self.gates.get(gate_id, GateConfig())

    def ledger_url(self) -> str:
        url = self.ledger.url
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            rel = url.removeprefix("sqlite:///")
            if rel and rel != ":memory:":
                url = f"sqlite:///{self.resolve(rel)}"
        return url

    def digest(self) -> str:
        canon = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canon.encode()).hexdigest()


_ENV: dict[str, tuple[str, ...]] = {
    "LIFEGATE_LEDGER_URL": ("ledger", "url"),
    "LIFEGATE_SIGNING_KEY": ("keys", "signing_key"),
    "LIFEGATE_SYSTEM_NAME": ("system", "name"),
    "LIFEGATE_SYSTEM_VERSION": ("system", "version"),
}


def _set(data: dict[str, Any], keys: tuple[str, ...], value: Any) -> None:
    for key in keys[:-1]:
        data = data.setdefault(key, {})
    data[keys[-1]] = value


def find_policy_file(path: str | os.PathLike[str] | None = None) -> Path | None:
    """Explicit path, else ``LIFEGATE_POLICY``, else ./lifegate.yaml if present."""
    if path is not None:
        return Path(path)
    env = os.environ.get("LIFEGATE_POLICY")
    if env:
        return Path(env)
    local = Path.cwd() / POLICY_FILE
    return local if local.is_file() else None


def load_policy(
    path: str | os.PathLike[str] | None = None,
    *,
    overrides: dict[tuple[str, ...], Any] | None = None,
    base_dir: Path | None = None,
) -> Policy:
    """Load and validate the policy; a malformed file raises ConfigError naming key and line."""
    file = find_policy_file(path)
    data: dict[str, Any] = {}
    node = None
    if file is not None:
        raw, node = read_yaml(file)
        if raw is not None and not isinstance(raw, dict):
            from lifegate.core.errors import ConfigError

            raise ConfigError(f"{file.name} must be a mapping of keys, not {type(raw).__name__}",
                              where=str(file), fix="start from the file `lifegate init` writes")
        data = raw or {}
    for env, keys in _ENV.items():
        if os.environ.get(env):
            _set(data, keys, os.environ[env])
    for keys, value in (overrides or {}).items():
        _set(data, keys, value)
    policy = validate(Policy, data, file or Path(POLICY_FILE), node)
    policy._base_dir = (base_dir or (file.parent if file else Path.cwd())).resolve()
    policy._source = str(file) if file else "<defaults>"
    return policy


def policy_from_data(data: dict[str, Any], *, source: Path, base_dir: Path,
                     node: Any = None) -> Policy:
    """A policy from a platform's already-parsed config (e.g. Kedro's ``lifegate.yml``), with
    the same ``LIFEGATE_*`` environment precedence as :func:`load_policy`."""
    data = dict(data)
    for env, keys in _ENV.items():
        if os.environ.get(env):
            _set(data, keys, os.environ[env])
    policy = validate(Policy, data, source, node)
    policy._base_dir = base_dir.resolve()
    policy._source = str(source)
    return policy
