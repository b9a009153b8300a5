"""Where APIcast reads the user_key (reference §3): query (or urlencoded form body), header, Authorization."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from urllib.parse import parse_qsl

FORM = "application/x-www-form-urlencoded"


def from_query(query: str, name: str) -> str | None:
    """First occurrence, name compared case-insensitively (nginx $arg_ lookup)."""
    if not query:
        return None
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key.lower() == name:
            return value
    return None


def from_form(method: str, headers: Mapping[str, str], body: bytes, name: str) -> str | None:
    if method not in ("POST", "PUT", "PATCH") or not body:
        return None
    if not headers.get("content-type", "").lower().startswith(FORM):
        return None
    return from_query(body.decode("utf-8", "replace"), name)


def header_name(name: str) -> str:
    """Headers are looked up lower-cased with `_` and `-` equivalent."""
    return name.lower().replace("_", "-")


def from_authorization(value: str | None) -> str | None:
    """Basic user, else Basic password (split at the last colon), else the Bearer token."""
    if not value:
        return None
    if value.startswith("Basic "):
        try:
            decoded = base64.b64decode(value[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return None
        user, colon, password = decoded.rpartition(":")
        if not colon:
            return decoded or None
        return user or password or None
    if value.startswith("Bearer "):
        return value[7:].strip() or None
    return None


def strip_query(query: str, name: str) -> str:
    """The query string without the credential parameter (raw pieces kept as sent)."""
    if not query:
        return query
    kept = []
    for piece in query.split("&"):
        key = piece.split("=", 1)[0]
        if key.lower() == name or (key and _unquote_lower(key) == name):
            continue
        kept.append(piece)
    return "&".join(kept)


def _unquote_lower(key: str) -> str:
    from urllib.parse import unquote_plus

    return unquote_plus(key).lower()
