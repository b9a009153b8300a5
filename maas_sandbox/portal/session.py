"""Portal sessions: one itsdangerous-signed cookie (HttpOnly, SameSite=Lax) holding the user id, CSRF token,
flash messages and the pending SSO login. The signing key lives in the state dir (0600), created once."""

from __future__ import annotations

import os
import secrets
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from maas_sandbox.context import Sandbox

COOKIE = "maas_portal_session"
MAX_AGE = 12 * 3600


def _secret(sandbox: Sandbox) -> str:
    path = sandbox.state.path / "portal_session.key"
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


class Sessions:
    def __init__(self, sandbox: Sandbox) -> None:
        self.serializer = URLSafeTimedSerializer(_secret(sandbox), salt="maas-portal-session")

    def load(self, request: Request) -> dict[str, Any]:
        raw = request.cookies.get(COOKIE)
        data: dict[str, Any] = {}
        if raw:
            try:
                loaded = self.serializer.loads(raw, max_age=MAX_AGE)
                if isinstance(loaded, dict):
                    data = loaded
            except BadSignature:
                data = {}
        data.setdefault("csrf", secrets.token_urlsafe(32))
        return data

    def save(self, response: Response, data: dict[str, Any]) -> None:
        response.set_cookie(
            COOKIE, self.serializer.dumps(data), max_age=MAX_AGE, httponly=True, samesite="lax", path="/"
        )


def safe_return_to(value: Any) -> str:
    """Only relative, same-site paths: `/x` but never `//host`, `/\\host`, schemes or control characters."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(c in value for c in "\\\r\n\t") or ":" in value.split("?", 1)[0]:
        return "/"
    return value
