"""Developer-portal SSO: the Keycloak realm (through the platform) and the 3scale authentication provider.

The client secret is generated once and kept 0600 in the state directory; it is never printed.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from maas_helpers.catalogue import Sso, resolve_path
from maas_helpers.errors import MaasError
from maas_helpers.reconcile.context import Context
from maas_helpers.results import Change, StepResult
from maas_helpers.secrets import generated_secret

PROVIDERS = "/admin/api/authentication_providers.json"


def client_secret(state_dir: Path, sso: Sso, what: str = "client") -> str:
    """A generated SSO secret (the client's, or the demo user's password), created on first use in a 0600
    file and never printed."""
    return generated_secret(Path(state_dir) / f"sso-{sso.realm}-{sso.client_id}-{what}.secret", 32)


def realm_representation(sso: Sso, secret: str, portal_url: str, demo_password: str,
                         redirect_uris: list[str] | None = None, registration_allowed: bool = False) -> dict[str, Any]:
    """The realm from `manifests/sso/realm.yaml` (placeholders filled) with the kit's client values and
    Keycloak's `registrationAllowed` (the "Register" link on the login page)."""
    source = resolve_path(sso.realm_file)
    realm: dict[str, Any] = {}
    if source.exists():
        text = (source.read_text().replace("${CLIENT_SECRET}", secret).replace("${PORTAL_URL}", portal_url.rstrip("/"))
                .replace("${DEMO_PASSWORD}", demo_password))
        loaded = yaml.safe_load(text) or {}
        # The file may be a KeycloakRealmImport CR or a bare realm representation.
        realm = copy.deepcopy(loaded.get("spec", {}).get("realm", loaded) if isinstance(loaded, dict) else {})
    realm.setdefault("enabled", True)
    realm["realm"] = sso.realm
    realm["registrationAllowed"] = bool(registration_allowed)
    clients = realm.setdefault("clients", [])
    client = next((c for c in clients if c.get("clientId") == sso.client_id), None)
    if client is None:
        client = {"clientId": sso.client_id, "protocol": "openid-connect", "publicClient": False,
                  "standardFlowEnabled": True, "directAccessGrantsEnabled": False}
        clients.append(client)
    client["secret"] = secret
    if redirect_uris:
        client["redirectUris"] = redirect_uris
        origin = re.match(r"^https?://[^/]+", redirect_uris[0])
        client["webOrigins"] = [origin.group(0)] if origin else []
    return realm


def apply_sso(ctx: Context) -> StepResult:
    result = StepResult("Developer portal SSO")
    sso = ctx.catalogue.sso
    if not sso.enabled:
        result.notes.append("SSO disabled in the catalogue")
        return result
    if ctx.platform is None or ctx.state_dir is None:
        result.notes.append("SSO needs the platform (realm URL) and a state dir for the client secret; run it "
                            "through Kit.apply('sso')")
        return result
    site = ctx.platform.sso_realm_url(sso.realm)
    secret = client_secret(ctx.state_dir, sso)
    link = ctx.link("/p/admin/authentication_providers")
    with ctx.client.about("SSO authentication provider"):
        body = ctx.client.get_json(PROVIDERS)
        items = [p.get("authentication_provider", p) for p in body.get("authentication_providers", [])]
        have = next((p for p in items if p.get("kind") == sso.kind), None)
        desired = {"client_id": sso.client_id, "site": site, "published": sso.published,
                   "automatically_approve_accounts": sso.automatically_approve_accounts,
                   "skip_ssl_certificate_verification": sso.skip_ssl_certificate_verification}
        if have is None:
            have = ctx.write(ctx.client.send_json, "POST", PROVIDERS,
                             {"kind": sso.kind, "client_secret": secret, **desired})
            have = (have or {}).get("authentication_provider", have)
            ctx.record(result, "SSO provider", sso.kind, Change.CREATED, site, link)
        else:
            changes = {k: v for k, v in desired.items() if have.get(k) != v}
            if "client_secret" in have and have.get("client_secret") != secret:
                changes["client_secret"] = secret
            if changes:
                ctx.write(ctx.client.send_json, "PUT", f"/admin/api/authentication_providers/{have['id']}.json",
                          changes)
                ctx.record(result, "SSO provider", sso.kind, Change.UPDATED, ", ".join(changes), link)
            else:
                ctx.record(result, "SSO provider", sso.kind, Change.UNCHANGED, site, link)
    if ctx.plan_only and not have:
        # Planning from empty: the provider (and so 3scale's callback_url) only exists after apply creates it.
        ctx.record(result, "SSO realm", sso.realm, Change.CREATED, "after the provider gives its callback_url")
        return result
    callback = str((have or {}).get("callback_url") or "")
    if not re.match(r"^https?://[^/\s]+/", callback):
        # The realm's only redirect URI is 3scale's own callback: a relative or guessed one would either
        # not match at login or (with a wildcard) let any URI through.
        raise MaasError(
            f"SSO provider {sso.kind}: 3scale returned no absolute callback_url ({callback or 'none'}); check the "
            "provider in the admin portal (Audience → Developer Portal → SSO Integrations) and re-run apply('sso')"
        )
    redirect_uris = [callback]
    portal_url = callback.split("/auth/", 1)[0]
    if ctx.plan_only:
        ctx.record(result, "SSO realm", sso.realm, Change.UNCHANGED, "checked at apply")
        return result
    demo = client_secret(ctx.state_dir, sso, "demo-user")
    settings = getattr(ctx.platform, "settings", None)
    allowed = settings is not None and (settings.target == "sandbox" or bool(settings.sso_registration))
    realm = ctx.platform.ensure_sso(realm_representation(sso, secret, portal_url, demo, redirect_uris,
                                                          registration_allowed=allowed))
    result.extend(realm)
    for action in realm.actions:  # the platform's rows advance the progress bar like the kit's own
        if ctx.progress is not None:
            ctx.progress(action)
    return result
