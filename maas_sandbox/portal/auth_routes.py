"""Portal sign-in at 3scale's paths: the site access code, log in/out with a password, sign up, and SSO
(`/auth/{system_name}/authorize` and `/callback`)."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from maas_sandbox.admin.conventions import ApiError
from maas_sandbox.admin.domain_accounts import signup
from maas_sandbox.context import Sandbox
from maas_sandbox.login_guard import hash_off_loop, refused, verify_off_loop
from maas_sandbox.portal.deps import CsrfChecked, PortalDep, SandboxDep, SessionDep, errors_text, login_guards
from maas_sandbox.portal.render import Portal
from maas_sandbox.portal.session import safe_return_to
from maas_sandbox.portal.sso_login import SsoError, finish_sso, start_sso

Obj = dict[str, Any]
router = APIRouter()
BAD_LOGIN = ("error", "Incorrect email or password. Please try again.")


@router.post("/access_code")
async def enter_access_code(
    request: Request, portal: PortalDep, sandbox: SandboxDep, session: SessionDep, _csrf: CsrfChecked
) -> Response:
    form = await request.form()
    code = (sandbox.store.first("provider") or {}).get("site_access_code") or ""
    if code and hmac.compare_digest(str(form.get("access_code", "")), code):
        session["access_code"] = code
    return portal.redirect(session, safe_return_to(form.get("return_to")))


@router.get("/login")
async def login_form(request: Request, portal: PortalDep, session: SessionDep) -> Response:
    if portal.current_user(session):
        return portal.redirect(session, "/")
    if "return_to" in request.query_params:
        session["return_to"] = safe_return_to(request.query_params["return_to"])
    return portal.render_builtin("login/new", session)


@router.post("/login")
async def login(
    request: Request, portal: PortalDep, sandbox: SandboxDep, session: SessionDep, _csrf: CsrfChecked
) -> Response:
    form = await request.form()
    name = str(form.get("username", "")).strip()
    if not await _password_ok(request, sandbox, name, str(form.get("password", ""))):
        return portal.redirect(session, "/login", BAD_LOGIN)
    user = sandbox.store.first("user", username=name) or sandbox.store.first("user", email=name)
    if user is None:  # deleted while its password was being checked
        return portal.redirect(session, "/login", BAD_LOGIN)
    return sign_in(portal, session, user)


async def _password_ok(request: Request, sandbox: Sandbox, name: str, password: str) -> bool:
    """Locked keys are refused before any hashing; the hash runs off the loop, for unknown users too."""
    users_guard, clients_guard = login_guards(request)
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


def sign_in(portal: Portal, session: Obj, user: Obj) -> Response:
    account = portal.sandbox.store.get("account", user["account_id"]) or {}
    # porta user.rb can_login?: an active (or email-unverified) user of an approved buyer account
    if user.get("state") not in ("active", "email_unverified") or account.get("state") != "approved":
        return portal.redirect(session, "/login", ("info", "Your account isn't active or hasn't been approved yet."))
    target = safe_return_to(session.pop("return_to", "/"))
    keep = {"csrf": secrets.token_urlsafe(32), "access_code": session.get("access_code")}
    portal.sessions.end(session)
    session.clear()
    session.update(keep)  # a new session (and CSRF token) on sign-in: no fixation
    portal.sessions.start(session, user["id"])
    return portal.redirect(session, target, ("success", "Signed in successfully"))


@router.post("/logout")
async def logout(portal: PortalDep, session: SessionDep, _csrf: CsrfChecked) -> Response:
    portal.sessions.end(session)  # the old cookie no longer signs anyone in
    fresh = {"csrf": secrets.token_urlsafe(32), "access_code": session.get("access_code")}
    return portal.redirect(fresh, "/", ("info", "Signed out"))


@router.get("/signup")
async def signup_form(portal: PortalDep, session: SessionDep) -> Response:
    return portal.render_builtin("signup/show", session)


@router.post("/signup")
async def do_signup(
    request: Request, portal: PortalDep, sandbox: SandboxDep, session: SessionDep, _csrf: CsrfChecked
) -> Response:
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
        return portal.redirect(session, "/signup", ("error", f"Sign-up failed: {errors_text(exc)}"))
    return sign_in(portal, session, user)


@router.get("/auth/{system_name}/authorize")
async def sso_start(system_name: str, portal: PortalDep, sandbox: SandboxDep, session: SessionDep) -> Response:
    try:
        location = await start_sso(sandbox, system_name, session)
    except SsoError as exc:
        return portal.redirect(session, "/login", ("error", str(exc)))
    return portal.redirect(session, location)


@router.get("/auth/{system_name}/callback")
async def sso_callback(
    system_name: str, request: Request, portal: PortalDep, sandbox: SandboxDep, session: SessionDep
) -> Response:
    try:
        user = await finish_sso(sandbox, system_name, session, dict(request.query_params))
    except SsoError as exc:
        session.pop("sso", None)
        return portal.simple_page(
            session, "Sign-in failed", f"<h1>Sign-in failed</h1><p>{Markup.escape(exc)}</p>", exc.status
        )
    return sign_in(portal, session, user)
