"""Admin-portal sessions: a signed cookie (HttpOnly, SameSite=Strict) with a CSRF token; sign-in with the admin
access token or the `admin` user's password (the sandbox's system-seed-style credentials, 0600 in the state dir).

The cookie names a server-side session (porta's `user_sessions`, revoked at sign-out): signing out or the
8 hours passing ends it, so a replayed cookie opens nothing. Sign-in goes through the login guard the developer
portal and the SSO use (maas_sandbox/login_guard.py: Keycloak's brute-force arithmetic per user and per client
address, every refusal answered after a second)."""

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
from maas_sandbox.login_guard import CLIENT_SETTINGS, BruteForce, BruteForceSettings
from maas_sandbox.portal.session import safe_return_to

SESSIONS_KV = "admin_portal_sessions"
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


def _live_sessions(sandbox: Sandbox) -> dict[str, float]:
    now = sandbox.clock.time()
    stored = sandbox.store.kv_get(SESSIONS_KV) or {}
    return {sid: expires for sid, expires in stored.items() if expires > now}


def start_session(sandbox: Sandbox) -> dict[str, Any]:
    """A new server-side session (no fixation of the old cookie's) and the cookie data naming it."""
    sid = secrets.token_urlsafe(32)
    live = _live_sessions(sandbox)
    live[sid] = sandbox.clock.time() + MAX_AGE
    sandbox.store.kv_set(SESSIONS_KV, live)
    return {"user": "admin", "sid": sid, "csrf": secrets.token_urlsafe(32)}


def end_session(sandbox: Sandbox, session: dict[str, Any]) -> None:
    live = _live_sessions(sandbox)
    live.pop(str(session.get("sid")), None)
    sandbox.store.kv_set(SESSIONS_KV, live)


def signed_in(sandbox: Sandbox, session: dict[str, Any]) -> bool:
    return session.get("user") == "admin" and str(session.get("sid")) in _live_sessions(sandbox)


def login_guards(sandbox: Sandbox) -> tuple[BruteForce, BruteForce]:
    """Per user (`admin`, whichever credential is tried) and per client address, as the portal's."""
    guards = sandbox.extras.get("admin_portal_guards")
    if guards is None:
        guards = sandbox.extras["admin_portal_guards"] = (BruteForce(BruteForceSettings()), BruteForce(CLIENT_SETTINGS))
    return guards


def require_user(sandbox: Sandbox, request: Request) -> dict[str, Any]:
    session = load(sandbox, request)
    if not signed_in(sandbox, session):
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
