"""The Python environment as data: every installed distribution with its licence, origin,
dependency edges and one SHA-256 computed from the digests its ``RECORD`` lists.

No installed file is read or hashed here: ``RECORD`` already holds each file's sha256
(base64-urlsafe, converted to hex). A distribution's digest is
:func:`lifegate.core.hashing.tree_digest` over its ``(path, sha256)`` RECORD entries, the same
construction LG-INV uses for folders, so anyone can recompute it from the installed files.
"""

from __future__ import annotations

import binascii
import csv
import functools
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from lifegate.core.hashing import tree_digest

__all__ = ["Dist", "EnvScan", "License", "scan_environment"]

_NAME_RE = re.compile(r"\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?")
_CANON_RE = re.compile(r"[-_.]+")
_B64 = str.maketrans("-_", "+/")
_URL_KINDS = (("issue", "issue-tracker"), ("bug", "issue-tracker"), ("tracker", "issue-tracker"),
              ("doc", "documentation"), ("changelog", "release-notes"),
              ("release", "release-notes"), ("changes", "release-notes"), ("source", "vcs"),
              ("repository", "vcs"), ("code", "vcs"), ("github", "vcs"), ("gitlab", "vcs"))
# Common trove classifiers -> SPDX ids (used only when no licence expression or id is given).
_TROVE = {
    "MIT License": "MIT", "Apache Software License": "Apache-2.0",
    "BSD License": "BSD-3-Clause", "ISC License (ISCL)": "ISC",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "Python Software Foundation License": "PSF-2.0",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "GNU Affero General Public License v3": "AGPL-3.0-only",
    "The Unlicense (Unlicense)": "Unlicense", "Zope Public License": "ZPL-2.1",
}


def canonical_name(name: str) -> str:
    return _CANON_RE.sub("-", name).lower()


@dataclass(frozen=True)
class License:
    """What a distribution declares: an SPDX ``expression``, an SPDX ``id`` or a free ``name``."""

    kind: str  # "expression" | "id" | "name"
    value: str


@dataclass
class Dist:
    name: str
    version: str
    location: str  # the .dist-info folder
    license: License | None = None
    sha256: str | None = None
    record_files: int = 0
    origin: str = "unknown"  # index | vcs | archive | directory | unknown
    origin_url: str | None = None
    requires: list[str] = field(default_factory=list)  # canonical names, markers evaluated
    urls: list[tuple[str, str]] = field(default_factory=list)  # (CycloneDX type, url)

    @property
    def key(self) -> str:
        return canonical_name(self.name)

    @property
    def purl(self) -> str:
        from urllib.parse import quote

        return f"pkg:pypi/{quote(self.key, safe='')}@{quote(self.version, safe='+')}"


@dataclass
class EnvScan:
    dists: list[Dist]
    broken: list[tuple[str, str]]  # (location, why)
    shadowed: list[tuple[str, str]]  # (location, name of the distribution that wins)
    missing_requirements: list[tuple[str, str]]  # (dist, requirement name) not installed


class BrokenDist(Exception):
    """A distribution whose metadata cannot be trusted (message says why)."""


def scan_environment(paths: list[str] | None = None) -> EnvScan:
    """Distributions on ``paths`` (default: ``sys.path``); the first of a name wins, as in
    ``importlib.metadata``."""
    scan = EnvScan([], [], [], [])
    seen: dict[str, Dist] = {}
    for folder in _meta_dirs(paths if paths is not None else sys.path):
        try:
            dist = read_dist(folder)
        except BrokenDist as exc:
            scan.broken.append((str(folder), str(exc)))
            continue
        if dist.key in seen:
            scan.shadowed.append((str(folder), f"{seen[dist.key].name} {seen[dist.key].version}"))
            continue
        seen[dist.key] = dist
        scan.dists.append(dist)
    for dist in scan.dists:
        missing = [r for r in dist.requires if r not in seen]
        scan.missing_requirements += [(dist.name, r) for r in missing]
        dist.requires = [r for r in dist.requires if r in seen]
    return scan


def _meta_dirs(paths: list[str]) -> list[Path]:
    found = []
    for entry in paths:
        base = Path(entry or ".")
        try:
            names = sorted(os.listdir(base))
        except OSError:
            continue  # a zip file, or a path that does not exist: holds no metadata folders
        found += [base / n for n in names if n.endswith((".dist-info", ".egg-info"))]
    return found


def read_dist(folder: Path) -> Dist:
    """One distribution from its metadata folder; :class:`BrokenDist` when it is unusable."""
    meta_file = folder / ("METADATA" if folder.name.endswith(".dist-info") else "PKG-INFO")
    headers = parse_headers(_read_text(meta_file))
    name, version = headers.get("name", [""])[0], headers.get("version", [""])[0]
    if not name.strip() or not version.strip():
        missing = "Name" if not name.strip() else "Version"
        raise BrokenDist(f"{meta_file.name} has no {missing}")
    dist = Dist(name=name.strip(), version=version.strip(), location=str(folder))
    dist.license = _license(headers)
    dist.requires = _requires(headers.get("requires-dist", []))
    dist.urls = _urls(headers)
    record = folder / "RECORD"
    if record.exists():
        entries = parse_record(_read_text(record), record)
        dist.record_files = len(entries)
        dist.sha256 = tree_digest(entries) if entries else None
    dist.origin, dist.origin_url = _origin(folder)
    return dist


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BrokenDist(f"{path.name} is missing") from None
    except UnicodeDecodeError:
        raise BrokenDist(f"{path.name} is not UTF-8 text") from None
    except OSError as exc:
        raise BrokenDist(f"{path.name} cannot be read: {exc.strerror}") from None


def parse_headers(text: str) -> dict[str, list[str]]:
    """Core-metadata headers (RFC 822 style), keys lower-cased; stops at the body."""
    out: dict[str, list[str]] = {}
    last: str | None = None
    for line in text.splitlines():
        if not line.strip():
            break
        if line[0] in " \t":
            if last is not None:
                out[last][-1] += "\n" + line.strip()
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise BrokenDist(f"metadata line {line[:60]!r} is not a 'Key: value' header")
        last = key.strip().lower()
        out.setdefault(last, []).append(value.strip())
    return out


def parse_record(text: str, path: Path) -> list[tuple[str, str]]:
    """``(path, sha256 hex)`` for each RECORD row with a sha256; malformed rows are fatal."""
    out = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line:
            continue
        row = next(csv.reader([line])) if line.startswith('"') else line.rsplit(",", 2)
        if len(row) != 3:
            raise BrokenDist(f"RECORD line {lineno} has {len(row)} fields, not 3")
        file, digest = row[0], row[1]
        if not digest:
            continue  # RECORD itself and generated files carry no hash
        alg, sep, value = digest.partition("=")
        if not sep or not value:
            raise BrokenDist(f"RECORD line {lineno}: hash {digest[:40]!r} is not 'alg=value'")
        if alg != "sha256":
            continue
        try:
            raw = binascii.a2b_base64((value + "=" * (-len(value) % 4)).translate(_B64),
                                      strict_mode=True)
        except (binascii.Error, ValueError):
            raise BrokenDist(f"RECORD line {lineno}: sha256 is not base64") from None
        if len(raw) != 32:
            raise BrokenDist(f"RECORD line {lineno}: sha256 has {len(raw)} bytes, not 32")
        out.append((file, raw.hex()))
    return out


def _license(headers: dict[str, list[str]]) -> License | None:
    expr = headers.get("license-expression", [""])[0].strip()
    if expr:
        return License("expression", expr)
    text = headers.get("license", [""])[0].strip()
    if text.upper() in ("UNKNOWN", "NONE"):
        text = ""
    if text and "\n" not in text and len(text) <= 100:
        from cyclonedx.spdx import fixup_id

        spdx = fixup_id(text)
        if spdx:
            return License("id", spdx)
        if " OR " in text or " AND " in text or " WITH " in text:
            return License("expression", text)
    for classifier in headers.get("classifier", []):
        parts = [p.strip() for p in classifier.split("::")]
        if parts[0] == "License" and len(parts) > 1 and parts[-1] != "OSI Approved":
            spdx_id = _TROVE.get(parts[-1])
            return License("id", spdx_id) if spdx_id else License("name", parts[-1])
    if text and "\n" not in text and len(text) <= 100:
        return License("name", text)
    return License("name", "see the distribution's licence text") if text else None


@functools.cache
def _marker_true(marker: str) -> bool:
    from packaging.markers import InvalidMarker, Marker

    try:
        return Marker(marker).evaluate({"extra": ""})
    except InvalidMarker:
        return True  # keep the edge: a dependency is never hidden by a marker we cannot read


def _requires(lines: list[str]) -> list[str]:
    """Names of the requirements that apply here: markers evaluated, extras left out."""
    out = []
    for req in lines:
        spec, _, marker = req.partition(";")
        if "@" in spec:  # a direct URL may hold ';': let packaging split it
            from packaging.requirements import InvalidRequirement, Requirement

            try:
                parsed = Requirement(req)
            except InvalidRequirement:
                continue
            if parsed.marker is None or _marker_true(str(parsed.marker)):
                out.append(canonical_name(parsed.name))
            continue
        match = _NAME_RE.match(spec)
        if match and (not marker.strip() or _marker_true(marker.strip())):
            out.append(canonical_name(match.group(1)))
    return sorted(set(out))


def _urls(headers: dict[str, list[str]]) -> list[tuple[str, str]]:
    found = [("website", u) for u in headers.get("home-page", [])[:1]]
    for value in headers.get("project-url", []):
        label, _, url = value.partition(",")
        lower = label.strip().lower()
        kind = next((k for word, k in _URL_KINDS if word in lower), "website")
        found.append((kind, url.strip()))
    out: list[tuple[str, str]] = []
    for kind, url in found:
        if url and (kind, url) not in out:
            out.append((kind, url))
    return out


def _origin(folder: Path) -> tuple[str, str | None]:
    """Where the distribution came from: PEP 610 direct_url.json, else an index installer."""
    direct = folder / "direct_url.json"
    if direct.exists():
        try:
            info = json.loads(direct.read_text(encoding="utf-8"))
            url = str(info["url"])
        except (OSError, ValueError, KeyError, TypeError):
            raise BrokenDist("direct_url.json is not valid PEP 610 JSON") from None
        kind = ("vcs" if "vcs_info" in info else "archive" if "archive_info" in info
                else "directory" if "dir_info" in info else "unknown")
        return kind, url
    if (folder / "INSTALLER").exists():
        return "index", None
    return "unknown", None
