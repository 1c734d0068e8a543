"""The disclosure page in a real browser: headless Chromium renders it on a phone-sized window
with the network disabled (a proxy to a closed port), takes a screenshot, and the dumped DOM
has the page's headings. Plus the page's accessible structure, checked statically."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from disclosure_helpers import DEMO_CARD

from lifegate.gates._disclosure_card import load_card
from lifegate.gates._disclosure_facts import Facts, ReleaseFact
from lifegate.gates._disclosure_render import Disclosure, render

H2 = ["Contents", "About this system", "What you must not use it for", "Your data",
      "Human review", "Limitations and failure modes", "Using it securely",
      "How updates are announced", "Reporting a problem", "Reporting a vulnerability",
      "Components used with a written justification", "For system operators"]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _chromium() -> str:
    """Path of Chromium; under CI, install Debian's package when it is missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if not _in_ci():
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        subprocess.run([*sudo, *cmd], check=False, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=900)
    found = shutil.which("chromium")
    if not found:
        pytest.fail("chromium is missing and could not be installed with apt-get")
    return found


def _browser(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--no-first-run", "--disable-extensions",
           "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
           f"--user-data-dir={profile}", "--window-size=390,844", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False,
                          stdin=subprocess.DEVNULL)


class _Outline(HTMLParser):
    """Tags with attributes, and the text of each heading."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[tuple[int, str]] = []
        self._open: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if len(tag) == 2 and tag[0] == "h" and tag[1].isdigit():
            self._open = int(tag[1])
            self.headings.append((self._open, ""))

    def handle_endtag(self, tag: str) -> None:
        if self._open is not None and tag == f"h{self._open}":
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            level, text = self.headings[-1]
            self.headings[-1] = (level, (text + data).strip())


def _page(tmp_path: Path) -> Path:
    facts = Facts(system="iris-classifier", version="1.0.0",
                  release=ReleaseFact(model_name="classifier", model_root_digest="a0" * 32,
                                      hash_type="sha256", signer="5e" * 32),
                  metrics={"accuracy": 0.95}, metrics_source="metrics.json")
    doc = Disclosure.build(load_card(DEMO_CARD), facts, None,
                           generated_at=datetime(2025, 3, 1, 12, tzinfo=UTC))
    page = tmp_path / "disclosure.html"
    page.write_text(render(doc, "html"), encoding="utf-8")
    return page


def _outline(text: str) -> _Outline:
    parser = _Outline()
    parser.feed(text)
    return parser


def test_page_structure_is_accessible_and_self_contained(tmp_path: Path) -> None:
    text = _page(tmp_path).read_text()
    lowered = text.lower()
    assert "<script" not in lowered and "http://" not in lowered and "https://" not in lowered
    assert '<html lang="en">' in text and 'name="viewport"' in text
    assert "default-src 'none'" in text
    outline = _outline(text)
    tags = [t for t, _ in outline.tags]
    for landmark in ("header", "nav", "main", "footer"):
        assert tags.count(landmark) == 1, landmark
    assert "link" not in tags and "img" not in tags
    assert outline.tags[tags.index("a")][1].get("href") == "#main", "skip link comes first"
    levels = [level for level, _ in outline.headings]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels))
    assert [h for level, h in outline.headings if level == 2] == H2
    ids = {a.get("id") for _, a in outline.tags}
    hrefs = [a["href"] for t, a in outline.tags if t == "a" and a.get("href")]
    assert all(h.startswith("#") and h[1:] in ids for h in hrefs), "no link leaves the page"


def test_page_renders_offline_in_headless_chromium(tmp_path: Path) -> None:
    chromium = _chromium()
    page = _page(tmp_path)
    shot = tmp_path / "disclosure-phone.png"
    proc = _browser(chromium, tmp_path / "profile-1", f"--screenshot={shot}",
                    page.as_uri())
    assert shot.is_file() and shot.stat().st_size > 10_000, proc.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dom = _browser(chromium, tmp_path / "profile-2", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    outline = _outline(dom.stdout)
    assert outline.headings[0] == (1, "Iris species classifier: what you should know before "
                                      "using it")
    assert [h for level, h in outline.headings if level == 2] == H2
    assert "Evaluation results" in [h for level, h in outline.headings if level == 3]
