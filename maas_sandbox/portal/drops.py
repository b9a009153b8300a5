"""Liquid drops shaped like 3scale's (porta `lib/developer_portal/.../liquid/drops`), built from the store.

Only what our content and 3scale's documented drops share: provider (name, api_specs, signups_enabled?,
multiple_applications_allowed?),
api_spec (name, system_name, url, published?, service, api_product_production_public_base_url), service
(id, name, system_name, description, application_plans), application (id, name, description, state,
user_key, user_key_mode?, url, service, plan), current_user, current_account (name, applications), urls,
site.authentication_providers, flash.messages, page, today.
"""

from __future__ import annotations

from typing import Any

from maas_sandbox.admin.domain_accounts import multiple_applications_allowed
from maas_sandbox.context import Sandbox

Obj = dict[str, Any]

URLS = {
    "login": "/login",
    "logout": "/logout",
    "signup": "/signup",
    "applications": "/admin/applications",
    "new_application": "/admin/applications/new",
}


def production_endpoint(sandbox: Sandbox, service_id: int | None) -> str | None:
    proxy = sandbox.store.first("proxy", service_id=service_id) if service_id is not None else None
    return (proxy or {}).get("endpoint") or None


def service_drop(sandbox: Sandbox, service: Obj) -> Obj:
    plans = sandbox.store.list("plan", type="application_plan", issuer_id=service["id"])
    return {
        "id": service["id"],
        "name": service.get("name"),
        "system_name": service.get("system_name"),
        "description": service.get("description") or "",
        "application_plans": [
            {"id": p["id"], "name": p["name"], "system_name": p["system_name"]}
            for p in plans
            if p.get("state") == "published"
        ],
    }


def api_spec_drop(sandbox: Sandbox, doc: Obj) -> Obj:
    service = sandbox.store.get("service", doc.get("service_id")) if doc.get("service_id") else None
    return {
        "id": doc["id"],
        "name": doc.get("name"),
        "system_name": doc.get("system_name"),
        "description": doc.get("description") or "",
        "url": f"/swagger/spec/{doc.get('system_name')}.json",
        "published?": bool(doc.get("published")),
        "service": service_drop(sandbox, service) if service else None,
        "api_product_production_public_base_url": production_endpoint(sandbox, service["id"]) if service else None,
    }


def application_drop(sandbox: Sandbox, app: Obj) -> Obj:
    service = sandbox.store.get("service", app.get("service_id"))
    plan = sandbox.store.get("plan", app.get("plan_id")) or {}
    return {
        "id": app["id"],
        "name": app.get("name"),
        "description": app.get("description") or "",
        "state": app.get("state"),
        "user_key": app.get("user_key"),
        "user_key_mode?": app.get("user_key") is not None,
        "url": f"/admin/applications/{app['id']}",
        "service": service_drop(sandbox, service) if service else None,
        "plan": {"id": plan.get("id"), "name": plan.get("name"), "system_name": plan.get("system_name")},
    }


def provider_drop(sandbox: Sandbox) -> Obj:
    provider = sandbox.store.first("provider") or {}
    docs = [d for d in sandbox.store.list("active_doc") if d.get("published")]
    return {
        "name": provider.get("org_name") or "Models as a Service",
        "domain": provider.get("domain"),
        "signups_enabled?": True,
        "multiple_applications_allowed?": multiple_applications_allowed(sandbox),
        "api_specs": [api_spec_drop(sandbox, d) for d in docs],
    }


def site_drop(sandbox: Sandbox) -> Obj:
    providers = [p for p in sandbox.store.list("authentication_provider") if p.get("published")]
    return {
        "authentication_providers": [
            {
                "name": p.get("name") or p.get("kind"),
                "system_name": p.get("system_name"),
                "kind": p.get("kind"),
                "authorize_url": f"/auth/{p.get('system_name')}/authorize",
            }
            for p in providers
        ]
    }


def account_drops(sandbox: Sandbox, user: Obj | None) -> tuple[Obj | None, Obj | None, list[Obj]]:
    """current_user, current_account and the account's applications (only this account's — never others')."""
    if user is None:
        return None, None, []
    account = sandbox.store.get("account", user["account_id"]) or {}
    apps = [application_drop(sandbox, a) for a in sandbox.store.list("application", account_id=user["account_id"])]
    current_user = {
        "id": user["id"],
        "username": user.get("username"),
        "email": user.get("email"),
        "display_name": user.get("username"),
        "admin?": user.get("role") == "admin",
    }
    current_account = {"id": account.get("id"), "name": account.get("org_name"), "applications": apps}
    return current_user, current_account, apps
