"""Developer-portal sign-in through the Admin API's `authentication_provider` (kind keycloak), as 3scale does:
site = realm URL, client_id/secret, callback `<portal>/auth/<system_name>/callback`. Authorization code flow
with PKCE (S256), `state` and `nonce` kept in the signed session and checked; the ID token's RS256 signature,
issuer, audience, expiry and nonce are verified against the realm's JWKS. First sign-in creates the account
through `signup` (org_name from the `org_name` claim), approved when the provider auto-approves."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from maas_sandbox.admin.conventions import ApiError
from maas_sandbox.admin.domain_accounts import link_sso_user, signup
from maas_sandbox.context import Sandbox

Obj = dict[str, Any]


class SsoError(Exception):
    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


def _provider(sandbox: Sandbox, system_name: str) -> Obj:
    found = sandbox.store.first("authentication_provider", system_name=system_name)
    if found is None or not found.get("published"):
        raise SsoError("This sign-in method is not available.", 404)
    if not found.get("site"):
        raise SsoError("The sign-in provider has no site configured.", 404)
    return found


async def _discovery(provider: Obj) -> Obj:
    url = provider["site"].rstrip("/") + "/.well-known/openid-configuration"
    async with httpx.AsyncClient(timeout=10, verify=not provider.get("skip_ssl_certificate_verification")) as client:
        resp = await client.get(url)
    if resp.status_code != 200:
        raise SsoError(f"The identity provider is not reachable ({resp.status_code}).", 502)
    return resp.json()


def _callback(sandbox: Sandbox, system_name: str) -> str:
    return f"{sandbox.portal_url}/auth/{system_name}/callback"


async def start_sso(sandbox: Sandbox, system_name: str, session: Obj) -> str:
    provider = _provider(sandbox, system_name)
    meta = await _discovery(provider)
    verifier = generate_token(64)
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    client = AsyncOAuth2Client(
        client_id=provider["client_id"],
        redirect_uri=_callback(sandbox, system_name),
        scope="openid email profile",
        code_challenge_method="S256",
    )
    url, _ = client.create_authorization_url(
        meta["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
    )
    session["sso"] = {"provider": system_name, "state": state, "nonce": nonce, "verifier": verifier}
    return url


async def finish_sso(sandbox: Sandbox, system_name: str, session: Obj, query: Obj) -> Obj:
    pending = session.pop("sso", None)
    if not pending or pending.get("provider") != system_name:
        raise SsoError("No sign-in is in progress; start again from the sign-in page.")
    if not query.get("state") or not secrets.compare_digest(str(query["state"]), pending["state"]):
        raise SsoError("The sign-in response does not match this session (state).")
    if query.get("error"):
        raise SsoError(f"The identity provider refused the sign-in: {query.get('error_description') or query['error']}")
    provider = _provider(sandbox, system_name)
    meta = await _discovery(provider)
    async with AsyncOAuth2Client(
        client_id=provider["client_id"],
        client_secret=provider["client_secret"],
        redirect_uri=_callback(sandbox, system_name),
        token_endpoint_auth_method="client_secret_basic",
        timeout=10,
        verify=not provider.get("skip_ssl_certificate_verification"),
    ) as client:
        try:
            token = await client.fetch_token(
                meta["token_endpoint"], code=query.get("code"), code_verifier=pending["verifier"]
            )
        except Exception as exc:  # authlib raises OAuthError and friends; all mean "no token"
            raise SsoError(f"The identity provider did not issue a token: {exc}") from exc

    async with httpx.AsyncClient(timeout=10, verify=not provider.get("skip_ssl_certificate_verification")) as plain:
        jwks = (await plain.get(meta["jwks_uri"])).json()
    claims = _verify_id_token(
        sandbox, token.get("id_token"), jwks, meta["issuer"], provider["client_id"], pending["nonce"]
    )
    return _user_for(sandbox, provider, claims)


def _verify_id_token(sandbox: Sandbox, id_token: Any, jwks: Obj, issuer: str, client_id: str, nonce: str) -> Obj:
    if not isinstance(id_token, str):
        raise SsoError("The identity provider returned no ID token.")
    try:
        claims = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=["RS256"]).claims
    except (JoseError, ValueError) as exc:
        raise SsoError("The ID token signature is not valid.") from exc
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if claims.get("iss") != issuer or client_id not in audiences:
        raise SsoError("The ID token was not issued for this portal.")
    if int(claims.get("exp", 0)) < int(sandbox.clock.time()):
        raise SsoError("The ID token has expired.")
    if not claims.get("nonce") or not secrets.compare_digest(str(claims["nonce"]), nonce):
        raise SsoError("The ID token does not match this sign-in (nonce).")
    if not claims.get("sub"):
        raise SsoError("The ID token has no subject.")
    return claims


def _user_for(sandbox: Sandbox, provider: Obj, claims: Obj) -> Obj:
    link = {"provider_id": provider["id"], "uid": claims["sub"]}
    for user in sandbox.store.list("user"):
        if user.get("_sso") == link:
            return user
    # porta's Users::FindOAuth2UserService: by SSO authorization first, then by a *verified* email (and the
    # authorization is recorded on that user).
    if claims.get("email") and claims.get("email_verified"):
        by_email = sandbox.store.first("user", email=str(claims["email"]))
        if by_email is not None:
            return link_sso_user(sandbox, by_email, link)
    email = claims.get("email") or f"{claims['sub']}@sso.invalid"
    username = claims.get("preferred_username") or email.split("@", 1)[0]
    if sandbox.store.first("user", username=username) is not None:
        username = f"{username}-{secrets.token_hex(3)}"
    org_name = claims.get("org_name") or email
    state = "approved" if provider.get("automatically_approve_accounts") else "pending"
    try:
        _account, user = signup(
            sandbox, org_name, username, email, secrets.token_urlsafe(24), account_state=state, sso=link
        )
    except ApiError as exc:
        raise SsoError(f"Your developer account could not be created: {exc}", 422) from exc
    return user
