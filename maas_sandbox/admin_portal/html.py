"""Page layout and small HTML builders (every value escaped; no script, no external asset)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#151515}header{background:#151515;color:#fff;padding:.6em 1em}
header a{color:#fff;margin-right:1.2em;text-decoration:none}main{padding:1em 1.5em}nav.tabs a{margin-right:1em}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #d2d2d2;padding:.25em .6em;text-align:left}
th{background:#f0f0f0}.note{color:#6a6e73}code{background:#f0f0f0;padding:0 .2em}svg{margin:.5em 0 1.5em}
"""
MENU = (("Dashboard", "/p/admin/dashboard"), ("Products", "/apiconfig/services"),
        ("Backends", "/p/admin/backend_apis"), ("Accounts", "/buyers/accounts"),
        ("Developer Portal", "/p/admin/cms"), ("Account settings", "/p/admin/account/edit"))


def e(value: Any) -> str:
    return escape("" if value is None else str(value))


def a(href: str, text: Any) -> str:
    return f'<a href="{e(href)}">{e(text)}</a>'


def page(title: str, body: str, *, csrf: str | None = None, tabs: Sequence[tuple[str, str]] = ()) -> str:
    menu = "".join(a(href, label) for label, href in MENU)
    signout = (f'<form method="post" action="/p/logout" style="display:inline;float:right">'
               f'<input type="hidden" name="authenticity_token" value="{e(csrf)}">'
               f'<button type="submit">Sign out</button></form>') if csrf else ""
    nav = f'<nav class="tabs">{" · ".join(a(href, label) for label, href in tabs)}</nav>' if tabs else ""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)} | 3scale admin (sandbox)</title>"
            f"<style>{STYLE}</style></head><body><header>{menu}{signout}</header><main>"
            f"<p class='note'>maas sandbox · read-only admin portal (the real 3scale admin portal edits these)</p>"
            f"<h1>{e(title)}</h1>{nav}{body}</main></body></html>")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, raw: Sequence[int] = ()) -> str:
    """Rows of cells; columns listed in `raw` are pre-built HTML (links), the others are escaped."""
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c if i in raw else e(c)}</td>" for i, c in enumerate(row)) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>" if body else "<p>None.</p>"


def fields(pairs: Iterable[tuple[str, Any]]) -> str:
    return table(("field", "value"), pairs)


def mask(key: Any) -> str:
    text = str(key or "")
    return "****" + text[-4:] if len(text) >= 16 else "****"
