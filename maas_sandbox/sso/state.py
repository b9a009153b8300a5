"""The SSO app's state and what its routes depend on: one `Sso` on `app.state.sso` (the sandbox, the signed
login-flow serializer, the in-memory authorization codes, the per-realm brute-force guards), and the master
bearer check the admin REST routers attach once (`dependencies=[Depends(require_master_bearer)]`)."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response
from itsdangerous import URLSafeTimedSerializer
from joserfc import jwt

from maas_sandbox.context import Sandbox
from maas_sandbox.login_guard import BruteForce
from maas_sandbox.sso.keys import signing_key

Obj = dict[str, Any]


@dataclass
class Sso:
    sandbox: Sandbox
    forms: URLSafeTimedSerializer  # the login flow's signed `request` state
    codes: dict[str, Obj] = field(default_factory=dict)  # authorization codes: single use, in memory
    guards: dict[str, tuple[BruteForce, BruteForce]] = field(default_factory=dict)  # per realm: users, clients
    used_actions: dict[str, float] = field(default_factory=dict)  # required-action form ids used → expiry

    @classmethod
    def open(cls, sandbox: Sandbox) -> Sso:
        return cls(sandbox, URLSafeTimedSerializer(_form_secret(sandbox), salt="sso-login"))

    def issuer(self, realm: str) -> str:
        return f"{self.sandbox.sso_url}/realms/{realm}"

    def oidc(self, realm: str, endpoint: str) -> str:
        return f"{self.issuer(realm)}/protocol/openid-connect/{endpoint}"

    def now(self) -> int:
        return int(self.sandbox.clock.time())

    def sign(self, claims: Obj) -> str:
        key = signing_key(self.sandbox)
        return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key)


def get_sso(request: Request) -> Sso:
    return request.app.state.sso


async def sso_dep(request: Request) -> Sso:  # async: FastAPI runs plain dependencies in a worker thread
    return get_sso(request)


SsoDep = Annotated[Sso, Depends(sso_dep)]


class Unauthorized(Exception):
    """No master bearer token on an admin REST call: Keycloak's 401."""


async def unauthorized(_request: Request, _exc: Exception) -> Response:
    return JSONResponse({"error": "HTTP 401 Unauthorized"}, status_code=401)


async def require_master_bearer(request: Request) -> None:
    """The admin REST API's check: the master token as bearer (the sandbox's stand-in for an admin-cli token)."""
    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else ""
    master = get_sso(request).sandbox.master_token
    if not (token and hmac.compare_digest(token.encode(), master.encode())):
        raise Unauthorized()


def _form_secret(sandbox: Sandbox) -> str:
    secret = sandbox.store.kv_get("sso_form_secret")
    if secret is None:
        secret = secrets.token_hex(32)
        sandbox.store.kv_set("sso_form_secret", secret)
    return secret
