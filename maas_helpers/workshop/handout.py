"""The handout: `attendees.csv` and a printable `handout.html` (two cards per A4 page, QR code of the portal;
a warning on the page when its URLs are loopback addresses attendees cannot reach).

These two files are the only place temporary passwords and keys are written; both are created 0600.
The CSV is also where the kit finds the temporary passwords again on the next run.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import segno

FIELDS = ["username", "temporary_password", "portal_url", "model", "endpoint", "key"]


@dataclass
class Card:
    username: str
    password: str
    portal_url: str
    keys: list[tuple[str, str, str, str]]  # (model, endpoint, key, kind)


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)  # the directory of the handout lists who attends: private too
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="") as fh:
        fh.write(text)
    os.chmod(path, 0o600)  # an older file may have had wider permissions


def read_passwords(csv_path: Path) -> dict[str, str]:
    if not csv_path.exists():
        return {}
    with csv_path.open(newline="") as fh:
        return {row["username"]: row["temporary_password"] for row in csv.DictReader(fh) if row.get("username")}


def write_csv(path: Path, cards: list[Card]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS)
    writer.writeheader()
    for card in cards:
        for model, endpoint, key, _kind in card.keys or [("", "", "", "")]:
            writer.writerow({"username": card.username, "temporary_password": card.password,
                             "portal_url": card.portal_url, "model": model, "endpoint": endpoint, "key": key})
    _write_private(path, out.getvalue())


# A4 portrait, two cards per page (each at most half a page, never split across pages). Nothing is ever broken
# inside a word: keys and URLs are single unbreakable tokens set small enough to fit; code wraps only at spaces.
_CSS = """
@page{size:A4;margin:10mm}
*{box-sizing:border-box}
body{font-family:Helvetica,Arial,sans-serif;margin:0;color:#151515;font-size:9pt}
h1{font-size:14pt;margin:0 0 3mm}
.warning{border:2px solid #a30000;background:#faeae8;padding:2mm 3mm;margin:0 0 3mm;font-weight:bold}
.cards{display:block}
.card{border:1px solid #000;border-top:4px solid #ee0000;padding:4mm 5mm;margin:0 0 5mm;height:130mm;
  overflow:hidden;break-inside:avoid;page-break-inside:avoid;position:relative}
.card h2{font-size:15pt;margin:0 0 2mm}
.qr{position:absolute;top:4mm;right:5mm;width:32mm;text-align:center;font-size:7pt;color:#4d4d4d}
.qr svg{width:32mm;height:32mm;display:block}
.sign-in{margin-right:38mm}
.sign-in dt{font-weight:bold;margin-top:1.5mm}.sign-in dd{margin:0}
code,.mono{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:8pt;white-space:nowrap}
table.keys{border-collapse:collapse;margin-top:2mm;width:100%}
table.keys th,table.keys td{text-align:left;padding:0.3mm 2mm 0.3mm 0;vertical-align:top;font-size:8pt}
table.keys th{font-weight:normal;color:#4d4d4d;width:18mm}
table.keys td.model{font-weight:bold;padding-top:1.5mm;white-space:nowrap;border-top:1px solid #c7c7c7}
pre{background:#f0f0f0;padding:2mm;margin:2mm 0 0;font-size:7.5pt;white-space:pre-wrap;word-break:normal;
  overflow-wrap:normal;font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace}
@media screen{body{margin:10mm;max-width:200mm}}
@media print{.noprint{display:none}}
"""

def loopback_urls(urls: list[str]) -> list[str]:
    """The URLs whose host is this computer: attendees' own machines cannot reach them."""
    from urllib.parse import urlsplit

    out = []
    for url in dict.fromkeys(u for u in urls if u):
        host = (urlsplit(url).hostname or "").lower()
        if host == "localhost" or host.startswith("127.") or host in ("::1", "0.0.0.0"):
            out.append(url)
    return out


def _example(model: str, endpoint: str, key: str, kind: str) -> str:
    """One OpenAI-SDK call for the card's first model (the portal's Examples page has the rest)."""
    if kind == "embedding":
        call = f'client.embeddings.create(model="{model}", input="Hello")'
    elif kind == "completion":
        call = f'client.completions.create(model="{model}", prompt="Hello", max_tokens=16)'
    else:
        call = (f'client.chat.completions.create(model="{model}",\n    messages=[{{"role": "user", '
                f'"content": "Hello"}}])')
    sdk = (f'from openai import OpenAI\nclient = OpenAI(base_url="{endpoint}/v1",\n'
           f'                api_key="{key}")\n{call}')
    return f"<pre>{html.escape(sdk)}</pre>"


def _qr(url: str) -> str:
    svg = segno.make(url, error="m").svg_inline(scale=3, omitsize=True) if url else ""
    return f'<div class="qr">{svg}developer portal</div>'


def render_html(title: str, cards: list[Card]) -> str:
    parts = []
    for card in cards:
        rows = "".join(
            f'<tr><td class="model" colspan="2">{html.escape(model)}</td></tr>'
            f"<tr><th>Endpoint</th><td><code>{html.escape(endpoint)}/v1</code></td></tr>"
            f"<tr><th>API key</th><td><code>{html.escape(key)}</code></td></tr>"
            for model, endpoint, key, _kind in card.keys)
        example = _example(*card.keys[0]) if card.keys else ""
        parts.append(
            f'<section class="card" id="card-{html.escape(card.username)}">{_qr(card.portal_url)}'
            f'<h2>{html.escape(card.username)}</h2><dl class="sign-in">'
            f"<dt>Developer portal</dt><dd><code>{html.escape(card.portal_url)}</code> → Sign in with SSO</dd>"
            f"<dt>Username</dt><dd><code>{html.escape(card.username)}</code></dd>"
            f"<dt>Temporary password</dt><dd><code>{html.escape(card.password)}</code> — you choose your own at the "
            f"first sign-in</dd></dl>"
            f'<table class="keys"><tbody>{rows}</tbody></table>'
            f"<p>Send the key as <code>Authorization: Bearer KEY</code>. With the OpenAI SDK:</p>{example}</section>")
    urls = [c.portal_url for c in cards] + [endpoint for c in cards for _m, endpoint, _k, _kind in c.keys]
    local = loopback_urls(urls)
    warning = (f'<p class="warning" id="loopback-warning">These URLs point at the trainer\'s own computer '
               f"({html.escape(', '.join(sorted({_host(u) for u in local})))}): attendees' machines cannot reach "
               "them. Run the sandbox or the kit on an address they can reach before printing.</p>") if local else ""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>{warning}"
            f'<p class="noprint">Print this page: two cards per A4 page; cut along the borders.</p>'
            f'<div class="cards">{"".join(parts)}</div></body></html>')


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc


def write_handout(out_dir: Path, title: str, cards: list[Card]) -> tuple[Path, Path]:
    csv_path, html_path = out_dir / "attendees.csv", out_dir / "handout.html"
    write_csv(csv_path, cards)
    _write_private(html_path, render_html(title, cards))
    return csv_path, html_path


def save_state(out_dir: Path, name: str, data: dict) -> Path:
    """Non-secret workshop state (prefix, models, the board's baseline) as JSON."""
    path = out_dir / name
    _write_private(path, json.dumps(data, indent=2, sort_keys=True))
    return path


def load_state(out_dir: Path, name: str) -> dict:
    path = out_dir / name
    return json.loads(path.read_text()) if path.exists() else {}
