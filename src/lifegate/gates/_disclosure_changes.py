"""Change notices: what differs from the previous release's disclosure, from the ledger.

Each change is data (kind, name, old, new); the templates say in people's words why each kind
matters for the reader's security, so a translated template translates the notice too.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from lifegate.core.policy import Policy
from lifegate.gates._disclosure_facts import gate_runs

__all__ = ["Change", "ChangeNotice", "change_notice", "diff", "previous_release"]

SUMMARY_KEY = "disclosure_summary"


class Change(BaseModel):
    kind: str = Field(description="model, version, metric, waiver-added, waiver-removed, sbom, "
                      "component-added, component-removed, component-updated, data-validation")
    name: str = ""
    old: str | None = None
    new: str | None = None


class ChangeNotice(BaseModel):
    previous_version: str | None
    previous_model: str | None
    previous_record: int
    changes: list[Change] = Field(default_factory=list)
    note: str | None = Field(default=None, description="people's own words (card: changes)")


def previous_release(policy: Policy, current_model: str | None
                     ) -> tuple[int, dict[str, Any]] | None:
    """The newest passed disclosure recorded for a different model digest, if any."""
    if current_model is None:
        return None
    for entry in gate_runs(policy, "LG-DISCLOSE"):
        result = entry.predicate["result"]
        old = result.get("details", {}).get(SUMMARY_KEY)
        if result.get("verdict") != "pass" or not isinstance(old, dict):
            continue
        if old.get("model") and old.get("model") != current_model:
            return entry.seq, old
    return None


def _fmt(value: Any) -> str | None:
    return None if value is None else (f"{value:g}" if isinstance(value, float) else str(value))


def _scalar(kind: str, old: Any, new: Any) -> list[Change]:
    return [] if old == new else [Change(kind=kind, old=_fmt(old), new=_fmt(new))]


def _mapping(kind: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    out = [Change(kind=kind, name=k, old=_fmt(old.get(k)), new=_fmt(new.get(k)))
           for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    return out


def _components(old: dict[str, str], new: dict[str, str]) -> list[Change]:
    out = []
    for name in sorted(set(old) | set(new)):
        if name not in old:
            out.append(Change(kind="component-added", name=name, new=new[name]))
        elif name not in new:
            out.append(Change(kind="component-removed", name=name, old=old[name]))
        elif old[name] != new[name]:
            out.append(Change(kind="component-updated", name=name, old=old[name], new=new[name]))
    return out


def _waivers(old: dict[str, str], new: dict[str, str]) -> list[Change]:
    added = [Change(kind="waiver-added", name=k, new=new[k]) for k in sorted(new) if k not in old]
    return added + [Change(kind="waiver-removed", name=k, old=old[k])
                    for k in sorted(old) if k not in new]


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Differences between two disclosure summaries, most security-relevant first."""
    return [*_scalar("model", old.get("model"), new.get("model")),
            *_scalar("version", old.get("version"), new.get("version")),
            *_waivers(old.get("waivers") or {}, new.get("waivers") or {}),
            *_scalar("data-validation", old.get("data_validation"), new.get("data_validation")),
            *_mapping("metric", old.get("metrics") or {}, new.get("metrics") or {}),
            *_scalar("sbom", old.get("sbom"), new.get("sbom")),
            *_components(old.get("components") or {}, new.get("components") or {})]


def change_notice(policy: Policy, current: dict[str, Any], note: str | None
                  ) -> ChangeNotice | None:
    """The notice against the previous release, or None for a first release."""
    found = previous_release(policy, current.get("model"))
    if found is None:
        return None
    seq, old = found
    return ChangeNotice(previous_version=old.get("version"), previous_model=old.get("model"),
                        previous_record=seq, changes=diff(old, current), note=note)
