"""The browser side of the code flow: the authorization endpoint (login form), Keycloak's registration entry
point, and the login-flow form posts (log in, the UPDATE_PASSWORD required action, registration), ending in
a redirect with a single-use authorization code."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature

from maas_sandbox.login_guard import (
    CLIENT_SETTINGS,
    BruteForce,
    BruteForceSettings,
    refused,
    verify_off_loop,
)
from maas_sandbox.sso import admin_rest, pages
from maas_sandbox.sso.realms import KIND, find_client, find_user, get_realm, save_users, update_realm
from maas_sandbox.sso.state import Sso, SsoDep

Obj = dict[str, Any]
CODE_TTL = 60.0
LOGIN_EXPIRED = "Your login attempt timed out. Login will start from the beginning."
LOGIN_FORM_TTL = 1800
CSRF_COOKIE = "KC_RESTART"
router = APIRouter()


def _redirect_error(redirect_uri: str, state: str | None, error: str, description: str) -> Response:
    params = {"error": error, "error_description": description}
    if state:
        params["state"] = state
    sep = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{sep}{urlencode(params)}", status_code=302)


@router.get("/realms/{realm}/protocol/openid-connect/auth")
async def authorize(realm: str, request: Request, sso: SsoDep) -> Response:
    return await _start(sso, realm, request, register=False)


@router.get("/realms/{realm}/protocol/openid-connect/registrations")
async def registrations(realm: str, request: Request, sso: SsoDep) -> Response:
    """Keycloak's registration entry point: the same checks as /auth, then the registration form; refused
    unless the realm's `registrationAllowed` is true."""
    rep = get_realm(sso.sandbox, realm)
    if rep is not None and not rep.get("registrationAllowed", False):
        return HTMLResponse(pages.error_page("Registration not allowed"), status_code=403)
    return await _start(sso, realm, request, register=True)


async def _start(sso: Sso, realm: str, request: Request, *, register: bool) -> Response:
    rep = get_realm(sso.sandbox, realm)
    if rep is None:
        return HTMLResponse(pages.error_page("Realm does not exist."), status_code=404)
    q = request.query_params
    client = find_client(rep, q.get("client_id"))
    if client is None or client.get("enabled", True) is False:
        return HTMLResponse(pages.error_page("Client not found."), status_code=400)
    redirect_uri = q.get("redirect_uri", "")
    # Exact match only: no wildcard, prefix or query-string tolerance.
    if redirect_uri not in (client.get("redirectUris") or []):
        return HTMLResponse(pages.error_page("Invalid parameter: redirect_uri"), status_code=400)
    state = q.get("state")
    if q.get("response_type") != "code":
        return _redirect_error(redirect_uri, state, "unsupported_response_type", "Only code flow is enabled")
    if not client.get("standardFlowEnabled", True):
        return _redirect_error(redirect_uri, state, "unauthorized_client", "Client is not allowed to use code flow")
    if "openid" not in (q.get("scope") or "").split():
        return _redirect_error(redirect_uri, state, "invalid_scope", "Missing openid scope")
    if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
        return _redirect_error(redirect_uri, state, "invalid_request", "Missing parameter: code_challenge_method")
    csrf = secrets.token_urlsafe(16)
    token = sso.forms.dumps(
        {
            "realm": realm,
            "client_id": client["clientId"],
            "redirect_uri": redirect_uri,
            "state": state,
            "nonce": q.get("nonce"),
            "scope": q.get("scope"),
            "code_challenge": q.get("code_challenge"),
            "csrf": csrf,
        }
    )
    display = rep.get("displayName") or realm
    if register:
        html = pages.registration_page(display, f"{sso.issuer(realm)}/login-actions/registration", token)
    else:
        register_url = (f"{sso.oidc(realm, 'registrations')}?{request.url.query}"
                        if rep.get("registrationAllowed", False) else None)
        html = pages.login_page(display, sso.oidc(realm, "auth"), token, register_url=register_url)
    response = HTMLResponse(html)
    response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="lax", path=f"/realms/{realm}/")
    return response


async def _guarded_login(sso: Sso, rep: Obj, request: Request, username: str, password: str) -> Obj | None:
    """Keycloak's brute-force detection when the realm enables it (bruteForceProtected), plus a per-client
    guard; a locked user gets the same "Invalid username or password." and no password check."""
    settings = BruteForceSettings.from_realm(rep)
    name = str(rep.get("realm"))
    if name not in sso.guards or sso.guards[name][0].settings != settings:
        sso.guards[name] = (BruteForce(settings), BruteForce(CLIENT_SETTINGS))
    users, clients = sso.guards[name]
    client = request.client.host if request.client else "?"
    now = sso.sandbox.clock.time()
    if not username or users.locked(username, now) or clients.locked(client, now):
        return await refused() or None
    user = find_user(rep, username=username)
    hashes = [c.get("_hash") for c in (user or {}).get("credentials") or [] if c.get("_hash")]
    ok = False
    for hashed in hashes or [None]:  # an unknown user costs one (dummy) hash too
        ok = ok or await verify_off_loop(hashed, password)
    if ok and user is not None and user.get("enabled", True):
        users.success(username)
        return user
    now = sso.sandbox.clock.time()  # after the hash: the failure's own time
    users.failure(username, now)
    clients.failure(client, now)
    return await refused() or None


async def _signed_flow(
    sso: Sso, request: Request, realm: str, expired: str, *, csrf: bool = True
) -> tuple[Any, Obj] | Response:
    """A login-flow form post: the form and its signed `request` state, or Keycloak's error page (expired
    state; with `csrf`, a flow of another realm or without the browser's CSRF cookie)."""
    form = await request.form()
    try:
        auth = sso.forms.loads(str(form.get("request", "")), max_age=LOGIN_FORM_TTL)
    except BadSignature:
        return HTMLResponse(pages.error_page(expired), status_code=400)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if csrf and (auth.get("realm") != realm or not cookie or not hmac.compare_digest(cookie, auth.get("csrf", ""))):
        return HTMLResponse(pages.error_page("Cookie not found. Please make sure cookies are enabled."),
                            status_code=400)
    return form, auth


@router.post("/realms/{realm}/protocol/openid-connect/auth")
async def login(realm: str, request: Request, sso: SsoDep) -> Response:
    flow = await _signed_flow(sso, request, realm, LOGIN_EXPIRED)
    if isinstance(flow, Response):
        return flow
    form, auth = flow
    rep = get_realm(sso.sandbox, realm)
    client = find_client(rep, auth["client_id"]) if rep else None
    if rep is None or client is None or auth["redirect_uri"] not in (client.get("redirectUris") or []):
        return HTMLResponse(pages.error_page("Client not found."), status_code=400)
    username = str(form.get("username", ""))
    user = await _guarded_login(sso, rep, request, username, str(form.get("password", "")))
    if user is None:
        html = pages.login_page(
            rep.get("displayName") or realm,
            sso.oidc(realm, "auth"),
            str(form.get("request")),
            "Invalid username or password.",
            username,
        )
        return HTMLResponse(html, status_code=200)
    if admin_rest.UPDATE_PASSWORD in (user.get("requiredActions") or []):
        # Keycloak's required action: the temporary password only opens the change-password form.
        # one-time and bound to the credential it was opened with, like Keycloak's single-use action tokens
        action_token = sso.forms.dumps({**auth, "user_id": user["id"], "action": admin_rest.UPDATE_PASSWORD,
                                        "action_id": secrets.token_urlsafe(16), "credential": _credential_mark(user)})
        return HTMLResponse(pages.update_password_page(rep.get("displayName") or realm,
                                                       _required_action_url(sso, realm), action_token))
    return _issue_code(sso, realm, auth, user)


def _credential_mark(user: Obj) -> str:
    """A digest of the user's stored password hashes: changes whenever the password does."""
    hashes = "|".join(str(c.get("_hash")) for c in user.get("credentials") or [])
    return hashlib.sha256(hashes.encode()).hexdigest()[:32]


def _stale_action(sso: Sso, auth: Obj, user: Obj) -> bool:
    """The form was used already, the password changed since it was issued, or nothing is required any more
    (Keycloak: the authentication session ends with the required action; action tokens are single-use)."""
    now = sso.sandbox.clock.time()
    for used, expires in list(sso.used_actions.items()):
        if expires < now:
            del sso.used_actions[used]
    return (str(auth.get("action_id", "")) in sso.used_actions or not auth.get("action_id")
            or auth.get("credential") != _credential_mark(user)
            or admin_rest.UPDATE_PASSWORD not in (user.get("requiredActions") or []))


def _required_action_url(sso: Sso, realm: str) -> str:
    return f"{sso.issuer(realm)}/login-actions/required-action?execution={admin_rest.UPDATE_PASSWORD}"


@router.post("/realms/{realm}/login-actions/required-action")
async def required_action(realm: str, request: Request, sso: SsoDep) -> Response:
    flow = await _signed_flow(sso, request, realm, LOGIN_EXPIRED, csrf=False)  # the token names realm and user
    if isinstance(flow, Response):
        return flow
    form, auth = flow
    rep = get_realm(sso.sandbox, realm)
    user = find_user(rep, user_id=auth.get("user_id")) if rep else None
    wrong_flow = auth.get("realm") != realm or auth.get("action") != admin_rest.UPDATE_PASSWORD
    if rep is None or user is None or wrong_flow:
        return HTMLResponse(pages.error_page("Invalid required action."), status_code=400)
    if _stale_action(sso, auth, user):
        return HTMLResponse(pages.error_page(LOGIN_EXPIRED), status_code=400)
    new, confirm = str(form.get("password-new", "")), str(form.get("password-confirm", ""))
    error = "Please specify password." if not new else ("Passwords don't match." if new != confirm else None)
    reused = [await verify_off_loop(c.get("_hash"), new) for c in user.get("credentials") or []]
    if error is None and any(reused):  # Keycloak's password history (1): hashed off the event loop
        error = "Invalid password: must not be equal to any of last 1 passwords."
    if error:
        html = pages.update_password_page(rep.get("displayName") or realm, _required_action_url(sso, realm),
                                          str(form.get("request")), error)
        return HTMLResponse(html, status_code=200)
    hashed = await admin_rest.hash_credential(new)
    row = sso.sandbox.store.first(KIND, realm=realm)  # read again: the hashing above let other writers in
    users = list(row.get("users") or [])  # type: ignore[union-attr]
    stored = next((u for u in users if u.get("id") == user["id"]), None)
    if stored is None or _stale_action(sso, auth, stored):  # checked again after the awaits, then marked used
        return HTMLResponse(pages.error_page(LOGIN_EXPIRED), status_code=400)
    sso.used_actions[str(auth["action_id"])] = sso.sandbox.clock.time() + LOGIN_FORM_TTL
    admin_rest.set_password(stored, hashed, temporary=False)
    save_users(sso.sandbox, row, users)  # type: ignore[arg-type]
    flow = {k: v for k, v in auth.items() if k not in ("user_id", "action", "action_id", "credential")}
    return _issue_code(sso, realm, flow, user)


@router.post("/realms/{realm}/login-actions/registration")
async def register(realm: str, request: Request, sso: SsoDep) -> Response:
    """Keycloak's registration form post: a new realm user (password hashed), then signed in as by login."""
    flow = await _signed_flow(sso, request, realm, "Your registration timed out; start again.")
    if isinstance(flow, Response):
        return flow
    form, auth = flow
    rep = get_realm(sso.sandbox, realm)
    if rep is None or not rep.get("registrationAllowed", False):
        return HTMLResponse(pages.error_page("Registration not allowed"), status_code=403)
    values = {k: str(form.get(k, "")).strip() for k in ("firstName", "lastName", "email", "username")}
    password = str(form.get("password", ""))
    error = None
    if not values["username"] or not values["email"] or "@" not in values["email"]:
        error = "Please specify username and a valid email."
    elif find_user(rep, username=values["username"]) or find_user(rep, username=values["email"]):
        error = "Username or email already exists."
    elif len(password) < 8:
        error = "Invalid password: minimum length 8."
    elif password != str(form.get("password-confirm", "")):
        error = "Password confirmation doesn't match."
    if error:
        html = pages.registration_page(rep.get("displayName") or realm,
                                       f"{sso.issuer(realm)}/login-actions/registration", str(form.get("request")),
                                       error, values)
        return HTMLResponse(html, status_code=200)
    # argon2 (Keycloak's parameters, one lane) in the hashing thread: registration needs no credential, so it
    # must not stall the gateways
    hashed = await admin_rest.hash_credential(password)
    rep = get_realm(sso.sandbox, realm)  # read again: the hashing let other registrations in
    if rep is None or find_user(rep, username=values["username"]) or find_user(rep, username=values["email"]):
        return HTMLResponse(pages.error_page("Username or email already exists."), status_code=409)
    user = {**values, "enabled": True, "emailVerified": False,
            "credentials": [{"type": "password", "_hash": hashed}]}
    users = [*(rep.get("users") or []), user]
    updated = update_realm(sso.sandbox, realm, {"users": users})
    return _issue_code(sso, realm, auth, find_user(updated, username=values["username"]) or {})


def _issue_code(sso: Sso, realm: str, auth: Obj, user: Obj) -> Response:
    code = secrets.token_urlsafe(32)
    sso.codes[code] = {**auth, "user_id": user["id"], "expires": sso.sandbox.clock.time() + CODE_TTL}
    params = {"code": code, "session_state": secrets.token_hex(8), "iss": sso.issuer(realm)}
    if auth.get("state"):
        params["state"] = auth["state"]
    sep = "&" if "?" in auth["redirect_uri"] else "?"
    response = RedirectResponse(f"{auth['redirect_uri']}{sep}{urlencode(params)}", status_code=302)
    response.delete_cookie(CSRF_COOKIE, path=f"/realms/{realm}/")
    return response
