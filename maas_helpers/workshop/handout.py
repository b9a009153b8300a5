"""The handout: `attendees.csv` and a printable `handout.html` (one card per attendee, QR code of the portal).

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


_CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:1cm;color:#151515}
h1{font-size:16pt}.cards{display:flex;flex-wrap:wrap;gap:8mm}
.card{border:1px solid #6a6e73;border-top:4px solid #ee0000;padding:5mm;width:85mm;break-inside:avoid;
  page-break-inside:avoid;font-size:9pt}
.card h2{font-size:13pt;margin:0 0 2mm}.qr{float:right;width:28mm;height:28mm}
.qr svg{width:100%;height:100%}dt{font-weight:bold;margin-top:1.5mm}dd{margin:0;word-break:break-all}
pre{background:#f0f0f0;padding:2mm;font-size:7pt;white-space:pre-wrap;word-break:break-all}
@media print{body{margin:0}.noprint{display:none}.card{border-color:#000}}
@page{size:A4;margin:10mm}
"""


def _snippets(model: str, endpoint: str, key: str, kind: str) -> str:
    if kind == "embedding":
        path, body = "embeddings", f'{{"model": "{model}", "input": "Hello"}}'
        call = f'client.embeddings.create(model="{model}", input="Hello")'
    elif kind == "completion":
        path, body = "completions", f'{{"model": "{model}", "prompt": "Hello", "max_tokens": 16}}'
        call = f'client.completions.create(model="{model}", prompt="Hello", max_tokens=16)'
    else:
        path, body = "chat/completions", f'{{"model": "{model}", "messages": [{{"role": "user", "content": "Hello"}}]}}'
        call = f'client.chat.completions.create(model="{model}", messages=[{{"role": "user", "content": "Hello"}}])'
    chat = (f"curl {endpoint}/v1/{path} -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' "
            f"-d '{body}'")
    sdk = f'from openai import OpenAI\nclient = OpenAI(base_url="{endpoint}/v1", api_key="{key}")\n{call}'
    return f"<pre>{html.escape(chat)}</pre><pre>{html.escape(sdk)}</pre>"


def _qr(url: str) -> str:
    svg = segno.make(url, error="m").svg_inline(scale=3, omitsize=True) if url else ""
    return f'<div class="qr" title="developer portal">{svg}</div>'


def render_html(title: str, cards: list[Card]) -> str:
    parts = []
    for card in cards:
        models = "".join(
            f"<dt>{html.escape(model)}</dt><dd>endpoint {html.escape(endpoint)}<br>key "
            f"<code>{html.escape(key)}</code></dd>{_snippets(model, endpoint, key, kind)}"
            for model, endpoint, key, kind in card.keys)
        parts.append(
            f'<section class="card" id="card-{html.escape(card.username)}">{_qr(card.portal_url)}'
            f"<h2>{html.escape(card.username)}</h2><dl><dt>Developer portal</dt><dd>{html.escape(card.portal_url)}"
            f"</dd><dt>Username</dt><dd>{html.escape(card.username)}</dd><dt>Temporary password</dt>"
            f"<dd><code>{html.escape(card.password)}</code> (you choose a new one at first sign-in)</dd>"
            f"{models}</dl></section>")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
            f'<p class="noprint">Print this page (one card per attendee) and cut along the borders.</p>'
            f'<div class="cards">{"".join(parts)}</div></body></html>')


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
