"""Developer-portal authentication providers (reference §17): list, create, read, update — no delete.

One provider per kind (`keycloak`, `github`, `auth0`); system_name = kind. Keycloak needs its realm URL
(`site`), client id and secret. Endpoint URLs derive from `site` as 3scale's OAuth strategies do.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from maas_sandbox.admin import domain_provider as provider_domain
from maas_sandbox.admin.conventions import (
    NotFound,
    Unprocessable,
    admin_router,
    as_bool,
    collection,
    path_id,
    public,
    read_params,
    sandbox_of,
    single,
    wrapped,
)
from maas_sandbox.context import Sandbox

router = admin_router(tags=["authentication_providers"])
Obj = dict[str, Any]
API = "/admin/api/authentication_providers"
KIND_NAMES = {"keycloak": "Red Hat Single Sign-On", "github": "GitHub", "auth0": "Auth0"}
UPDATABLE = ("client_id", "client_secret", "site")
UPDATABLE_FLAGS = ("published", "skip_ssl_certificate_verification", "automatically_approve_accounts")


def _endpoints(kind: str, site: str | None) -> Obj:
    base = (site or "").rstrip("/")
    if kind == "keycloak":
        oidc = f"{base}/protocol/openid-connect"
        return {"token_url": f"{oidc}/token", "authorize_url": f"{oidc}/auth", "user_info_url": f"{oidc}/userinfo"}
    if kind == "auth0":
        return {
            "token_url": f"{base}/oauth/token",
            "authorize_url": f"{base}/authorize",
            "user_info_url": f"{base}/userinfo",
        }
    return {
        "token_url": "https://github.com/login/oauth/access_token",
        "authorize_url": "https://github.com/login/oauth/authorize",
        "user_info_url": "https://api.github.com/user",
    }


def provider_view(sandbox: Sandbox, provider: Obj) -> Obj:
    view = public(provider)
    view["callback_url"] = f"{sandbox.portal_url}/auth/{provider['system_name']}/callback"
    view["account_type"] = provider.get("account_type", "developer")
    view["branding_state"] = (
        "custom_branded" if provider.get("client_id") or provider["kind"] != "github" else ("threescale_branded")
    )
    return view


def _check(kind: str, values: Obj) -> None:
    errors: dict[str, list[str]] = {}
    if kind in ("keycloak", "auth0"):
        for field in ("site", "client_id", "client_secret"):
            if not str(values.get(field) or "").strip():
                errors[field] = ["can't be blank"]
        site = str(values.get("site") or "")
        # authentication_provider.rb: an http(s) URI somewhere in it (`make_regexp` is unanchored) else the
        # `invalid_url` message; keycloak.rb adds `contains_whitespace` (both from porta's config/locales/en.yml)
        found: list[str] = []
        if site and not re.search(r"https?:[^\s]", site):
            found.append("Invalid URL format")
        if kind == "keycloak" and re.search(r"\s", site):
            found.append("can't contain whitespaces")
        if found:
            errors["site"] = found
    if errors:
        raise Unprocessable(errors)


def _provider(sandbox: Sandbox, provider_id: str) -> Obj:
    provider = sandbox.store.get("authentication_provider", path_id(provider_id))
    if provider is None:
        raise NotFound()
    return provider


@router.get(API + ".json")
async def list_providers(request: Request) -> Response:
    sandbox = sandbox_of(request)
    rows = [provider_view(sandbox, p) for p in sandbox.store.list("authentication_provider")]
    return collection("authentication_providers", "authentication_provider", rows)


def _system_name(kind: str, attrs: Obj) -> str:
    """porta app/lib/system_name.rb: the given system_name, else the name parameterized and underscored, else
    `<kind>_<12 hex>` (internal_system_name: the model's param_key and SecureRandom.hex(6))."""
    given = str(attrs.get("system_name") or "").strip()
    if given:
        return given
    slug = re.sub(r"[^a-z0-9]+", "_", str(attrs.get("name") or "").lower()).strip("_")
    return slug or f"{kind}_{secrets.token_hex(6)}"


@router.post(API + ".json")
async def create_provider(request: Request) -> Response:
    sandbox = sandbox_of(request)
    attrs = wrapped(await read_params(request), "authentication_provider")
    kind = str(attrs.get("kind") or "")
    if not kind:
        raise Unprocessable({"kind": ["can't be blank"]})
    if kind not in KIND_NAMES:
        raise Unprocessable({"kind": ["is not included in the list"]})
    # `kind` is also the store's own argument name, so filter here
    if any(p["kind"] == kind for p in sandbox.store.list("authentication_provider")):
        raise Unprocessable({"kind": ["has already been taken"]})
    site = attrs.get("site") or None
    values: Obj = {
        "kind": kind,
        "name": attrs.get("name") or KIND_NAMES[kind],
        "system_name": _system_name(kind, attrs),
        "client_id": attrs.get("client_id") or None,
        "client_secret": attrs.get("client_secret") or None,
        "site": site,
        **_endpoints(kind, site),
        "identifier_key": attrs.get("identifier_key") or "id",
        "username_key": attrs.get("username_key") or "login",
        "trust_email": as_bool(attrs.get("trust_email")),
        "published": as_bool(attrs.get("published")),
        "skip_ssl_certificate_verification": as_bool(attrs.get("skip_ssl_certificate_verification")),
        "automatically_approve_accounts": as_bool(attrs.get("automatically_approve_accounts")),
        "account_type": "developer",
    }
    for url_field in ("token_url", "authorize_url", "user_info_url"):
        if attrs.get(url_field):
            values[url_field] = str(attrs[url_field])
    _check(kind, values)
    provider = provider_domain.create(sandbox, "authentication_provider", values)
    return single("authentication_provider", provider_view(sandbox, provider), status=201)


@router.get(API + "/{provider_id}.json")
async def read_provider(request: Request, provider_id: str) -> Response:
    sandbox = sandbox_of(request)
    return single("authentication_provider", provider_view(sandbox, _provider(sandbox, provider_id)))


@router.put(API + "/{provider_id}.json")
async def update_provider(request: Request, provider_id: str) -> Response:
    """Only client_id, client_secret, site and the three flags change; other params are ignored."""
    sandbox = sandbox_of(request)
    provider = _provider(sandbox, provider_id)
    attrs = wrapped(await read_params(request), "authentication_provider")
    changes: Obj = {k: (attrs[k] or None) for k in UPDATABLE if k in attrs}
    changes.update({k: as_bool(attrs[k]) for k in UPDATABLE_FLAGS if k in attrs})
    merged = {**provider, **changes}
    _check(provider["kind"], merged)
    if "site" in changes and provider["kind"] != "github":
        changes.update(_endpoints(provider["kind"], changes["site"]))
    provider = provider_domain.update(sandbox, "authentication_provider", provider, changes)
    return single("authentication_provider", provider_view(sandbox, provider))


@router.delete(API + "/{provider_id}.json")
async def delete_provider(request: Request, provider_id: str) -> Response:
    """porta has no such route for developer-portal providers: Rails answers 404."""
    raise NotFound()
