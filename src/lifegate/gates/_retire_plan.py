"""The retirement plan: every copy of every asset of a model or system, each with an action.

A plan is YAML (``retirement.yaml``) written by people or by ``lifegate retire plan``. Its
digest (SHA-256 of its canonical JSON) is what a data custodian approves: any change to a
path, a file digest or an action voids the approval.

``action`` is one of ``dispose``, ``transfer``, ``retain``. The format is versioned so that
``crypto-shred`` (destroy the key of encrypted assets; an asset then names its ``key_ref``) can
be added without breaking plans already approved.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lifegate.core.errors import ConfigError, EvidenceError
from lifegate.core.hashing import hash_files, sha256_bytes
from lifegate.core.policy import Policy
from lifegate.evidence.dsse import canonical

__all__ = ["Asset", "DvcSource", "Plan", "Retain", "generate_plan", "load_plan", "write_plan"]

AssetKind = Literal["model", "dataset", "config", "prompt", "signature", "release", "sbom",
                    "disclosure", "dvc-cache", "dvc-remote", "other"]
FUTURE_ACTIONS = ("crypto-shred",)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Retain(_Strict):
    reason: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    review_date: date


class Asset(_Strict):
    """One copy of one asset. ``files`` maps each file (relative to ``path``; ``.`` for a
    single file) to its SHA-256 as planned; execution refuses anything else."""

    id: str = Field(min_length=1)
    kind: AssetKind = "other"
    path: str = Field(min_length=1)
    action: Literal["dispose", "transfer", "retain"]
    files: dict[str, str] = Field(default_factory=dict)
    destination: str | None = None
    retain: Retain | None = None
    key_ref: str | None = None  # reserved for crypto-shred

    @field_validator("action", mode="before")
    @classmethod
    def _future(cls, v: object) -> object:
        if v in FUTURE_ACTIONS:
            raise ValueError(f"action {v!r} is planned but not supported by plan version 1")
        return v

    @field_validator("path", "destination")
    @classmethod
    def _no_traversal(cls, v: str | None) -> str | None:
        if v is not None and ".." in Path(v).parts:
            raise ValueError(f"{v!r} contains '..'; name the path without traversal")
        return v

    @model_validator(mode="after")
    def _action_fields(self) -> Asset:
        if self.action == "transfer" and not self.destination:
            raise ValueError(f"asset {self.id}: a transfer needs a destination")
        if self.action == "retain" and self.retain is None:
            raise ValueError(f"asset {self.id}: retain needs reason, owner and review_date")
        return self


class DvcSource(_Strict):
    repo: str = "."
    remotes: list[str] = Field(default_factory=list)


class Plan(_Strict):
    version: Literal[1] = 1
    system: str
    scope: Literal["model", "system"] = "model"
    model: str | None = None  # its signature is revoked, so LG-VERIFY refuses it afterwards
    roots: list[str] = Field(min_length=1)
    search: list[str] = Field(default_factory=list)  # where absence is verified (plus roots)
    dvc: DvcSource | None = None
    assets: list[Asset] = Field(min_length=1)
    excluded: list[str] = Field(default_factory=list)  # found, outside the roots: untouched

    @model_validator(mode="after")
    def _unique(self) -> Plan:
        ids = [a.id for a in self.assets]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"asset ids must be unique; repeated: {', '.join(dup)}")
        return self

    def digest(self) -> str:
        return sha256_bytes(canonical(self.model_dump(mode="json")))


def load_plan(path: Path) -> Plan:
    from lifegate.core._yamlio import load_model

    return load_model(Plan, path)


def write_plan(plan: Plan, path: Path) -> None:
    import yaml

    header = ("# lifegate retirement plan. A data custodian approves its digest; any edit voids "
              "the approval.\n# actions: dispose | transfer (destination) | retain (reason, "
              "owner, review_date)\n")
    body = yaml.safe_dump(plan.model_dump(mode="json", exclude_none=True), sort_keys=False)
    path.write_text(header + body)


# -- generation ---------------------------------------------------------------------------------

def _files_of(path: Path) -> dict[str, Path]:
    if path.is_symlink() or path.is_file():
        return {".": path}
    if not path.is_dir():
        raise EvidenceError(f"asset not found: {path}", where=str(path),
                            fix="remove it from the plan or restore it")
    out: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        dirnames.sort()
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            p = Path(dirpath) / name
            out[p.relative_to(path).as_posix()] = p
    return dict(sorted(out.items()))


def digest_files(path: Path) -> dict[str, str]:
    """``{relpath: sha256}`` of an asset; symlinks are listed as ``symlink`` (never followed)."""
    files = _files_of(path)
    regular = {k: p for k, p in files.items() if not p.is_symlink()}
    digests = hash_files(list(regular.values()))
    out = {k: "symlink" for k, p in files.items() if p.is_symlink()}
    out.update({k: d.sha256 for k, d in zip(regular, digests, strict=True)})
    return dict(sorted(out.items()))


def _rel(policy: Policy, p: Path) -> str:
    try:
        return p.resolve().relative_to(policy.base_dir.resolve()).as_posix()
    except ValueError:
        return str(p)


def _candidates(policy: Policy, model: str | None) -> list[tuple[str, str]]:
    """(kind, path) of what the policy's inventory and the model's release name."""
    found: list[tuple[str, str]] = []
    inv = policy.gates.get("LG-INV")
    if inv is not None:
        for kind in ("models", "datasets", "configs", "prompts"):
            found += [(kind[:-1], str(p)) for p in inv.settings.get(kind, [])]
    if model:
        m = policy.resolve(model)
        if ("model", model) not in found:
            found.insert(0, ("model", model))
        for kind, p in (("signature", m.parent / f"{m.name}.sig"),
                        ("release", m.parent / f"{m.name}.release.json")):
            if p.exists():
                found.append((kind, _rel(policy, p)))
        found += _release_entries(m)
    return found


def _release_entries(model: Path) -> list[tuple[str, str]]:
    """Files the release manifest binds (SBOM, disclosure, ...), read without verifying: the
    plan lists them so they are disposed; it is approved as a whole by a custodian."""
    path = model.parent / f"{model.name}.release.json"
    try:
        import base64

        env = json.loads(path.read_text())
        entries = json.loads(base64.b64decode(env["payload"]))["predicate"]["entries"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    out = []
    for kind, entry in entries.items():
        uri = Path(str(entry.get("uri", "")))
        if kind != "model-signature" and uri.is_file():
            out.append((kind if kind in ("sbom", "disclosure") else "other", str(uri)))
    return out


def _dvc_assets(policy: Policy, dvc: DvcSource, wanted: dict[str, int]) -> list[Asset]:
    """DVC cache objects (and objects in local remotes) whose content is one of ``digests``."""
    from lifegate.gates._retire_dvc import cache_objects

    assets = []
    repo = policy.resolve(dvc.repo)
    places = [("dvc-cache", repo / ".dvc" / "cache")] + [
        ("dvc-remote", policy.resolve(r)) for r in dvc.remotes]
    for kind, root in places:
        for i, (obj, sha) in enumerate(cache_objects(root, wanted)):
            assets.append(Asset(id=f"{kind}-{i + 1}", kind=kind, path=_rel(policy, obj),  # type: ignore[arg-type]
                                action="dispose", files={".": sha}))
    return assets


def _copies(policy: Policy, roots: list[str], wanted: dict[str, int],
            planned: set[Path]) -> list[Asset]:
    """Other files under the roots with the content of a planned file: copies to dispose."""
    from lifegate.gates._retire_ops import find_remaining

    places = [Path(os.path.normpath(policy.resolve(r))) for r in roots]  # no link: checked
    found = find_remaining(places, wanted, planned)
    return [Asset(id=f"copy-{i + 1}", kind="other", path=_rel(policy, Path(r["path"])),
                  action="dispose", files={".": r["sha256"]})
            for i, r in enumerate(sorted(found.remaining, key=lambda r: r["path"]))]


def generate_plan(policy: Policy, *, model: str | None, roots: list[str],
                  dvc: DvcSource | None = None, action: str = "dispose") -> Plan:
    """A plan that disposes every asset the inventory and the release name, plus their DVC
    cache and remote copies; people then edit actions (transfer, retain) and approve it."""
    from lifegate.gates._retire_ops import check_places, inside

    declared = [Path(os.path.normpath(policy.resolve(r))) for r in roots]
    linked = check_places(policy.base_dir, [("root", r) for r in declared])
    if linked:
        raise ConfigError(linked[0].message, where=linked[0].location)
    assets: list[Asset] = []
    seen: set[str] = set()
    excluded: list[str] = []
    for kind, p in _candidates(policy, model):
        path = policy.resolve(p)
        if str(path) in seen:
            continue
        seen.add(str(path))
        if not inside(path, declared):
            excluded.append(_rel(policy, path))
            continue
        assets.append(Asset(id=f"{kind}-{len(assets) + 1}", kind=kind,  # type: ignore[arg-type]
                            path=_rel(policy, path), action=action,  # type: ignore[arg-type]
                            files=digest_files(path)))
    if not assets:
        raise ConfigError("nothing to retire: no model given and the policy's LG-INV names "
                          "no assets", fix="pass --model, or list assets under LG-INV")
    wanted = {d: (policy.resolve(a.path) / f).stat().st_size for a in assets
              for f, d in a.files.items() if d != "symlink"}
    if dvc is not None:
        assets += _dvc_assets(policy, dvc, wanted)
    assets += _copies(policy, roots, wanted, {policy.resolve(a.path) for a in assets})
    return Plan(system=policy.system.name, model=model, roots=roots, dvc=dvc, assets=assets,
                excluded=excluded)


