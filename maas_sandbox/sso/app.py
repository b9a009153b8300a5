"""A Keycloak-shaped OpenID Connect provider for the sandbox (authorization code flow with PKCE S256 only).

URL layout as Keycloak ≥ 17: `/realms/{realm}/.well-known/openid-configuration` and
`/realms/{realm}/protocol/openid-connect/{auth,token,userinfo,certs,logout}`; realms are imported with
Keycloak's admin REST call `POST /admin/realms` (master token as bearer). Codes live in memory for 60 s and
are single use; redirect URIs match exactly (no wildcards); PKCE is required for every client.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError

from maas_sandbox.context import Sandbox
from maas_sandbox.login_guard import CLIENT_SETTINGS, BruteForce, BruteForceSettings, refused, verify_off_loop
from maas_sandbox.security_headers import SSO as SSO_HEADERS
from maas_sandbox.security_headers import SecurityHeaders
from maas_sandbox.sso import admin_rest, pages
from maas_sandbox.sso.keys import jwks, signing_key
from maas_sandbox.sso.realms import (
    RealmError,
    create_realm,
    find_client,
    find_user,
    get_realm,
    mapped_claims,
    realm_view,
    standard_claims,
    update_realm,
)

Obj = dict[str, Any]
CODE_TTL = 60.0
TOKEN_TTL = 300
LOGIN_EXPIRED = "Your login attempt timed out. Login will start from the beginning."
LOGIN_FORM_TTL = 1800
CSRF_COOKIE = "KC_RESTART"


def create_sso_app(sandbox: Sandbox) -> FastAPI:
    app = FastAPI(title="SSO (Keycloak-shaped, maas sandbox)", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(SecurityHeaders, headers=SSO_HEADERS)
    codes: dict[str, Obj] = {}
    forms = URLSafeTimedSerializer(_form_secret(sandbox), salt="sso-login")

    def issuer(realm: str) -> str:
        return f"{sandbox.sso_url}/realms/{realm}"

    def oidc(realm: str, endpoint: str) -> str:
        return f"{issuer(realm)}/protocol/openid-connect/{endpoint}"

    def now() -> int:
        return int(sandbox.clock.time())

    def sign(claims: Obj) -> str:
        key = signing_key(sandbox)
        return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key)

    # -- admin REST (realm import) ---------------------------------------------------------------
    def master_bearer(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        return bool(token) and hmac.compare_digest(token.encode(), sandbox.master_token.encode())

    app.include_router(admin_rest.router(sandbox, master_bearer))

    @app.post("/admin/realms")
    async def import_realm(request: Request) -> Response:
        if not master_bearer(request):
            return JSONResponse({"error": "HTTP 401 Unauthorized"}, status_code=401)
        try:
            created = create_realm(sandbox, await request.json())
        except FileExistsError as exc:
            return JSONResponse({"errorMessage": f"Conflict detected. See logs for details: {exc}"}, status_code=409)
        except (RealmError, ValueError) as exc:
            return JSONResponse({"errorMessage": str(exc)}, status_code=400)
        return Response(status_code=201, headers={"Location": f"{sandbox.sso_url}/admin/realms/{created['realm']}"})

    @app.put("/admin/realms/{realm}")
    async def put_realm(realm: str, request: Request) -> Response:
        if not master_bearer(request):
            return JSONResponse({"error": "HTTP 401 Unauthorized"}, status_code=401)
        try:
            update_realm(sandbox, realm, await request.json())
        except KeyError:
            return JSONResponse({"error": "Realm not found."}, status_code=404)
        except (RealmError, ValueError) as exc:
            return JSONResponse({"errorMessage": str(exc)}, status_code=400)
        return Response(status_code=204)

    @app.get("/admin/realms/{realm}")
    async def read_realm(realm: str, request: Request) -> Response:
        if not master_bearer(request):
            return JSONResponse({"error": "HTTP 401 Unauthorized"}, status_code=401)
        found = get_realm(sandbox, realm)
        if found is None:
            return JSONResponse({"error": "Realm not found."}, status_code=404)
        return JSONResponse(realm_view(found))

    # -- discovery and keys ----------------------------------------------------------------------
    @app.get("/realms/{realm}/.well-known/openid-configuration")
    async def discovery(realm: str) -> Response:
        if get_realm(sandbox, realm) is None:
            return JSONResponse({"error": "Realm does not exist"}, status_code=404)
        return JSONResponse(
            {
                "issuer": issuer(realm),
                "authorization_endpoint": oidc(realm, "auth"),
                "token_endpoint": oidc(realm, "token"),
                "userinfo_endpoint": oidc(realm, "userinfo"),
                "jwks_uri": oidc(realm, "certs"),
                "end_session_endpoint": oidc(realm, "logout"),
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "code_challenge_methods_supported": ["S256"],
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "email", "preferred_username"],
            }
        )

    @app.get("/realms/{realm}/protocol/openid-connect/certs")
    async def certs(realm: str) -> Response:
        if get_realm(sandbox, realm) is None:
            return JSONResponse({"error": "Realm does not exist"}, status_code=404)
        return JSONResponse(jwks(sandbox))

    # -- authorization endpoint --------------------------------------------------------------------
    def redirect_error(redirect_uri: str, state: str | None, error: str, description: str) -> Response:
        params = {"error": error, "error_description": description}
        if state:
            params["state"] = state
        sep = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{sep}{urlencode(params)}", status_code=302)

    @app.get("/realms/{realm}/protocol/openid-connect/auth")
    async def authorize(realm: str, request: Request) -> Response:
        return await start(realm, request, register=False)

    @app.get("/realms/{realm}/protocol/openid-connect/registrations")
    async def registrations(realm: str, request: Request) -> Response:
        """Keycloak's registration entry point: the same checks as /auth, then the registration form; refused
        unless the realm's `registrationAllowed` is true."""
        rep = get_realm(sandbox, realm)
        if rep is not None and not rep.get("registrationAllowed", False):
            return HTMLResponse(pages.error_page("Registration not allowed"), status_code=403)
        return await start(realm, request, register=True)

    async def start(realm: str, request: Request, *, register: bool) -> Response:
        rep = get_realm(sandbox, realm)
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
            return redirect_error(redirect_uri, state, "unsupported_response_type", "Only code flow is enabled")
        if not client.get("standardFlowEnabled", True):
            return redirect_error(redirect_uri, state, "unauthorized_client", "Client is not allowed to use code flow")
        if "openid" not in (q.get("scope") or "").split():
            return redirect_error(redirect_uri, state, "invalid_scope", "Missing openid scope")
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return redirect_error(redirect_uri, state, "invalid_request", "Missing parameter: code_challenge_method")
        csrf = secrets.token_urlsafe(16)
        token = forms.dumps(
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
            html = pages.registration_page(display, f"{issuer(realm)}/login-actions/registration", token)
        else:
            register_url = (f"{oidc(realm, 'registrations')}?{request.url.query}"
                            if rep.get("registrationAllowed", False) else None)
            html = pages.login_page(display, oidc(realm, "auth"), token, register_url=register_url)
        response = HTMLResponse(html)
        response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="lax", path=f"/realms/{realm}/")
        return response

    guards: dict[str, tuple[BruteForce, BruteForce]] = {}

    async def guarded_login(rep: Obj, request: Request, username: str, password: str) -> Obj | None:
        """Keycloak's brute-force detection when the realm enables it (bruteForceProtected), plus a per-client
        guard; a locked user gets the same "Invalid username or password." and no password check."""
        settings = BruteForceSettings.from_realm(rep)
        name = str(rep.get("realm"))
        if name not in guards or guards[name][0].settings != settings:
            guards[name] = (BruteForce(settings), BruteForce(CLIENT_SETTINGS))
        users, clients = guards[name]
        client = request.client.host if request.client else "?"
        now = sandbox.clock.time()
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
        now = sandbox.clock.time()  # after the hash: the failure's own time
        users.failure(username, now)
        clients.failure(client, now)
        return await refused() or None

    async def signed_flow(
        request: Request, realm: str, expired: str, *, csrf: bool = True
    ) -> tuple[Any, Obj] | Response:
        """A login-flow form post: the form and its signed `request` state, or Keycloak's error page (expired
        state; with `csrf`, a flow of another realm or without the browser's CSRF cookie)."""
        form = await request.form()
        try:
            auth = forms.loads(str(form.get("request", "")), max_age=LOGIN_FORM_TTL)
        except BadSignature:
            return HTMLResponse(pages.error_page(expired), status_code=400)
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if csrf and (auth.get("realm") != realm or not cookie or not hmac.compare_digest(cookie, auth.get("csrf", ""))):
            return HTMLResponse(pages.error_page("Cookie not found. Please make sure cookies are enabled."),
                                status_code=400)
        return form, auth

    @app.post("/realms/{realm}/protocol/openid-connect/auth")
    async def login(realm: str, request: Request) -> Response:
        flow = await signed_flow(request, realm, LOGIN_EXPIRED)
        if isinstance(flow, Response):
            return flow
        form, auth = flow
        rep = get_realm(sandbox, realm)
        client = find_client(rep, auth["client_id"]) if rep else None
        if rep is None or client is None or auth["redirect_uri"] not in (client.get("redirectUris") or []):
            return HTMLResponse(pages.error_page("Client not found."), status_code=400)
        username = str(form.get("username", ""))
        user = await guarded_login(rep, request, username, str(form.get("password", "")))
        if user is None:
            html = pages.login_page(
                rep.get("displayName") or realm,
                oidc(realm, "auth"),
                str(form.get("request")),
                "Invalid username or password.",
                username,
            )
            return HTMLResponse(html, status_code=200)
        if admin_rest.UPDATE_PASSWORD in (user.get("requiredActions") or []):
            # Keycloak's required action: the temporary password only opens the change-password form.
            action_token = forms.dumps({**auth, "user_id": user["id"], "action": admin_rest.UPDATE_PASSWORD})
            return HTMLResponse(pages.update_password_page(rep.get("displayName") or realm,
                                                           required_action_url(realm), action_token))
        return issue_code(realm, auth, user)

    def required_action_url(realm: str) -> str:
        return f"{issuer(realm)}/login-actions/required-action?execution={admin_rest.UPDATE_PASSWORD}"

    @app.post("/realms/{realm}/login-actions/required-action")
    async def required_action(realm: str, request: Request) -> Response:
        flow = await signed_flow(request, realm, LOGIN_EXPIRED, csrf=False)  # the token names realm and user
        if isinstance(flow, Response):
            return flow
        form, auth = flow
        rep = get_realm(sandbox, realm)
        user = find_user(rep, user_id=auth.get("user_id")) if rep else None
        wrong_flow = auth.get("realm") != realm or auth.get("action") != admin_rest.UPDATE_PASSWORD
        if rep is None or user is None or wrong_flow:
            return HTMLResponse(pages.error_page("Invalid required action."), status_code=400)
        new, confirm = str(form.get("password-new", "")), str(form.get("password-confirm", ""))
        error = "Please specify password." if not new else ("Passwords don't match." if new != confirm else None)
        reused = [await verify_off_loop(c.get("_hash"), new) for c in user.get("credentials") or []]
        if error is None and any(reused):  # Keycloak's password history (1): hashed off the event loop
            error = "Invalid password: must not be equal to any of last 1 passwords."
        if error:
            html = pages.update_password_page(rep.get("displayName") or realm, required_action_url(realm),
                                              str(form.get("request")), error)
            return HTMLResponse(html, status_code=200)
        row = sandbox.store.first("sso_realm", realm=realm)
        users = list(row.get("users") or [])  # type: ignore[union-attr]
        for stored in users:
            if stored.get("id") == user["id"]:
                admin_rest.set_password(stored, new, temporary=False)
        sandbox.store.update("sso_realm", row["id"], {"users": users})  # type: ignore[index]
        flow = {k: v for k, v in auth.items() if k not in ("user_id", "action")}
        return issue_code(realm, flow, user)

    @app.post("/realms/{realm}/login-actions/registration")
    async def register(realm: str, request: Request) -> Response:
        """Keycloak's registration form post: a new realm user (password hashed), then signed in as by login."""
        flow = await signed_flow(request, realm, "Your registration timed out; start again.")
        if isinstance(flow, Response):
            return flow
        form, auth = flow
        rep = get_realm(sandbox, realm)
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
                                           f"{issuer(realm)}/login-actions/registration", str(form.get("request")),
                                           error, values)
            return HTMLResponse(html, status_code=200)
        user = {**values, "enabled": True, "emailVerified": False,
                "credentials": [{"type": "password", "value": password}]}
        users = [*(rep.get("users") or []), user]
        updated = update_realm(sandbox, realm, {"users": users})
        return issue_code(realm, auth, find_user(updated, username=values["username"]) or {})

    def issue_code(realm: str, auth: Obj, user: Obj) -> Response:
        code = secrets.token_urlsafe(32)
        codes[code] = {**auth, "user_id": user["id"], "expires": sandbox.clock.time() + CODE_TTL}
        params = {"code": code, "session_state": secrets.token_hex(8), "iss": issuer(realm)}
        if auth.get("state"):
            params["state"] = auth["state"]
        sep = "&" if "?" in auth["redirect_uri"] else "?"
        response = RedirectResponse(f"{auth['redirect_uri']}{sep}{urlencode(params)}", status_code=302)
        response.delete_cookie(CSRF_COOKIE, path=f"/realms/{realm}/")
        return response

    # -- token endpoint ----------------------------------------------------------------------------
    def token_error(error: str, description: str, status: int = 400) -> Response:
        return JSONResponse(
            {"error": error, "error_description": description},
            status_code=status,
            headers={"Cache-Control": "no-store"},
        )

    def client_credentials(request: Request, form: Any) -> tuple[str | None, str | None]:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            import base64
            from urllib.parse import unquote

            try:
                raw = base64.b64decode(header[6:]).decode()
            except ValueError:
                return None, None
            cid, _, secret = raw.partition(":")
            return unquote(cid), unquote(secret)
        return form.get("client_id"), form.get("client_secret")

    @app.post("/realms/{realm}/protocol/openid-connect/token")
    async def token(realm: str, request: Request) -> Response:
        rep = get_realm(sandbox, realm)
        if rep is None:
            return token_error("invalid_request", "Realm does not exist", 404)
        form = await request.form()
        cid, secret = client_credentials(request, form)
        client = find_client(rep, cid)
        if client is None or not secret or not hmac.compare_digest(str(secret), str(client.get("secret", ""))):
            return token_error("unauthorized_client", "Invalid client or Invalid client credentials", 401)
        if form.get("grant_type") != "authorization_code":
            return token_error("unsupported_grant_type", "Unsupported grant_type")
        grant = codes.pop(str(form.get("code", "")), None)  # single use, even when the request fails below
        if grant is None or grant["expires"] < sandbox.clock.time() or grant["realm"] != realm:
            return token_error("invalid_grant", "Code not valid")
        if grant["client_id"] != client["clientId"]:
            return token_error("invalid_grant", "Auth error")
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return token_error("invalid_grant", "Incorrect redirect_uri")
        verifier = str(form.get("code_verifier") or "")
        if not verifier:
            return token_error("invalid_grant", "PKCE code verifier not specified")
        if not hmac.compare_digest(create_s256_code_challenge(verifier), grant["code_challenge"]):
            return token_error("invalid_grant", "PKCE verification failed: Invalid code verifier")
        user = find_user(rep, user_id=grant["user_id"])
        if user is None:
            return token_error("invalid_grant", "User not found")
        iat = now()
        common = {"iss": issuer(realm), "iat": iat, "exp": iat + TOKEN_TTL, "auth_time": iat, "azp": client["clientId"]}
        id_claims = {
            **common,
            **standard_claims(user),
            **mapped_claims(client, user, "id"),
            "aud": client["clientId"],
            "typ": "ID",
            "jti": secrets.token_hex(16),
        }
        if grant.get("nonce"):
            id_claims["nonce"] = grant["nonce"]
        access_claims = {
            **common,
            **standard_claims(user),
            **mapped_claims(client, user, "access"),
            "aud": "account",
            "typ": "Bearer",
            "scope": grant.get("scope") or "openid",
            "jti": secrets.token_hex(16),
        }
        return JSONResponse(
            {
                "access_token": sign(access_claims),
                "id_token": sign(id_claims),
                "token_type": "Bearer",
                "expires_in": TOKEN_TTL,
                "scope": grant.get("scope") or "openid",
            },
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    # -- userinfo, logout ----------------------------------------------------------------------------
    @app.api_route("/realms/{realm}/protocol/openid-connect/userinfo", methods=["GET", "POST"])
    async def userinfo(realm: str, request: Request) -> Response:
        rep = get_realm(sandbox, realm)
        header = request.headers.get("authorization", "")
        bearer = header[7:] if header.lower().startswith("bearer ") else ""
        unauthorized = JSONResponse(
            {"error": "invalid_token"}, status_code=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
        if rep is None or not bearer:
            return unauthorized
        try:
            claims = jwt.decode(bearer, signing_key(sandbox), algorithms=["RS256"]).claims
        except (JoseError, ValueError):
            return unauthorized
        if claims.get("iss") != issuer(realm) or claims.get("typ") != "Bearer" or int(claims.get("exp", 0)) < now():
            return unauthorized
        user = find_user(rep, user_id=claims.get("sub"))
        client = find_client(rep, claims.get("azp"))
        if user is None or client is None:
            return unauthorized
        return JSONResponse({**standard_claims(user), **mapped_claims(client, user, "userinfo")})

    @app.get("/realms/{realm}/protocol/openid-connect/logout")
    async def logout(realm: str, request: Request) -> Response:
        rep = get_realm(sandbox, realm)
        target = request.query_params.get("post_logout_redirect_uri")
        if rep is not None and target:
            allowed = {u for c in rep.get("clients") or [] for u in c.get("redirectUris") or []}
            allowed |= {c.get("attributes", {}).get("post.logout.redirect.uris") for c in rep.get("clients") or []}
            if target in allowed:
                return RedirectResponse(target, status_code=302)
            return HTMLResponse(pages.error_page("Invalid redirect uri"), status_code=400)
        return HTMLResponse(pages.logged_out_page())

    return app


def _form_secret(sandbox: Sandbox) -> str:
    secret = sandbox.store.kv_get("sso_form_secret")
    if secret is None:
        secret = secrets.token_hex(32)
        sandbox.store.kv_set("sso_form_secret", secret)
    return secret
