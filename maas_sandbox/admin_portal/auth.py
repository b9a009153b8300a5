"""Admin-portal sessions: a signed cookie (HttpOnly, SameSite=Strict) with a CSRF token; sign-in with the admin
access token or the `admin` user's password (the sandbox's system-seed-style credentials, 0600 in the state dir)."""

from __future__ import annotations

import hmac
import os
import secrets
from typing import Any
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from maas_sandbox.context import Sandbox
from maas_sandbox.portal.session import safe_return_to

COOKIE = "maas_admin_portal_session"
MAX_AGE = 8 * 3600
LOGIN = "/p/login"


class NotSignedIn(Exception):
    """Raised by a page when there is no valid session; answered with a redirect to the sign-in page."""

    def __init__(self, return_to: str) -> None:
        self.return_to = return_to


def _serializer(sandbox: Sandbox) -> URLSafeTimedSerializer:
    cached = sandbox.extras.get("admin_portal_serializer")
    if cached is None:
        path = sandbox.state.path / "admin_portal_session.key"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        except FileExistsError:
            pass
        cached = URLSafeTimedSerializer(path.read_text().strip(), salt="maas-admin-portal")
        sandbox.extras["admin_portal_serializer"] = cached
    return cached


def load(sandbox: Sandbox, request: Request) -> dict[str, Any]:
    data: dict[str, Any] = {}
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            loaded = _serializer(sandbox).loads(raw, max_age=MAX_AGE)
            data = loaded if isinstance(loaded, dict) else {}
        except BadSignature:
            data = {}
    data.setdefault("csrf", secrets.token_urlsafe(32))
    return data


def save(sandbox: Sandbox, response: Response, data: dict[str, Any]) -> Response:
    response.set_cookie(COOKIE, _serializer(sandbox).dumps(data), max_age=MAX_AGE, httponly=True,
                        samesite="strict", path="/")
    return response


def require_user(sandbox: Sandbox, request: Request) -> dict[str, Any]:
    session = load(sandbox, request)
    if session.get("user") != "admin":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise NotSignedIn(target)
    return session


def login_redirect(exc: NotSignedIn) -> RedirectResponse:
    return RedirectResponse(f"{LOGIN}?return_to={quote(safe_return_to(exc.return_to), safe='/')}", status_code=302)


def credentials_ok(sandbox: Sandbox, form: Any) -> bool:
    """The admin access token, or user `admin` with the generated password (compared in constant time)."""
    token = str(form.get("access_token") or "")
    if token:
        return hmac.compare_digest(token.encode(), sandbox.admin_token.encode())
    username, password = str(form.get("username") or ""), str(form.get("password") or "")
    return hmac.compare_digest(username.encode(), b"admin") & hmac.compare_digest(
        password.encode(), sandbox.admin_password.encode())


def csrf_ok(session: dict[str, Any], form: Any) -> bool:
    token = str(form.get("authenticity_token") or "")
    return bool(token) and hmac.compare_digest(token, session["csrf"])
