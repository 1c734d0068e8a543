"""Evidence files of LG-DATA and LG-DRIFT: JSON written atomically, and the drift page (one
inline SVG bar chart per drifting feature; no JavaScript, nothing loaded from elsewhere)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from lifegate.core.errors import EvidenceError
from lifegate.core.hashing import sha256_bytes
from lifegate.core.model import Evidence

__all__ = ["drift_html", "write_evidence", "write_json"]

W, H, PAD = 360, 140, 24


def write_evidence(path: Path, text: str, kind: str, media_type: str) -> Evidence:
    """Write ``text`` atomically and describe it as evidence with its sha256."""
    data = text.encode("utf-8")
    tmp = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as exc:
        raise EvidenceError(f"cannot write {kind} evidence {path}: {exc.strerror}",
                            where=str(path), fix="check out_dir in the gate's settings and "
                            "the folder's permissions") from None
    return Evidence(kind=kind, uri=str(path), media_type=media_type, sha256=sha256_bytes(data))


def write_json(path: Path, data: Any, kind: str) -> Evidence:
    text = json.dumps(data, indent=2, sort_keys=True, default=str, allow_nan=False) + "\n"
    return write_evidence(path, text, kind, "application/json")


def _chart(feature: dict[str, Any]) -> str:
    """Bars of reference (grey) and current (orange) shares per bin or category."""
    ref, cur, labels = feature["reference_share"], feature["current_share"], feature["bins"]
    top = max([*ref, *cur, 1e-9])
    step = (W - 2 * PAD) / max(len(ref), 1)
    bar = max(step / 2 - 1, 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
             f'role="img" aria-label="{escape(feature["name"])}">',
             f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="#444"/>']
    for i, (r, c) in enumerate(zip(ref, cur, strict=True)):
        x = PAD + i * step
        for j, (share, colour) in enumerate(((r, "#9e9e9e"), (c, "#e65100"))):
            h = (H - 2 * PAD) * share / top
            parts.append(f'<rect x="{x + j * bar:.1f}" y="{H - PAD - h:.1f}" width="{bar:.1f}"'
                         f' height="{h:.1f}" fill="{colour}"><title>{escape(labels[i])}: '
                         f'{"reference" if j == 0 else "current"} {share:.3f}</title></rect>')
    parts.append(f'<text x="{PAD}" y="14" font-size="12">{escape(feature["name"])}: PSI '
                 f'{feature["psi"]:.3f}{_ks_text(feature)}</text></svg>')
    return "".join(parts)


def _ks_text(feature: dict[str, Any]) -> str:
    return "" if feature.get("ks") is None else f', KS {feature["ks"]:.3f}'


def drift_html(report: dict[str, Any]) -> str:
    """A self-contained page: a table of every feature, a chart for each one that drifts."""
    items = report["features"] + ([report["prediction"]] if report.get("prediction") else [])
    rows = "".join(
        f"<tr><td>{escape(f['name'])}</td><td>{f['kind']}</td><td>{f['psi']:.4f}</td>"
        f"<td>{'' if f.get('ks') is None else format(f['ks'], '.4f')}</td>"
        f"<td>{'' if f.get('ks_pvalue') is None else format(f['ks_pvalue'], '.3g')}</td>"
        f"<td>{'DRIFT' if f['drift'] else 'ok'}</td></tr>"
        for f in items)
    charts = "".join(f"<figure>{_chart(f)}</figure>" for f in items if f["drift"])
    t = report["thresholds"]
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>lifegate drift report: {escape(report['system'])}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}"
        "figure{display:inline-block;margin:4px}</style></head><body>"
        f"<h1>Drift report: {escape(report['system'])}</h1>"
        f"<p>reference {escape(report['reference']['name'])} ({report['reference']['rows']} "
        f"rows), current {escape(report['current']['name'])} ({report['current']['rows']} "
        f"rows). A feature drifts when PSI &gt; {t['psi']} or KS &gt; {t['ks']} with "
        f"p &lt; {t['ks_alpha']}. Grey: reference, orange: current.</p>"
        "<table><tr><th>feature</th><th>kind</th><th>PSI</th><th>KS</th><th>KS p</th>"
        f"<th></th></tr>{rows}</table><h2>Drifting features</h2>"
        f"{charts or '<p>none</p>'}</body></html>\n")
