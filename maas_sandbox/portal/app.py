"""The sandbox developer portal: renders the PUBLISHED CMS content with python-liquid against 3scale-shaped
drops, and implements the portal actions the pages use (3scale's paths): sign up, log in/out (password and
SSO), choose a service, create an application on a published plan, show/regenerate the key, usage.

Every POST carries the session's CSRF token as `authenticity_token` (the layout's `{% csrf %}` publishes it
as meta tags, as Rails does); a missing or wrong token is refused with 422, like Rails' InvalidAuthenticityToken.

Layout: the routes are module-level routers (`auth_routes`, `application_routes`, `page_routes`, the last
ending in the CMS catch-all); what they need comes from `deps` (the renderer, session, CSRF check and
signed-in developer), which reads the state this function attaches to `app.state`.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from maas_sandbox.context import Sandbox
from maas_sandbox.login_guard import CLIENT_SETTINGS, BruteForce, BruteForceSettings
from maas_sandbox.portal import application_routes, auth_routes, page_routes
from maas_sandbox.portal.deps import Answered, CsrfRejected, get_portal
from maas_sandbox.portal.render import Portal
from maas_sandbox.security_headers import PORTAL as PORTAL_HEADERS
from maas_sandbox.security_headers import SecurityHeaders

log = logging.getLogger("maas_sandbox.portal")


def create_portal_app(sandbox: Sandbox) -> FastAPI:
    app = FastAPI(title="Developer portal (maas sandbox)", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.portal = Portal(sandbox)
    # porta has no login throttling of its own (bot protection is reCAPTCHA); the sandbox serves every gateway
    # from the same loop, so it guards its portal with Keycloak's brute-force arithmetic and defaults.
    app.state.login_guards = (BruteForce(BruteForceSettings()), BruteForce(CLIENT_SETTINGS))
    app.add_middleware(SecurityHeaders, headers=PORTAL_HEADERS)
    app.middleware("http")(site_access_code)
    app.add_exception_handler(CsrfRejected, csrf_rejected)
    app.add_exception_handler(Answered, answered)
    app.add_exception_handler(Exception, log_unexpected)
    for module in (auth_routes, application_routes, page_routes):  # page_routes ends in the catch-all
        app.include_router(module.router)
    return app


async def csrf_rejected(_request: Request, _exc: Exception) -> Response:
    return PlainTextResponse("Invalid authenticity token", status_code=422)


async def answered(_request: Request, exc: Exception) -> Response:
    return exc.response  # type: ignore[attr-defined]


async def log_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("portal: %s %s failed", request.method, request.url.path)
    return PlainTextResponse("Internal Server Error", status_code=500)


async def site_access_code(request: Request, call_next: Any) -> Response:
    """3scale asks for the provider's site access code before showing anything (when one is set)."""
    portal = get_portal(request)
    provider = portal.sandbox.store.first("provider") or {}
    code = provider.get("site_access_code")
    path = request.url.path
    if not code or path.startswith(("/access_code", "/dev-portal-assets/")):
        return await call_next(request)
    session = portal.sessions.load(request)
    if session.get("access_code") == code:
        return await call_next(request)
    html = (
        '<h1>Access code required</h1><form method="post" action="/access_code">'
        f'<input type="hidden" name="authenticity_token" value="{session["csrf"]}">'
        f'<input type="hidden" name="return_to" value="{quote(path)}">'
        '<label>Access code <input type="password" name="access_code" id="access_code"></label>'
        '<button type="submit">Enter</button></form>'
    )
    return portal.simple_page(session, "Access code", html, 403)
