"""The sandbox developer portal: renders the PUBLISHED CMS content with python-liquid against 3scale-shaped
drops, and implements the portal actions the pages use (3scale's paths): sign up, log in/out (password and
SSO), choose a service, create an application on a published plan, show/regenerate the key, usage.

Every POST carries the session's CSRF token as `authenticity_token` (the layout's `{% csrf %}` publishes it
as meta tags, as Rails does); a missing or wrong token is refused with 422, like Rails' InvalidAuthenticityToken.
"""

from __future__ import annotations

import hmac
import logging
import mimetypes
import secrets
from datetime import UTC
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from liquid.exceptions import LiquidError
from markupsafe import Markup, escape

from maas_sandbox.admin.conventions import ApiError
from maas_sandbox.admin.domain_accounts import (
    check_plan_is_unique,
    create_application,
    regenerate_user_key,
    signup,
)
from maas_sandbox.context import Sandbox
from maas_sandbox.login_guard import (
    CLIENT_SETTINGS,
    BruteForce,
    BruteForceSettings,
    hash_off_loop,
    refused,
    verify_off_loop,
)
from maas_sandbox.portal import drops
from maas_sandbox.portal.assets import ACTIVE_DOCS_JS, SWAGGER_BASE, SWAGGER_DIR, SWAGGER_FILES
from maas_sandbox.portal.liquid_env import make_environment, prepare_layout
from maas_sandbox.portal.session import Sessions, safe_return_to
from maas_sandbox.portal.sso_login import SsoError, finish_sso, start_sso
from maas_sandbox.security_headers import PORTAL as PORTAL_HEADERS
from maas_sandbox.security_headers import SecurityHeaders

Obj = dict[str, Any]
log = logging.getLogger("maas_sandbox.portal")


class Portal:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.sessions = Sessions(sandbox)
        self.env = make_environment(self.partial_source)

    # -- CMS lookups (published content only) -----------------------------------------------------
    def _published(self, **where: Any) -> Obj | None:
        for template in self.sandbox.store.list("cms_template", **where):
            if template.get("published") is not None:
                return template
        return None

    def partial_source(self, name: str) -> str | None:
        for kind in ("partial", "builtin_partial"):
            found = self._published(type=kind, system_name=name)
            if found is not None:
                return found["published"]
        return None

    def page_by_path(self, path: str) -> Obj | None:
        return self._published(type="page", path=path)

    def builtin(self, system_name: str) -> Obj | None:
        return self._published(type="builtin_page", system_name=system_name)

    def file_by_path(self, path: str) -> Obj | None:
        return self.sandbox.store.first("cms_file", path=path)

    # -- rendering -----------------------------------------------------------------------------------
    def base_context(self, session: Obj, title: str | None) -> Obj:
        user = self.current_user(session)
        current_user, current_account, apps = drops.account_drops(self.sandbox, user)
        now = self.sandbox.clock.now().astimezone(UTC)
        return {
            "provider": drops.provider_drop(self.sandbox),
            "site": drops.site_drop(self.sandbox),
            "urls": drops.URLS,
            "current_user": current_user,
            "current_account": current_account,
            "applications": apps,
            "flash": {"messages": session.pop("flash", [])},
            "page": {"title": title or ""},
            "today": {"year": now.year, "month": now.month, "day": now.day},
            "_csrf_token": session["csrf"],
        }

    def render(self, template: Obj, session: Obj, extra: Obj | None = None, status: int = 200) -> Response:
        flags: Obj = {}
        ctx = {**self.base_context(session, template.get("title")), **(extra or {}), "_response_flags": flags}
        source = template["published"] or ""
        layout = (
            self.sandbox.store.get("cms_template", template.get("layout_id")) if template.get("layout_id") else None
        )
        try:
            body = self.env.from_string(source).render(**ctx) if template.get("liquid_enabled", True) else source
            if layout is not None and layout.get("published") is not None:
                page = Markup(body)
                body = self.env.from_string(prepare_layout(layout["published"])).render(**ctx, _page_content=page)
        except LiquidError as exc:
            return self.liquid_error(session, exc)
        response = HTMLResponse(body, status_code=status, media_type=template.get("content_type") or "text/html")
        response.headers["Cache-Control"] = (
            "no-store" if flags.get("no_store") or session.get("user_id") else "no-cache"
        )
        self.sessions.save(response, session)
        return response

    def liquid_error(self, session: Obj, exc: LiquidError) -> Response:
        """A template that fails or hits a limit: porta shows the Liquid error text on a plain error page."""
        log.warning("portal template error: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        message = escape(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        html = (
            "<!DOCTYPE html><html><head><title>Liquid error</title></head>"
            f"<body><h1>Liquid error</h1><p>Liquid error: {message}</p></body></html>"
        )
        response = HTMLResponse(html, status_code=500)
        response.headers["Cache-Control"] = "no-store"
        self.sessions.save(response, session)
        return response

    def current_user(self, session: Obj) -> Obj | None:
        user = self.sandbox.store.get("user", session.get("user_id")) if session.get("user_id") else None
        if user is None:
            return None
        account = self.sandbox.store.get("account", user["account_id"])
        if account is None or account.get("state") != "approved" or user.get("state") != "active":
            return None
        return user

    def redirect(self, session: Obj, location: str, flash: tuple[str, str] | None = None) -> Response:
        if flash:
            session.setdefault("flash", []).append({"type": flash[0], "text": flash[1]})
        response = RedirectResponse(location, status_code=303)
        self.sessions.save(response, session)
        return response

    def not_found(self, session: Obj) -> Response:
        return self.simple_page(session, "Not found", "<h1>Not found</h1><p>The page does not exist.</p>", 404)

    def simple_page(self, session: Obj, title: str, html: str, status: int = 200) -> Response:
        """A page of the portal itself (errors, access code) inside the published main layout when there is one."""
        layout = self._published(type="layout", system_name="main_layout")
        page = {
            "title": title,
            "published": html,
            "liquid_enabled": False,
            "layout_id": layout["id"] if layout else None,
        }
        return self.render(page, session, status=status)


class CsrfRejected(Exception):
    """A form post without the session's CSRF token."""


def create_portal_app(sandbox: Sandbox) -> FastAPI:
    portal = Portal(sandbox)
    app = FastAPI(title="Developer portal (maas sandbox)", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.portal = portal
    app.add_middleware(SecurityHeaders, headers=PORTAL_HEADERS)
    # porta has no login throttling of its own (bot protection is reCAPTCHA); the sandbox serves every gateway
    # from the same loop, so it guards its portal with Keycloak's brute-force arithmetic and defaults.
    users_guard, clients_guard = BruteForce(BruteForceSettings()), BruteForce(CLIENT_SETTINGS)

    async def session_of(request: Request) -> Obj:
        return portal.sessions.load(request)

    async def require_csrf(request: Request, session: Obj) -> None:
        """Every form post carries the session's token (form field or header), else 422 before anything runs."""
        form = await request.form()
        token = str(form.get("authenticity_token") or request.headers.get("x-csrf-token") or "")
        if not (token and hmac.compare_digest(token, session["csrf"])):
            raise CsrfRejected()

    @app.exception_handler(CsrfRejected)
    async def csrf_rejected(_request: Request, _exc: CsrfRejected) -> Response:
        return PlainTextResponse("Invalid authenticity token", status_code=422)

    @app.exception_handler(Exception)
    async def log_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("portal: %s %s failed", request.method, request.url.path)
        return PlainTextResponse("Internal Server Error", status_code=500)

    @app.middleware("http")
    async def site_access_code(request: Request, call_next: Any) -> Response:
        """3scale asks for the provider's site access code before showing anything (when one is set)."""
        provider = sandbox.store.first("provider") or {}
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

    @app.post("/access_code")
    async def enter_access_code(request: Request) -> Response:
        session = await session_of(request)
        await require_csrf(request, session)
        form = await request.form()
        code = (sandbox.store.first("provider") or {}).get("site_access_code") or ""
        if code and hmac.compare_digest(str(form.get("access_code", "")), code):
            session["access_code"] = code
        return portal.redirect(session, safe_return_to(form.get("return_to")))

    # -- assets 3scale provides --------------------------------------------------------------------------
    @app.get(SWAGGER_BASE + "/{name}")
    async def swagger_asset(name: str) -> Response:
        if name not in SWAGGER_FILES:
            return PlainTextResponse("Not found", status_code=404)
        return Response(
            (SWAGGER_DIR / name).read_bytes(),
            media_type=SWAGGER_FILES[name],
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get("/javascripts/active_docs.js")
    async def active_docs_js() -> Response:
        return Response(ACTIVE_DOCS_JS, media_type="text/javascript")

    @app.get("/swagger/spec/{system_name}.json")
    async def spec(system_name: str) -> Response:
        doc = sandbox.store.first("active_doc", system_name=system_name)
        if doc is None or not doc.get("published"):
            return JSONResponse({"status": "Not found"}, status_code=404)
        return Response(doc.get("body") or "{}", media_type="application/json")

    # -- sessions ------------------------------------------------------------------------------------------
    @app.get("/login")
    async def login_form(request: Request) -> Response:
        session = await session_of(request)
        if portal.current_user(session):
            return portal.redirect(session, "/")
        if "return_to" in request.query_params:
            session["return_to"] = safe_return_to(request.query_params["return_to"])
        page = portal.builtin("login/new")
        return portal.render(page, session) if page else portal.not_found(session)

    @app.post("/login")
    async def login(request: Request) -> Response:
        session = await session_of(request)
        await require_csrf(request, session)
        form = await request.form()
        name = str(form.get("username", "")).strip()
        if not await password_ok(request, name, str(form.get("password", ""))):
            return portal.redirect(session, "/login", ("error", "Incorrect email or password. Please try again."))
        user = sandbox.store.first("user", username=name) or sandbox.store.first("user", email=name)
        if user is None:  # deleted while its password was being checked
            return portal.redirect(session, "/login", ("error", "Incorrect email or password. Please try again."))
        return sign_in(session, user)

    async def password_ok(request: Request, name: str, password: str) -> bool:
        """Locked keys are refused before any hashing; the hash runs off the loop, for unknown users too."""
        client = request.client.host if request.client else "?"
        now = sandbox.clock.time()
        if not name or not password or users_guard.locked(name, now) or clients_guard.locked(client, now):
            return await refused()
        user = sandbox.store.first("user", username=name) or sandbox.store.first("user", email=name)
        if await verify_off_loop(user.get("_password_hash") if user else None, password):
            users_guard.success(name)
            return True
        now = sandbox.clock.time()  # after the hash: the failure's own time
        users_guard.failure(name, now)
        clients_guard.failure(client, now)
        return await refused()

    def sign_in(session: Obj, user: Obj) -> Response:
        account = sandbox.store.get("account", user["account_id"]) or {}
        if account.get("state") != "approved":
            return portal.redirect(
                session, "/login", ("info", "Your account isn't active or hasn't been approved yet.")
            )
        target = safe_return_to(session.pop("return_to", "/"))
        keep = {"csrf": secrets.token_urlsafe(32), "access_code": session.get("access_code")}
        portal.sessions.end(session)
        session.clear()
        session.update(keep)  # a new session (and CSRF token) on sign-in: no fixation
        portal.sessions.start(session, user["id"])
        return portal.redirect(session, target, ("success", "Signed in successfully"))

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        session = await session_of(request)
        await require_csrf(request, session)
        portal.sessions.end(session)  # the old cookie no longer signs anyone in
        fresh = {"csrf": secrets.token_urlsafe(32), "access_code": session.get("access_code")}
        return portal.redirect(fresh, "/", ("info", "Signed out"))

    @app.get("/signup")
    async def signup_form(request: Request) -> Response:
        session = await session_of(request)
        page = portal.builtin("signup/show")
        return portal.render(page, session) if page else portal.not_found(session)

    @app.post("/signup")
    async def do_signup(request: Request) -> Response:
        session = await session_of(request)
        await require_csrf(request, session)
        form = await request.form()
        if not str(form.get("account[user][password]", "")):  # porta: password_required? for buyer sign-ups
            return portal.redirect(session, "/signup", ("error", "Sign-up failed: Password can't be blank"))
        password = str(form.get("account[user][password]", ""))
        try:
            _account, user = signup(
                sandbox,
                str(form.get("account[org_name]", "")),
                str(form.get("account[user][username]", "")),
                str(form.get("account[user][email]", "")),
                password,
                password_hash=await hash_off_loop(password),  # argon2 in the worker thread, not on the loop
            )
        except ApiError as exc:
            return portal.redirect(session, "/signup", ("error", f"Sign-up failed: {_errors(exc)}"))
        return sign_in(session, user)

    # -- SSO --------------------------------------------------------------------------------------------------
    @app.get("/auth/{system_name}/authorize")
    async def sso_start(system_name: str, request: Request) -> Response:
        session = await session_of(request)
        try:
            location = await start_sso(sandbox, system_name, session)
        except SsoError as exc:
            return portal.redirect(session, "/login", ("error", str(exc)))
        return portal.redirect(session, location)

    @app.get("/auth/{system_name}/callback")
    async def sso_callback(system_name: str, request: Request) -> Response:
        session = await session_of(request)
        try:
            user = await finish_sso(sandbox, system_name, session, dict(request.query_params))
        except SsoError as exc:
            session.pop("sso", None)
            return portal.simple_page(
                session, "Sign-in failed", f"<h1>Sign-in failed</h1><p>{Markup.escape(exc)}</p>", exc.status
            )
        return sign_in(session, user)

    # -- applications ------------------------------------------------------------------------------------------
    def require_user(request: Request, session: Obj) -> Obj | Response:
        user = portal.current_user(session)
        if user is None:
            return portal.redirect(session, f"/login?return_to={quote(request.url.path)}")
        return user

    def own_application(user: Obj, app_id: str) -> Obj | None:
        found = sandbox.store.get("application", app_id)
        return found if found is not None and found["account_id"] == user["account_id"] else None

    @app.get("/admin/applications")
    async def applications_index(request: Request) -> Response:
        session = await session_of(request)
        user = require_user(request, session)
        if isinstance(user, Response):
            return user
        page = portal.builtin("applications/index")
        return portal.render(page, session) if page else portal.not_found(session)

    @app.get("/admin/applications/new")
    async def new_application(request: Request) -> Response:
        session = await session_of(request)
        user = require_user(request, session)
        if isinstance(user, Response):
            return user
        wanted = request.query_params.get("service_id")
        services = [drops.service_drop(sandbox, s) for s in sandbox.store.list("service")]
        services = [s for s in services if s["application_plans"]]  # only products a developer can subscribe to
        chosen = next((s for s in services if wanted in (s["system_name"], str(s["id"]))), None) if wanted else None
        if chosen is None:
            page = portal.builtin("applications/choose_service")
            return portal.render(page, session, {"services": services}) if page else portal.not_found(session)
        page = portal.builtin("applications/new")
        return portal.render(page, session, {"service": chosen}) if page else portal.not_found(session)

    @app.post("/admin/applications")
    async def create_app(request: Request) -> Response:
        session = await session_of(request)
        user = require_user(request, session)
        if isinstance(user, Response):
            return user
        await require_csrf(request, session)
        form = await request.form()
        plan = sandbox.store.get("plan", str(form.get("cinstance[plan_id]", "")))
        # Only published application plans are offered to developers (3scale hides the others).
        if plan is None or plan.get("type") != "application_plan" or plan.get("state") != "published":
            return portal.redirect(session, "/admin/applications/new", ("error", "Choose a published plan."))
        try:
            check_plan_is_unique(sandbox, user["account_id"], plan["id"])
            created = create_application(
                sandbox,
                user["account_id"],
                plan["id"],
                str(form.get("cinstance[name]", "")).strip(),
                str(form.get("cinstance[description]", "")),
            )
        except ApiError as exc:
            return portal.redirect(session, "/admin/applications/new", ("error", f"Not created: {_errors(exc)}"))
        return portal.redirect(session, f"/admin/applications/{created['id']}", ("success", "Application was created."))

    @app.get("/admin/applications/{app_id}")
    async def show_application(app_id: str, request: Request) -> Response:
        session = await session_of(request)
        user = require_user(request, session)
        if isinstance(user, Response):
            return user
        found = own_application(user, app_id)
        page = portal.builtin("applications/show")
        if found is None or page is None:
            return portal.not_found(session)
        return portal.render(page, session, {"application": drops.application_drop(sandbox, found)})

    @app.post("/admin/applications/{app_id}/change_user_key")
    async def change_user_key(app_id: str, request: Request) -> Response:
        session = await session_of(request)
        user = require_user(request, session)
        if isinstance(user, Response):
            return user
        await require_csrf(request, session)
        found = own_application(user, app_id)
        if found is None:
            return portal.not_found(session)
        regenerate_user_key(sandbox, found["id"])
        return portal.redirect(session, f"/admin/applications/{found['id']}", ("success", "The key was regenerated."))

    @app.get("/stats/api/applications/{app_id}/usage.json")
    async def usage(app_id: str, request: Request) -> Response:
        """The developer's own application usage: the Analytics API's answer for that application."""
        session = await session_of(request)
        user = portal.current_user(session)
        if user is None:
            return JSONResponse({"error": "Unauthorized"}, status_code=401)
        if own_application(user, app_id) is None:
            return JSONResponse({"status": "Not found"}, status_code=404)
        params = {k: v for k, v in request.query_params.items() if k != "access_token"}
        params["access_token"] = sandbox.admin_token
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                upstream = await client.get(
                    f"{sandbox.admin_url}/stats/applications/{int(app_id)}/usage.json", params=params
                )
        except httpx.HTTPError:
            return JSONResponse({"error": "usage not available"}, status_code=503)
        return Response(upstream.content, status_code=upstream.status_code, media_type="application/json")

    # -- CMS pages and files ----------------------------------------------------------------------------------
    @app.get("/{path:path}")
    async def cms(path: str, request: Request) -> Response:
        session = await session_of(request)
        full = "/" + path
        page = portal.page_by_path(full)
        if page is not None:
            return portal.render(page, session)
        item = portal.file_by_path(full)
        if item is not None:
            import base64

            headers = {"Cache-Control": "public, max-age=300"}
            if item.get("downloadable"):
                headers["Content-Disposition"] = f'attachment; filename="{full.rsplit("/", 1)[-1]}"'
            return Response(
                base64.b64decode(item.get("_content") or ""),
                headers=headers,
                media_type=_media_type(item, full),
            )
        return portal.not_found(session)

    return app


def _errors(exc: ApiError) -> str:
    body = getattr(exc, "body", None) or {}
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, dict):
        return "; ".join(f"{k} {', '.join(map(str, v))}" for k, v in errors.items())
    return str(exc)


def _media_type(item: Obj, path: str) -> str:
    """The uploaded type, or one guessed from the path when the upload did not say (browsers need text/css)."""
    stored = item.get("content_type")
    if stored and stored != "application/octet-stream":
        return stored
    return mimetypes.guess_type(path)[0] or "application/octet-stream"
