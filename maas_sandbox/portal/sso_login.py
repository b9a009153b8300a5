"""Developer-portal sign-in through the Admin API's `authentication_provider` (kind keycloak), as 3scale does:
site = realm URL, client_id/secret, callback `<portal>/auth/<system_name>/callback`. Authorization code flow
with PKCE (S256), `state` and `nonce` kept in the signed session and checked; the ID token's RS256 signature,
issuer, audience, expiry and nonce are verified against the realm's JWKS. First sign-in creates the account
through `signup` (org_name from the `org_name` claim), approved when the provider auto-approves."""

from __future__ import annotations

import secrets
import ssl
import time
from functools import cache
from typing import Any

import certifi
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


@cache
def _tls(skip_verification: bool) -> ssl.SSLContext:
    """One TLS context per setting, built once: httpx builds a new one (loading every CA certificate, ~10 ms
    of CPU) for each client, and these clients serve anonymous sign-ins on the loop that serves the gateways."""
    if skip_verification:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=certifi.where())


def _verify(provider: Obj) -> ssl.SSLContext:
    return _tls(bool(provider.get("skip_ssl_certificate_verification")))


def _provider(sandbox: Sandbox, system_name: str) -> Obj:
    found = sandbox.store.first("authentication_provider", system_name=system_name)
    if found is None or not found.get("published"):
        raise SsoError("This sign-in method is not available.", 404)
    if not found.get("site"):
        raise SsoError("The sign-in provider has no site configured.", 404)
    return found


# Discovery documents and key sets, per URL, for a minute (OIDC clients cache both; a key set is fetched again
# at once when a token's key is not in it): a sign-in costs the shared loop one back-channel call, not three.
_CACHE_SECONDS = 60.0
_cached: dict[str, tuple[float, Obj]] = {}


async def _get_json(provider: Obj, url: str, *, fresh: bool = False) -> Obj:
    hit = _cached.get(url)
    if hit is not None and not fresh and time.monotonic() - hit[0] < _CACHE_SECONDS:
        return hit[1]
    async with httpx.AsyncClient(timeout=10, verify=_verify(provider)) as client:
        resp = await client.get(url)
    if resp.status_code != 200:
        raise SsoError(f"The identity provider is not reachable ({resp.status_code}).", 502)
    body = resp.json()
    if len(_cached) > 100:
        _cached.clear()
    _cached[url] = (time.monotonic(), body)
    return body


async def _discovery(provider: Obj) -> Obj:
    return await _get_json(provider, provider["site"].rstrip("/") + "/.well-known/openid-configuration")


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
        verify=_verify(provider),
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
        verify=_verify(provider),
    ) as client:
        try:
            token = await client.fetch_token(
                meta["token_endpoint"], code=query.get("code"), code_verifier=pending["verifier"]
            )
        except Exception as exc:  # authlib raises OAuthError and friends; all mean "no token"
            raise SsoError(f"The identity provider did not issue a token: {exc}") from exc

    id_token, nonce = token.get("id_token"), pending["nonce"]
    try:
        jwks = await _get_json(provider, meta["jwks_uri"])
        claims = _verify_id_token(sandbox, id_token, jwks, meta["issuer"], provider["client_id"], nonce)
    except SsoError:  # perhaps a rotated key: verify once more against a fresh key set
        jwks = await _get_json(provider, meta["jwks_uri"], fresh=True)
        claims = _verify_id_token(sandbox, id_token, jwks, meta["issuer"], provider["client_id"], nonce)
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
        # no password: the user signs in through the provider only (porta's SSO signup leaves it blank), and
        # an argon2 hash here would run on the event loop for anyone who can register at the SSO
        _account, user = signup(sandbox, org_name, username, email, None, account_state=state, sso=link)
    except ApiError as exc:
        raise SsoError(f"Your developer account could not be created: {exc}", 422) from exc
    return user
