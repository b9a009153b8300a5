"""A Keycloak-shaped OpenID Connect provider for the sandbox (authorization code flow with PKCE S256 only).

URL layout as Keycloak ≥ 17: `/realms/{realm}/.well-known/openid-configuration` and
`/realms/{realm}/protocol/openid-connect/{auth,token,userinfo,certs,logout}`; realms are imported with
Keycloak's admin REST call `POST /admin/realms` (master token as bearer). Codes live in memory for 60 s and
are single use; redirect URIs match exactly (no wildcards); PKCE is required for every client.

Layout: module-level routers — `admin_rest` (realms and users, the master bearer checked once as the
router's dependency), `login_routes` (the browser's login flow), `oidc_routes` (what a relying party calls);
their state is the `Sso` on `app.state.sso` (sso/state.py), reached through the `SsoDep` dependency.
"""

from __future__ import annotations

from fastapi import FastAPI

from maas_sandbox.context import Sandbox
from maas_sandbox.security_headers import SSO as SSO_HEADERS
from maas_sandbox.security_headers import SecurityHeaders
from maas_sandbox.sso import admin_rest, login_routes, oidc_routes
from maas_sandbox.sso.state import Sso, Unauthorized, unauthorized


def create_sso_app(sandbox: Sandbox) -> FastAPI:
    app = FastAPI(title="SSO (Keycloak-shaped, maas sandbox)", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(SecurityHeaders, headers=SSO_HEADERS)
    app.state.sso = Sso.open(sandbox)
    app.add_exception_handler(Unauthorized, unauthorized)
    for module in (admin_rest, oidc_routes, login_routes):
        app.include_router(module.router)
    return app
