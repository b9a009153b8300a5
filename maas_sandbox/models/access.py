"""Only the gateway reaches the model: the sandbox's stand-in for the NetworkPolicy the kit applies on a cluster.

APIcast sends each product's proxy `secret_token` upstream as `X-3scale-proxy-secret-token` (apicast's
`proxy_set_header X-3scale-proxy-secret-token $secret_token`, gateway/conf.d/apicast.conf). Run with `--state-dir`,
the model server answers a model request only when that header carries the secret token of a deployed product
configuration; the sandbox's gateway writes their SHA-256 digests to `<state dir>/model-access.json` (0600) whenever
its route table changes (before it forwards the first request of a new configuration). This gate `stat`s the file
when a request carries a token it does not know (a product deployed a moment ago is accepted at once) and at most
every RECHECK_S otherwise (a deleted product's token stops working within that), re-reading it only when it
changed: a request costs one hash and a set lookup. `GET /health` stays open, as
the kubelet's probes reach a pod whatever the NetworkPolicy says. The `/sandbox/*` test endpoints (the request log,
which shows prompts and headers) need the sandbox's admin token as a bearer token; without `--state-dir` they are
not served at all and the model API is open (a model server started by hand on loopback, for its own tests).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import error_response

ACCESS_FILE = "model-access.json"
CREDENTIALS_FILE = "credentials.json"
SECRET_HEADER = b"x-3scale-proxy-secret-token"
OPEN_PATHS = frozenset({"/health"})
DEBUG_PREFIX = "/sandbox/"
RECHECK_S = 0.25  # how stale the accepted set may get for a token it holds (an unknown token re-reads at once)
log = logging.getLogger("maas_sandbox.models")


def digest(token: str | bytes) -> str:
    raw = token.encode("latin-1") if isinstance(token, str) else token
    return hashlib.sha256(raw).hexdigest()


def write_access_file(state_dir: Path, tokens: set[str]) -> bool:
    """Write the digests of the accepted secret tokens (0600, atomic); False when the file already holds them."""
    path = Path(state_dir) / ACCESS_FILE
    body = json.dumps({"sha256": sorted(digest(t) for t in tokens)})
    try:
        if path.read_text() == body:
            return False
    except OSError:
        pass
    tmp = path.with_name(f".{ACCESS_FILE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(body)
    os.replace(tmp, path)
    return True


class ModelAccess:
    """Which secret tokens open the model API, and the admin token that opens `/sandbox/*`."""

    def __init__(self, state_dir: Path | None) -> None:
        self.state_dir = Path(state_dir) if state_dir else None
        self.locked = self.state_dir is not None
        self.allowed: frozenset[str] = frozenset()
        self._seen: tuple[int, int] | None = None
        self._path = str(self.state_dir / ACCESS_FILE) if self.state_dir is not None else ""
        self._next_check = 0.0
        self.admin_token: bytes | None = None
        if self.state_dir is not None:
            try:
                creds = json.loads((self.state_dir / CREDENTIALS_FILE).read_text())
                self.admin_token = str(creds["admin_token"]).encode()
            except (OSError, ValueError, KeyError):
                log.warning("no admin token in %s: /sandbox/* endpoints are refused", self.state_dir)
            self._reload()

    def _reload(self) -> None:
        try:
            st = os.stat(self._path)
        except OSError:
            self.allowed, self._seen = frozenset(), None
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._seen:
            return
        try:
            with open(self._path) as fh:
                self.allowed = frozenset(json.load(fh).get("sha256") or ())
        except (OSError, ValueError):
            return  # a half-written file is replaced atomically; keep the last good set
        self._seen = stamp

    def token_ok(self, token: bytes | None) -> bool:
        if not self.locked:
            return True
        if not token:
            return False
        now = time.monotonic()
        if now >= self._next_check:  # a deleted product's token stops working within RECHECK_S
            self._next_check = now + RECHECK_S
            self._reload()
        value = digest(token)
        if value in self.allowed:
            return True
        self._reload()  # a product deployed a moment ago: the gateway rewrote the file before forwarding
        return value in self.allowed

    def admin_ok(self, authorization: bytes | None) -> bool:
        if self.admin_token is None or not authorization:
            return False
        scheme, _, given = authorization.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self.admin_token)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class AccessGate:
    """ASGI middleware in front of everything (refused requests are neither served nor recorded)."""

    def __init__(self, app: ASGIApp, access: ModelAccess) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith(DEBUG_PREFIX):
            if not self.access.locked:
                reply = error_response(404, f"Invalid URL ({scope['method']} {path})", None, "not_found")
            elif self.access.admin_ok(_header(scope, b"authorization")):
                await self.app(scope, receive, send)
                return
            else:
                reply = error_response(401, "The sandbox request log needs the sandbox admin token "
                                       "(Authorization: Bearer $MAAS_ADMIN_TOKEN).", None, "invalid_api_key",
                                       "authentication_error", {"WWW-Authenticate": "Bearer"})
            await reply(scope, receive, send)
            return
        if self.access.token_ok(_header(scope, SECRET_HEADER)):
            await self.app(scope, receive, send)
            return
        reply = error_response(
            403, "Direct calls to the model server are refused: call the model through its 3scale gateway "
            "(the product's production endpoint, with your API key).", None, "direct_access_refused",
            "permission_error")
        await reply(scope, receive, send)
