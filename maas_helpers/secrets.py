"""Masking of tokens, keys and client secrets in everything the helpers print or raise, and the generated
secrets the kit keeps in 0600 files of the state dir."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pydantic is not imported just to mask a string (the CLI's start stays light)
    from pydantic import SecretStr

_QUERY_SECRET = re.compile(r"((?:access_token|provider_key|user_key|client_secret|token)=)[^&\s'\"]+", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+")


def _reveal(value: str | SecretStr) -> str:
    """The raw text of a str or a pydantic SecretStr (duck-typed: no pydantic import needed)."""
    get = getattr(value, "get_secret_value", None)
    return str(get()) if callable(get) else str(value)


def mask(value: str | SecretStr | None) -> str:
    """A printable stand-in: the last 4 characters of long secrets (enough to tell two apart), else stars."""
    if value is None:
        return ""
    raw = _reveal(value)
    if len(raw) >= 16:
        return "****" + raw[-4:]
    return "****"


def mask_text(text: str, secrets: Iterable[str | SecretStr | None] = ()) -> str:
    """`text` with every known secret, `access_token=…`-style query value and Bearer token masked."""
    for secret in secrets:
        raw = None if secret is None else _reveal(secret)
        if raw and len(raw) >= 4:
            text = text.replace(raw, mask(raw))
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + "****", text)
    return _BEARER.sub(lambda m: m.group(1) + "****", text)


def generated_secret(path: Path, nbytes: int = 32) -> str:
    """The secret kept in `path`: generated on first use into a new 0600 file (never printed), read after."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value
