"""The disposal certificate: a signed in-toto statement (DSSE, JSON) plus Markdown and HTML
renderings of the same facts, and the check an auditor runs on it."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import ec

from lifegate.core.hashing import sha256_file
from lifegate.core.model import Evidence, Subject
from lifegate.evidence.dsse import envelope, read_signed
from lifegate.evidence.statement import PredicateType, statement
from lifegate.gates._retire_ops import LIMITS

if TYPE_CHECKING:
    from lifegate.gates.retirement import Certificate, Execution

__all__ = ["issue", "render_markdown", "verify_certificate"]

PROVES = ("that the approved plan was carried out step by step as journaled in the signed "
          "ledger; that every disposed file was overwritten and deleted, and every transfer "
          "verified at its destination; that the model's signature was revoked; and that, "
          "when the certificate was issued, no file with any disposed digest was found in the "
          "searched locations.")


def _assets(ex: Execution) -> list[dict[str, Any]]:
    out = []
    for a in ex.plan.assets:
        step = ex.journal.steps.get(f"asset:{a.id}", {})
        done = step.get("done", {})
        out.append({"id": a.id, "kind": a.kind, "action": a.action,
                    "location": str(ex.policy.resolve(a.path)), "files": a.files,
                    "started_at": step.get("start", {}).get("_at"), "finished_at": done.get("_at"),
                    "journal": [step.get("start", {}).get("_seq"), done.get("_seq")],
                    "result": {k: v for k, v in done.items() if not k.startswith("_")}})
    return out


def _predicate(ex: Execution, absence: dict[str, Any]) -> dict[str, Any]:
    revoke = ex.journal.steps.get("revoke", {}).get("done", {})
    return {
        "system": ex.plan.system, "scope": ex.plan.scope, "planDigest": ex.journal.digest,
        "issuedAt": datetime.now(UTC).isoformat(), "actor": ex.journal.actor,
        "approvals": ex.journal.done("preflight").get("approvals", []),  # type: ignore[union-attr]
        "assets": _assets(ex),
        "revocation": {k: v for k, v in revoke.items() if not k.startswith("_")},
        "absence": {k: v for k, v in absence.items() if not k.startswith("_")},
        "ledger": ex.journal.ledger.location, "proves": PROVES, "limits": LIMITS}


def issue(ex: Execution, absence: dict[str, Any]) -> Certificate:
    """Sign, write (JSON envelope, Markdown, HTML), record, and describe as evidence."""
    from lifegate.gates.retirement import Certificate

    signer = ex.journal.ledger.signer
    assert signer is not None  # checked before anything ran
    gone = sorted({d for a in ex.plan.assets if a.action != "retain" for d in a.files.values()})
    stmt = statement([{"name": f"disposed:{d[:12]}", "digest": {"sha256": d}} for d in gone]
                     or [{"name": "retirement-plan", "digest": {"sha256": ex.journal.digest}}],
                     PredicateType.DISPOSAL_CERTIFICATE, _predicate(ex, absence))
    out = ex.policy.resolve(ex.gate.settings.out_dir) / ex.journal.digest[:12]
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "disposal-certificate.json", "md": out / "disposal-certificate.md",
             "html": out / "disposal-certificate.html"}
    _write(paths["json"], json.dumps(envelope(stmt, signer), indent=2) + "\n")
    _write(paths["md"], render_markdown(stmt["predicate"]))
    _write(paths["html"], render_html(stmt["predicate"]))
    ref = ex.journal.ledger.append(stmt, PredicateType.DISPOSAL_CERTIFICATE)
    ex.journal.write("certificate", "done", {"path": str(paths["json"]), "seq": ref.seq})
    media = {"json": "application/vnd.in-toto+json", "md": "text/markdown", "html": "text/html"}
    evidence = [Evidence(kind=f"disposal-certificate-{k}", uri=str(p), media_type=media[k],
                         sha256=sha256_file(p)) for k, p in paths.items()]
    disposed = sum(int(a["result"].get("files_disposed", 0)) for a in stmt["predicate"]["assets"])
    return Certificate(paths["json"], bool(absence["verified"]), list(absence["remaining"]),
                       disposed, evidence,
                       [Subject(name=s["name"], sha256=s["digest"]["sha256"])
                        for s in stmt["subject"]])


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def verify_certificate(path: Path, trusted: dict[str, ec.EllipticCurvePublicKey]
                       ) -> dict[str, Any]:
    """The certificate's facts, if it is signed by a trusted key; else SignatureError."""
    stmt = read_signed(path, trusted, PredicateType.DISPOSAL_CERTIFICATE, "disposal certificate")
    predicate: dict[str, Any] = stmt["predicate"]
    return predicate


def _rows(p: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for a in p["assets"]:
        r = a["result"]
        outcome = {"retain": f"retained: {r.get('reason', '')} (owner {r.get('owner', '')}, "
                             f"review {r.get('review_date', '')})",
                   "transfer": f"transferred to {r.get('destination', '')}, verified; source "
                               f"disposed ({r.get('files_disposed', 0)} files)",
                   "dispose": f"disposed ({r.get('files_disposed', 0)} files)"}[a["action"]]
        digests = ", ".join(sorted({d[:12] for d in a["files"].values()}))
        rows.append((a["id"], a["kind"], a["location"], digests, outcome))
    return rows


def render_markdown(p: dict[str, Any]) -> str:
    ab = p["absence"]
    rev = p["revocation"].get("revoked")
    revoked = f"`{rev}`" if rev else f"no ({p['revocation'].get('note')})"
    approved = ", ".join(f"{a['approver']} ({a['role']}, ledger #{a['seq']})"
                         for a in p["approvals"]) or "-"
    lines = [f"# Disposal certificate: {p['system']}", "",
             f"- Plan digest: `{p['planDigest']}`",
             f"- Issued: {p['issuedAt']} by {p['actor']}",
             f"- Approved by: {approved}", f"- Model signature revoked: {revoked}",
             f"- Absence verified: **{'yes' if ab['verified'] else 'NO'}**: "
             f"{ab['files_seen']} files seen, {ab['files_hashed']} hashed, "
             f"{len(ab['remaining'])} with a disposed digest, in {', '.join(ab['searched'])}",
             "", "| asset | kind | location | sha256 (first 12) | outcome |",
             "|---|---|---|---|---|"]
    lines += [f"| {' | '.join(c.replace('|', '/') for c in row)} |" for row in _rows(p)]
    lines += ["", "## What this certificate proves", "", p["proves"], "",
              "## What it cannot prove", "", p["limits"], ""]
    return "\n".join(lines)


def render_html(p: dict[str, Any]) -> str:
    e = html.escape
    ab = p["absence"]
    rows = "\n".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>"
                     for row in _rows(p))
    approvals = ", ".join(f"{a['approver']} ({a['role']})" for a in p["approvals"]) or "-"
    status = "verified" if ab["verified"] else "NOT verified"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Disposal certificate: {e(p['system'])}</title>
<style>body{{font-family:system-ui,sans-serif;margin:1rem auto;max-width:60rem;color:#111;
padding:0 1rem}}table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #666;
padding:.3rem;text-align:left;overflow-wrap:anywhere}}</style></head>
<body><header><h1>Disposal certificate: {e(p['system'])}</h1></header><main>
<dl><dt>Plan digest</dt><dd><code>{e(p['planDigest'])}</code></dd>
<dt>Issued</dt><dd>{e(p['issuedAt'])} by {e(p['actor'])}</dd>
<dt>Approved by</dt><dd>{e(approvals)}</dd>
<dt>Model signature revoked</dt><dd>{e(str(p['revocation'].get('revoked') or 'no'))}</dd>
<dt>Absence</dt><dd>{status}: {ab['files_seen']} files seen, {ab['files_hashed']} hashed,
{len(ab['remaining'])} with a disposed digest</dd></dl>
<h2>Assets</h2><table><thead><tr><th scope="col">asset</th><th scope="col">kind</th>
<th scope="col">location</th><th scope="col">sha256</th><th scope="col">outcome</th></tr>
</thead><tbody>
{rows}
</tbody></table>
<h2>What this certificate proves</h2><p>{e(p['proves'])}</p>
<h2>What it cannot prove</h2><p>{e(p['limits'])}</p></main>
<footer><p>Signed DSSE statement: disposal-certificate.json; ledger {e(p['ledger'])}</p>
</footer></body></html>
"""
