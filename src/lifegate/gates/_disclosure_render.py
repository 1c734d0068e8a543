"""Render the disclosure as Markdown, one self-contained HTML page, and JSON.

The text people read lives in Jinja2 templates (``templates/disclosure/*.j2``); a user may
point ``templates_dir`` at a folder holding their own (e.g. translated) copies, and any file
missing there falls back to the built-in one. HTML output is autoescaped; in Markdown every
value is escaped on output, so text from the system card cannot inject markup or links.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from lifegate.core.errors import ConfigError
from lifegate.gates._disclosure_card import SystemCard
from lifegate.gates._disclosure_changes import ChangeNotice
from lifegate.gates._disclosure_facts import Facts

if TYPE_CHECKING:
    import jinja2

__all__ = ["FORMAT", "OUTPUTS", "Disclosure", "render", "render_json"]

FORMAT = "lifegate-disclosure/v1"
# output kind -> (file name, template, media type)
OUTPUTS: dict[str, tuple[str, str | None, str]] = {
    "html": ("disclosure.html", "disclosure.html.j2", "text/html"),
    "markdown": ("disclosure.md", "disclosure.md.j2", "text/markdown"),
    "json": ("disclosure.json", None, "application/json"),
}
_PACKAGE = "lifegate.gates"
_FOLDER = "templates/disclosure"


class Disclosure(BaseModel):
    """The whole notice as data: the card people wrote, the ledger's facts, the changes."""

    format: str = FORMAT
    generated_at: datetime
    system: str
    version: str
    language: str
    card: dict[str, Any]
    facts: Facts
    change_notice: ChangeNotice | None = None

    @classmethod
    def build(cls, card: SystemCard, facts: Facts, notice: ChangeNotice | None,
              generated_at: datetime | None = None) -> Disclosure:
        known = card.model_dump(mode="json", exclude=set(card.model_extra or {}))
        return cls(generated_at=generated_at or datetime.now(UTC), system=facts.system,
                   version=facts.version, language=card.language, card=known, facts=facts,
                   change_notice=notice)


class _Raw(str):
    """Already-formatted Markdown that the escaping finalizer leaves alone."""


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")
_MD_LEADING = re.compile(r"^(#|[+=-](?=\s)|\d+\.(?=\s))")
_SPACES = re.compile(r"\s+")


def md_escape(value: Any) -> str:
    """One line of plain text, safe anywhere in Markdown."""
    if isinstance(value, _Raw):
        return value
    if value is None:
        return ""
    text = _SPACES.sub(" ", _MD_SPECIAL.sub(r"\\\1", str(value))).strip()
    return _MD_LEADING.sub(lambda m: m[1][:-1] + "\\." if m[1].endswith(".")
                           else "\\" + m[1], text)


def _code(value: Any) -> str:
    text = str(value)
    return _Raw(f"`{text}`") if re.fullmatch(r"[0-9A-Za-z:._/+@-]+", text) else md_escape(text)


def _time(value: datetime | str) -> str:
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _number(value: float) -> str:
    return f"{value:g}"


def _load_builtin(name: str) -> str:
    return (resources.files(_PACKAGE) / _FOLDER / name).read_text("utf-8")


def _environment(templates_dir: Path | None, markdown: bool) -> jinja2.Environment:
    import jinja2

    loaders: list[jinja2.BaseLoader] = []
    if templates_dir is not None:
        if not templates_dir.is_dir():
            raise ConfigError(f"template folder not found: {templates_dir}",
                              where=str(templates_dir), fix="create it, or unset templates_dir")
        loaders.append(jinja2.FileSystemLoader(str(templates_dir)))
    loaders.append(jinja2.FunctionLoader(_load_builtin))
    # Markdown is not HTML: its escaping is the ``finalize`` hook, applied to every value.
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders),
                             autoescape=not markdown,  # noqa: S701
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True,
                             finalize=md_escape if markdown else None)
    env.filters.update(time=_time, number=_number, code=_code if markdown else str,
                       raw=_Raw if markdown else str)
    return env


def _context(doc: Disclosure) -> dict[str, Any]:
    return {"d": doc, "card": doc.card, "facts": doc.facts, "notice": doc.change_notice}


def render(doc: Disclosure, kind: str, templates_dir: Path | None = None) -> str:
    """The text of one output kind (``html``, ``markdown`` or ``json``)."""
    if kind == "json":
        return render_json(doc)
    template = OUTPUTS[kind][1]
    assert template is not None
    env = _environment(templates_dir, markdown=kind == "markdown")
    try:
        text = env.get_template(template).render(_context(doc))
    except Exception as exc:  # a user's template: any Jinja2 error is a configuration error
        raise ConfigError(f"template {template} cannot be rendered: {type(exc).__name__}: "
                          f"{exc}", where=str(templates_dir or f"{_PACKAGE}/{_FOLDER}"),
                          fix="compare your copy with the built-in template") from None
    return text if text.endswith("\n") else text + "\n"


def render_json(doc: Disclosure) -> str:
    return json.dumps(doc.model_dump(mode="json"), indent=2, sort_keys=True,
                      ensure_ascii=False) + "\n"
