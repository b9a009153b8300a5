"""Portal sessions: one itsdangerous-signed cookie (HttpOnly, SameSite=Lax) holding the user id, CSRF token,
flash messages and the pending SSO login. The signing key lives in the state dir (0600), created once.

A signed-in session also carries a random session id that must exist server-side (the store's kv table, so
restarts keep people signed in): logout deletes it, so a copy of the cookie is worthless afterwards, as
porta's server-side user sessions (app/models/user_session.rb, revoked at logout) are."""

from __future__ import annotations

import json
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
        self.store = sandbox.store
        self.clock = sandbox.clock

    def _key(self, sid: Any) -> str:
        return f"portal_session:{sid}"

    def start(self, data: dict[str, Any], user_id: int) -> None:
        """Sign `data` in as `user_id` under a new server-side session id."""
        sid = secrets.token_urlsafe(32)
        value = json.dumps({"user_id": user_id, "expires": self.clock.time() + MAX_AGE})
        # raw SQL, not kv_set: a sign-in is not a configuration change (no generation bump, no gateway rebuild)
        self.store.execute("INSERT OR REPLACE INTO kv(key, value) VALUES (?, ?)", (self._key(sid), value))
        self.store.execute(  # expired sessions go when someone signs in: the table stays as small as the live set
            "DELETE FROM kv WHERE key LIKE 'portal_session:%' AND json_extract(value, '$.expires') < ?",
            (self.clock.time(),),
        )
        data["user_id"], data["sid"] = user_id, sid

    def end(self, data: dict[str, Any]) -> None:
        sid = data.get("sid")
        if isinstance(sid, str):
            self.store.execute("DELETE FROM kv WHERE key=?", (self._key(sid),))

    def _live(self, data: dict[str, Any]) -> bool:
        sid = data.get("sid")
        found = self.store.kv_get(self._key(sid)) if isinstance(sid, str) else None
        return (isinstance(found, dict) and found.get("user_id") == data.get("user_id")
                and float(found.get("expires", 0)) > self.clock.time())

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
        if "user_id" in data and not self._live(data):  # signed out (or expired) server-side
            data.pop("user_id", None)
            data.pop("sid", None)
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
