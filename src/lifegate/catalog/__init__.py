"""EN 304 223 provisions as package data, and which gates evidence which provisions."""

from __future__ import annotations

import enum
import functools
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict

from lifegate.core.model import Phase

__all__ = ["Catalog", "EvidenceMode", "Modal", "Principle", "Provision", "load_catalog"]


class Modal(enum.StrEnum):
    SHALL = "shall"
    SHOULD = "should"


class EvidenceMode(enum.StrEnum):
    """How a provision is usually answered."""

    GATE = "gate"
    ATTESTATION = "attestation"
    DOCUMENT = "document"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Principle(_Frozen):
    number: int
    clause: str
    title: str
    phase: Phase


class Provision(_Frozen):
    id: str
    principle: int
    phase: Phase
    modal: Modal
    roles: tuple[str, ...]
    summary: str
    evidence: EvidenceMode


class Catalog(_Frozen):
    standard: str
    principles: tuple[Principle, ...]
    provisions: tuple[Provision, ...]

    def get(self, provision_id: str) -> Provision:
        for p in self.provisions:
            if p.id == provision_id:
                return p
        from lifegate.core.errors import ConfigError

        raise ConfigError(f"unknown provision {provision_id!r}",
                          fix="list them with `lifegate catalog`")

    def select(self, phase: Phase | None = None, principle: int | None = None
               ) -> list[Provision]:
        return [p for p in self.provisions
                if (phase is None or p.phase == phase)
                and (principle is None or p.principle == principle)]

    def principle(self, number: int) -> Principle:
        return next(p for p in self.principles if p.number == number)


@functools.cache
def load_catalog() -> Catalog:
    text = resources.files(__name__).joinpath("provisions.yaml").read_text(encoding="utf-8")
    return Catalog.model_validate(yaml.safe_load(text))
