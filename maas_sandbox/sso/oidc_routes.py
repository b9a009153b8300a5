"""The OpenID Connect endpoints a relying party calls: discovery, JWKS, token (authorization code + PKCE
S256), userinfo and logout, at Keycloak's `/realms/{realm}/...` paths."""

from __future__ import annotations

import base64
import hmac
import secrets
from typing import Any
from urllib.parse import unquote

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError

from maas_sandbox.sso import pages
from maas_sandbox.sso.keys import jwks, signing_key
from maas_sandbox.sso.realms import find_client, find_user, get_realm, mapped_claims, standard_claims
from maas_sandbox.sso.state import SsoDep

Obj = dict[str, Any]
TOKEN_TTL = 300
router = APIRouter()


@router.get("/realms/{realm}/.well-known/openid-configuration")
async def discovery(realm: str, sso: SsoDep) -> Response:
    if get_realm(sso.sandbox, realm) is None:
        return JSONResponse({"error": "Realm does not exist"}, status_code=404)
    return JSONResponse(
        {
            "issuer": sso.issuer(realm),
            "authorization_endpoint": sso.oidc(realm, "auth"),
            "token_endpoint": sso.oidc(realm, "token"),
            "userinfo_endpoint": sso.oidc(realm, "userinfo"),
            "jwks_uri": sso.oidc(realm, "certs"),
            "end_session_endpoint": sso.oidc(realm, "logout"),
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


@router.get("/realms/{realm}/protocol/openid-connect/certs")
async def certs(realm: str, sso: SsoDep) -> Response:
    if get_realm(sso.sandbox, realm) is None:
        return JSONResponse({"error": "Realm does not exist"}, status_code=404)
    return JSONResponse(jwks(sso.sandbox))


def _token_error(error: str, description: str, status: int = 400) -> Response:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def _client_credentials(request: Request, form: Any) -> tuple[str | None, str | None]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            raw = base64.b64decode(header[6:]).decode()
        except ValueError:
            return None, None
        cid, _, secret = raw.partition(":")
        return unquote(cid), unquote(secret)
    return form.get("client_id"), form.get("client_secret")


@router.post("/realms/{realm}/protocol/openid-connect/token")
async def token(realm: str, request: Request, sso: SsoDep) -> Response:
    rep = get_realm(sso.sandbox, realm)
    if rep is None:
        return _token_error("invalid_request", "Realm does not exist", 404)
    form = await request.form()
    cid, secret = _client_credentials(request, form)
    client = find_client(rep, cid)
    if client is None or not secret or not hmac.compare_digest(str(secret), str(client.get("secret", ""))):
        return _token_error("unauthorized_client", "Invalid client or Invalid client credentials", 401)
    if form.get("grant_type") != "authorization_code":
        return _token_error("unsupported_grant_type", "Unsupported grant_type")
    grant = sso.codes.pop(str(form.get("code", "")), None)  # single use, even when the request fails below
    if grant is None or grant["expires"] < sso.sandbox.clock.time() or grant["realm"] != realm:
        return _token_error("invalid_grant", "Code not valid")
    if grant["client_id"] != client["clientId"]:
        return _token_error("invalid_grant", "Auth error")
    if form.get("redirect_uri") != grant["redirect_uri"]:
        return _token_error("invalid_grant", "Incorrect redirect_uri")
    verifier = str(form.get("code_verifier") or "")
    if not verifier:
        return _token_error("invalid_grant", "PKCE code verifier not specified")
    if not hmac.compare_digest(create_s256_code_challenge(verifier), grant["code_challenge"]):
        return _token_error("invalid_grant", "PKCE verification failed: Invalid code verifier")
    user = find_user(rep, user_id=grant["user_id"])
    if user is None:
        return _token_error("invalid_grant", "User not found")
    iat = sso.now()
    common = {"iss": sso.issuer(realm), "iat": iat, "exp": iat + TOKEN_TTL, "auth_time": iat,
              "azp": client["clientId"]}
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
            "access_token": sso.sign(access_claims),
            "id_token": sso.sign(id_claims),
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL,
            "scope": grant.get("scope") or "openid",
        },
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


@router.api_route("/realms/{realm}/protocol/openid-connect/userinfo", methods=["GET", "POST"])
async def userinfo(realm: str, request: Request, sso: SsoDep) -> Response:
    rep = get_realm(sso.sandbox, realm)
    header = request.headers.get("authorization", "")
    bearer = header[7:] if header.lower().startswith("bearer ") else ""
    unauthorized = JSONResponse(
        {"error": "invalid_token"}, status_code=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )
    if rep is None or not bearer:
        return unauthorized
    try:
        claims = jwt.decode(bearer, signing_key(sso.sandbox), algorithms=["RS256"]).claims
    except (JoseError, ValueError):
        return unauthorized
    if claims.get("iss") != sso.issuer(realm) or claims.get("typ") != "Bearer" or int(claims.get("exp", 0)) < sso.now():
        return unauthorized
    user = find_user(rep, user_id=claims.get("sub"))
    client = find_client(rep, claims.get("azp"))
    if user is None or client is None:
        return unauthorized
    return JSONResponse({**standard_claims(user), **mapped_claims(client, user, "userinfo")})


@router.get("/realms/{realm}/protocol/openid-connect/logout")
async def logout(realm: str, request: Request, sso: SsoDep) -> Response:
    rep = get_realm(sso.sandbox, realm)
    target = request.query_params.get("post_logout_redirect_uri")
    if rep is not None and target:
        allowed = {u for c in rep.get("clients") or [] for u in c.get("redirectUris") or []}
        allowed |= {c.get("attributes", {}).get("post.logout.redirect.uris") for c in rep.get("clients") or []}
        if target in allowed:
            return RedirectResponse(target, status_code=302)
        return HTMLResponse(pages.error_page("Invalid redirect uri"), status_code=400)
    return HTMLResponse(pages.logged_out_page())
