"""The system card (``system_card.yaml``): what people write for the end-user disclosure.

Every disclosure section is a top-level key. Sections are optional in the model, so that the
gate can name *every* missing or empty required section with its provision in one run instead
of stopping at the first; a section of the wrong type is a configuration error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lifegate.core._yamlio import read_yaml, validate
from lifegate.core.errors import ConfigError

__all__ = ["OTHER_SECTIONS", "REQUIRED", "Justification", "Section", "SystemCard", "UserData",
           "load_card", "missing_sections"]

# Top-level keys that other lifegate gates read from the same file (LG-SBOM's model card).
OTHER_SECTIONS = ("model_card", "considerations")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserData(_Section):
    """Where end-users' data goes (5.3.1-1)."""

    collected: str | None = None
    used_for: str | None = None
    stored_where: str | None = None
    retention: str | None = None
    access: str | None = None


class Justification(_Section):
    """A component used although weakly documented or insecure, and why (5.2.3-2.2)."""

    component: str
    reason: str
    compensating_controls: list[str] = Field(default_factory=list)


class SystemCard(BaseModel):
    """Disclosure sections; unknown top-level keys are kept for the gate to report."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    language: str = Field(default="en", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    purpose: str | None = None
    intended_users: list[str] | None = None
    prohibited_uses: list[str] | None = None
    user_data: UserData | None = None
    human_review: str | None = None
    limitations: list[str] | None = None
    failure_modes: list[str] | None = None
    security_conditions_of_use: list[str] | None = None
    operator_guidance: list[str] | None = None
    update_announcements: str | None = None
    incident_reporting: str | None = None
    support_contact: str | None = None
    vulnerability_disclosure: str | None = None
    component_justifications: list[Justification] = Field(default_factory=list)
    changes: str | None = Field(default=None, description="people's note on this release")

    def unknown_keys(self) -> list[str]:
        extra = self.model_extra or {}
        return sorted(k for k in extra if k not in OTHER_SECTIONS)


@dataclass(frozen=True)
class Section:
    """A required section: its key (dotted for sub-keys), a readable title, and the provision
    it answers, or None for a section the notice needs that evidences no provision on its own
    (a promise to announce updates or to support users is not the announcing or support)."""

    key: str
    title: str
    provision: str | None


REQUIRED: tuple[Section, ...] = (
    Section("name", "system name", "5.3.1-2.1"),
    Section("purpose", "purpose", "5.3.1-2.1"),
    Section("intended_users", "intended users", "5.3.1-2.1"),
    Section("prohibited_uses", "prohibited uses", "5.1.4-5"),
    Section("user_data.collected", "which user data is collected", "5.3.1-1"),
    Section("user_data.used_for", "what user data is used for", "5.3.1-1"),
    Section("user_data.stored_where", "where user data is stored", "5.3.1-1"),
    Section("user_data.retention", "how long user data is kept", "5.3.1-1"),
    Section("user_data.access", "who can access user data", "5.3.1-1"),
    Section("human_review", "human review and oversight", "5.3.1-1"),
    Section("limitations", "limitations", "5.3.1-2.1"),
    Section("failure_modes", "failure modes", "5.3.1-2.1"),
    Section("security_conditions_of_use", "security-relevant conditions of use", "5.3.1-2.1"),
    Section("update_announcements", "how updates are announced", None),
    Section("incident_reporting", "incident reporting", None),
    Section("support_contact", "support contact", None),
    Section("vulnerability_disclosure", "vulnerability disclosure policy", None),
)


def _value(card: SystemCard, dotted: str) -> Any:
    value: Any = card
    for part in dotted.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list):
        return not any(str(v).strip() for v in value)
    return False


def missing_sections(card: SystemCard) -> list[Section]:
    """Required sections that are absent or empty (blank text, or a list of blanks)."""
    return [s for s in REQUIRED if _empty(_value(card, s.key))]


def load_card(path: Path) -> SystemCard:
    """Read and type-check the card; a wrong type or YAML error is a ConfigError."""
    data, node = read_yaml(path)
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path.name} must be a mapping of sections, not "
                          f"{type(data).__name__}", where=str(path),
                          fix="start from the file `lifegate init` writes")
    return validate(SystemCard, data, path, node)
