"""Liquid drops shaped like 3scale's (porta `lib/developer_portal/.../liquid/drops`), built from the store.

Only what our content and 3scale's documented drops share: provider (name, api_specs, signups_enabled?,
multiple_applications_allowed?),
api_spec (name, system_name, url, published?, service, api_product_production_public_base_url), service
(id, name, system_name, description, application_plans), application (id, name, description, state,
user_key, user_key_mode?, url, service, plan), application_plan (id, name, system_name, setup_fee, cost,
flat_cost, paid?, free?, approval_required?, trial_period_days, usage_limits → period, value, metric, metrics →
name, system_name, unit, usage_limits, pricing_rules → cost_per_unit, min, max, plan),
current_user, current_account (name, applications), urls,
site.authentication_providers, flash.messages, page, today.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from markupsafe import Markup

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
        # porta drops/service.rb: the **published** application plans, as ApplicationPlan drops
        "application_plans": [application_plan_drop(sandbox, p) for p in plans if p.get("state") == "published"],
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


CURRENCY = "USD"  # porta billing_strategies.currency default (the sandbox has no billing settings UI)


def price_tag(value: Any, precision: int = 2) -> Markup:
    """porta money_helper.rb `price_tag`: "%u&nbsp;%n", number_to_currency with the given precision."""
    amount = Decimal(str(value or 0)).quantize(Decimal(1).scaleb(-precision))
    return Markup(f"{CURRENCY}&nbsp;{amount:,}")


def _plan_ref(plan: Obj | None) -> Obj:
    return {"id": plan["id"], "name": plan.get("name"), "system_name": plan.get("system_name")} if plan else {}


def _metric_ref(metric: Obj) -> Obj:
    """porta drops/metric.rb: `name` is the friendly name, `system_name` the metric's name."""
    return {"id": metric["id"], "name": metric.get("friendly_name") or metric.get("system_name"),
            "system_name": metric.get("system_name"), "unit": metric.get("unit"),
            "description": metric.get("description") or None}


def _usage_limit(limit: Obj, metric: Obj) -> Obj:
    """porta drops/usage_limit.rb: period, value, metric."""
    return {"period": limit.get("period"), "value": limit.get("value"), "metric": _metric_ref(metric)}


def _pricing_rule(rule: Obj, plans: dict[Any, Obj]) -> Obj:
    """porta drops/pricing_rule.rb: cost_per_unit (price_tag precision 4), min, max (nil → &#8734;), plan."""
    return {"cost_per_unit": price_tag(rule["cost_per_unit"], 4), "min": rule["min"],
            "max": rule["max"] if rule.get("max") is not None else Markup("&#8734;"),
            "plan": _plan_ref(plans.get(rule.get("plan_id")))}


def application_plan_drop(sandbox: Sandbox, plan: Obj) -> Obj:
    """porta drops/application_plan.rb + plan.rb + metric.rb + usage_limit.rb + pricing_rule.rb.

    As in porta, `plan.usage_limits` are this plan's limits, while `plan.metrics` are the product's metrics
    and each metric's `usage_limits` / `pricing_rules` are the metric's across every plan (porta's
    `metric.usage_limits` / `metric.pricing_rules` associations): templates keep a plan's own by comparing
    `pricing_rule.plan.id` with `plan.id`."""
    if not plan:
        return {"id": None, "name": None, "system_name": None, "metrics": [], "usage_limits": [], "paid?": False,
                "free?": True, "approval_required?": False}
    store = sandbox.store
    service_metrics = store.list("metric", owner_type="service", owner_id=plan.get("issuer_id"))
    by_id = {m["id"]: m for m in service_metrics}
    plans = {p["id"]: p for p in store.list("plan", type="application_plan", issuer_id=plan.get("issuer_id"))}
    all_rules = [r for pid in plans for r in store.list("pricing_rule", plan_id=pid)]
    all_limits = [lim for pid in plans for lim in store.list("limit", plan_id=pid)]
    metrics = []
    for metric in service_metrics:
        metrics.append({
            **_metric_ref(metric),
            "usage_limits": [_usage_limit(lim, metric) for lim in all_limits if lim["metric_id"] == metric["id"]],
            "pricing_rules": [_pricing_rule(r, plans) for r in all_rules if r["metric_id"] == metric["id"]],
        })
    own_limits = [lim for lim in all_limits if lim["plan_id"] == plan["id"] and lim["metric_id"] in by_id]
    order = {period: i for i, period in enumerate(("minute", "hour", "day", "week", "month", "year", "eternity"))}
    own_limits.sort(key=lambda lim: (lim["metric_id"], order.get(lim.get("period"), 9)))
    rules = [r for r in all_rules if r["plan_id"] == plan["id"]]
    monthly, setup = Decimal(str(plan.get("cost_per_month") or 0)), Decimal(str(plan.get("setup_fee") or 0))
    paid = bool(monthly or setup or rules)  # plan.rb `paid?`
    return {
        "id": plan["id"], "name": plan.get("name"), "system_name": plan.get("system_name"),
        "setup_fee": price_tag(setup), "cost": float(monthly), "flat_cost": price_tag(monthly) if monthly else "0",
        "paid?": paid, "free?": not paid, "approval_required?": bool(plan.get("approval_required")),
        "trial_period_days": plan.get("trial_period_days") or 0,
        "metrics": metrics, "usage_limits": [_usage_limit(lim, by_id[lim["metric_id"]]) for lim in own_limits],
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
        "plan": application_plan_drop(sandbox, plan),
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
