"""Developer-portal SSO: the Keycloak realm (through the platform) and the 3scale authentication provider.

The realm is read back from the SSO (`Platform.sso_realm`), compared with the one the kit wants by a pure
planner, and written by the platform only when they differ. The client secret is generated once and kept 0600
in the state directory; it is never printed (field changes show it masked).
"""

from __future__ import annotations

import copy
import html
import re
from pathlib import Path
from typing import Any

import yaml

from maas_helpers.catalogue import Sso, resolve_path
from maas_helpers.errors import MaasError
from maas_helpers.normalise import comparable
from maas_helpers.reconcile.actions import Action, FieldChange, Links, Write, act, field_changes
from maas_helpers.reconcile.context import Context
from maas_helpers.results import Change, StepResult
from maas_helpers.secrets import generated_secret, mask

PROVIDERS = "/admin/api/authentication_providers.json"


def client_secret(state_dir: Path, sso: Sso, what: str = "client") -> str:
    """A generated SSO secret (the client's, or the demo user's password), created on first use in a 0600
    file and never printed."""
    return generated_secret(Path(state_dir) / f"sso-{sso.realm}-{sso.client_id}-{what}.secret", 32)


def realm_representation(sso: Sso, secret: str, portal_url: str, demo_password: str,
                         redirect_uris: list[str] | None = None, registration_allowed: bool = False,
                         org_name: str | None = None) -> dict[str, Any]:
    """The realm from `manifests/sso/realm.yaml` (placeholders filled) with the kit's client values,
    Keycloak's `registrationAllowed` (the "Register" link on the login page) and, given the organisation's
    name, the realm's `displayName` (page titles) and `displayNameHtml` (the login pages' header), so the
    sign-in, registration and password pages name the organisation the notebooks configured."""
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
    if org_name:
        realm["displayName"] = org_name
        realm["displayNameHtml"] = html.escape(org_name)  # Keycloak renders it as HTML (sanitised)
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


# --- the realm: desired (the kit's representation) vs observed (read back from the SSO) ----------------------


def _secret_field(path: str) -> bool:
    return path.endswith(".secret") or ".credentials" in path


def _shown(path: str, value: Any) -> Any:
    """A value as a FieldChange may show it: secrets masked (the last 4 characters at most), never in clear."""
    return mask(str(value)) if _secret_field(path) and value is not None else value


def _compare(path: str, have: Any, want: Any, out: list[FieldChange]) -> None:
    """The differences between `want` and `have`, field by field (only the fields the kit sets)."""
    key = path.rsplit(".", 1)[-1]
    if isinstance(want, dict):
        have = have if isinstance(have, dict) else {}
        for k, v in want.items():
            _compare(f"{path}.{k}", have.get(k), v, out)
    elif isinstance(want, list) and all(isinstance(w, dict) for w in want) and want:
        ident = next((k for k in ("clientId", "username", "name", "type") if k in want[0]), None)
        have_list = have if isinstance(have, list) else []
        if ident is None:
            if have_list != want:
                out.append(FieldChange(path, _shown(path, have), _shown(path, want)))
            return
        by_id = {str(h.get(ident)).lower(): h for h in have_list if isinstance(h, dict)}
        for item in want:
            name = str(item.get(ident))
            found = by_id.get(name.lower())
            if found is None:
                out.append(FieldChange(f"{path}[{name}]", "absent", "present"))
            else:
                _compare(f"{path}[{name}]", found, item, out)
    elif comparable(key, have) != comparable(key, want):  # maas_helpers.normalise: e.g. redirect URIs as a set
        out.append(FieldChange(path, _shown(path, have), _shown(path, want)))


def realm_changes(desired: dict[str, Any], observed: dict[str, Any]) -> tuple[FieldChange, ...]:
    """What differs between the realm the kit wants and the one the SSO holds. A user's credentials are compared
    only where the provider shows them (a KeycloakRealmImport does; Keycloak's users API never returns them)."""
    out: list[FieldChange] = []
    for key, want in desired.items():
        if key == "users":
            have = {str(u.get("username", "")).lower(): u for u in observed.get("users") or []}
            for user in want or []:
                name = str(user.get("username", "")).lower()
                found = have.get(name)
                if found is None:
                    out.append(FieldChange(f"users[{name}]", "absent", "present"))
                    continue
                shown = {k: v for k, v in user.items() if k != "credentials" or "credentials" in found}
                _compare(f"users[{name}]", found, shown, out)
        elif key == "clients":
            _compare("clients", observed.get("clients") or [], want, out)
        else:
            _compare(key, observed.get(key), want, out)
    return tuple(out)


def plan_sso_realm(desired: dict[str, Any], observed: dict[str, Any] | None, link: str | None) -> Action:
    """The realm: created when the SSO has none, updated when a field the kit sets differs (secrets masked in
    the field changes), else unchanged. The platform writes it (`ensure_sso(write_realm=...)`)."""
    name = str(desired.get("realm"))
    clients = "clients: " + ", ".join(str(c.get("clientId", "?")) for c in desired.get("clients") or [])
    if observed is None:
        return act("realm", name, Change.CREATED, detail=clients, link=link)
    changes = realm_changes(desired, observed)
    return act("realm", name, Change.UPDATED if changes else Change.UNCHANGED, changes=changes, link=link)


# --- the 3scale authentication provider ------------------------------------------------------------------------
def plan_sso_provider(kind: str, desired: dict[str, Any], secret: str, observed: dict[str, Any] | None,
                      site: str, links: Links) -> Action:
    """porta admin/api/authentication_providers_controller.rb: create with kind + client_secret + the fields,
    update the differing fields by id (the secret only where the API shows it)."""
    link = links.page("/p/admin/authentication_providers")
    if observed is None:
        return act("SSO provider", kind, Change.CREATED,
                   Write("POST", PROVIDERS, {"kind": kind, "client_secret": secret, **desired}, provides="provider"),
                   detail=site, link=link)
    changes = list(field_changes(observed, desired))
    body = {c.field: c.new for c in changes}
    if "client_secret" in observed and observed.get("client_secret") != secret:
        changes.append(FieldChange("client_secret", mask(str(observed.get("client_secret"))), mask(secret)))
        body["client_secret"] = secret
    if not changes:
        return act("SSO provider", kind, Change.UNCHANGED, detail=site, link=link)
    return act("SSO provider", kind, Change.UPDATED,
               Write("PUT", "/admin/api/authentication_providers/{}.json", body, args=(observed["id"],)),
               changes=changes, detail=", ".join(c.field for c in changes), link=link)


def providers(ctx: Context) -> dict[str, Any]:
    """The developer portal's authentication providers (one listing per run)."""
    return ctx.cached("auth_providers", lambda: ctx.client.get_json(PROVIDERS))


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
    with ctx.client.about("SSO authentication provider"):
        items = [p.get("authentication_provider", p) for p in providers(ctx).get("authentication_providers", [])]
        have = next((p for p in items if p.get("kind") == sso.kind), None)
        desired = {"client_id": sso.client_id, "site": site, "published": sso.published,
                   "automatically_approve_accounts": sso.automatically_approve_accounts,
                   "skip_ssl_certificate_verification": sso.skip_ssl_certificate_verification}
        action = plan_sso_provider(sso.kind, desired, secret, have, site, ctx.links)
        created = ctx.execute(result, [action])
        have = created.get("provider") or have
    if action.writes and not ctx.plan_only:
        ctx.forget("auth_providers")
    if ctx.plan_only and not have:
        # Planning from empty: the provider (and so 3scale's callback_url) only exists after apply creates it.
        ctx.execute(result, [act("SSO realm", sso.realm, Change.CREATED,
                                 detail="after the provider gives its callback_url")])
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
    demo = client_secret(ctx.state_dir, sso, "demo-user")
    allowed = bool(getattr(ctx.platform, "sso_registration_allowed", False))
    realm = realm_representation(sso, secret, portal_url, demo, redirect_uris, registration_allowed=allowed,
                                 org_name=ctx.catalogue.organisation.org_name)
    users = [str(u.get("username", "")) for u in realm.get("users") or []]
    observe = getattr(ctx.platform, "sso_realm", None)
    observed = observe(sso.realm, users) if observe is not None else None
    action = plan_sso_realm(realm, observed, f"{site}/.well-known/openid-configuration")
    if not ctx.plan_only:
        step = ctx.platform.ensure_sso(realm, write_realm=action.change is not Change.UNCHANGED)
        result.extend(step)
        for row in step.actions:  # the platform's rows advance the progress bar like the kit's own
            if ctx.progress is not None:
                ctx.progress(row)
    ctx.execute(result, [action])
    return result
