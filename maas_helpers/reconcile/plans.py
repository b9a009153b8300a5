"""Application plans (published, none default unless the catalogue says so), their limits, and the check
that each product's default service plan is `Default`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from maas_helpers.catalogue import Plan, Product
from maas_helpers.reconcile.context import Context, describe, diff, entity
from maas_helpers.results import Change, StepResult


def _plan_fields(plan: Plan) -> dict[str, Any]:
    """What a plan's JSON shows back, so what can be compared (porta's plan_representer.rb has no
    `description`: it is written on create and with any other change, never compared)."""
    return {"name": plan.name, "approval_required": plan.approval_required}


def _money(value: Any) -> Decimal:
    """porta renders decimals as strings or numbers depending on the column; compare them as decimals."""
    return Decimal(str(value if value not in (None, "") else 0)).normalize()


def _fee_changes(have: dict[str, Any], plan: Plan) -> dict[str, str]:
    """Plan fees (porta plan.rb `cost_per_month`, `setup_fee`) that differ from the catalogue's pricing."""
    wanted = {"cost_per_month": plan.pricing.cost_per_month, "setup_fee": plan.pricing.setup_fee}
    return {k: str(v) for k, v in wanted.items() if _money(have.get(k)) != v.normalize()}


def apply_plans(ctx: Context) -> StepResult:
    result = StepResult("Application plans and limits")
    for product in ctx.catalogue.products:
        service = ctx.service(product)
        if service is None:
            for plan in product.plans:
                ctx.record(result, "application plan", f"{product.system_name}: {plan.system_name}", Change.CREATED,
                           f"{len(plan.limits)} limits")
            continue
        with ctx.client.about(f"product {product.system_name}: application plans"):
            plans = ctx.app_plans(service)
            for plan in product.plans:
                _ensure_plan(ctx, result, product, service, plans, plan)
            _ensure_default_plan(ctx, result, product, service, plans)
            _verify_service_plan(ctx, result, product, service)
    return result


def _ensure_plan(ctx: Context, result: StepResult, product: Product, service: Any, plans: dict[str, Any],
                 plan: Plan) -> None:
    label = f"{product.system_name}: {plan.system_name}"
    have = plans.get(plan.system_name)
    link = ctx.link(f"/apiconfig/application_plans/{have['id']}/edit") if have is not None else None
    state = "published" if plan.published else "hidden"
    if have is None:
        # porta creates plans hidden and `hide` fires only from published (plan.rb): no event for a hidden one
        params = {"system_name": plan.system_name, **_plan_fields(plan), "description": plan.description,
                  "cost_per_month": str(plan.pricing.cost_per_month), "setup_fee": str(plan.pricing.setup_fee),
                  **({"state_event": "publish"} if plan.published else {})}
        created = ctx.write(service.app_plans.create, params)
        ctx.record(result, "application plan", label, Change.CREATED, state,
                   ctx.link(f"/apiconfig/application_plans/{created['id']}/edit") if created is not None else None)
        if created is None:
            for limit in plan.limits:
                ctx.record(result, "limit", f"{label}: {limit.metric} per {limit.period}", Change.CREATED,
                           str(limit.value))
            for price in plan.pricing.prices:
                ctx.record(result, "pricing rule", _rule_name(label, price.billed_metric, *price.billed_range),
                           Change.CREATED, f"{price.cost_per_unit} per unit")
            return
        if created.get("state") != state:  # some 3scale versions ignore state_event on create
            ctx.write(service.app_plans.update, created["id"], {"state_event": "publish" if plan.published else "hide"})
        plans[plan.system_name] = have = created
        ctx.forget(f"plans:{service['id']}")
        ctx.cache[f"limits:{created['id']}"] = []  # a new plan has no limits: no need to ask
        ctx.cache[f"pricing:{created['id']}"] = []  # nor pricing rules
    else:
        changes: dict[str, Any] = {**diff(entity(have), _plan_fields(plan)), **_fee_changes(entity(have), plan)}
        if have.get("state") != state:
            changes["state_event"] = "publish" if plan.published else "hide"
        if changes:
            detail = describe(entity(have), {k: v for k, v in changes.items() if k != "state_event"})
            if "state_event" in changes:
                detail = "; ".join(filter(None, [detail, f"state: {have.get('state')} → {state}"]))
            ctx.write(service.app_plans.update, have["id"], {**changes, "description": plan.description})
            ctx.record(result, "application plan", label, Change.UPDATED, detail, link)
            ctx.forget(f"plans:{service['id']}")
        else:
            ctx.record(result, "application plan", label, Change.UNCHANGED, state, link)
    _ensure_limits(ctx, result, product, service, have, plan, label, link)
    _ensure_pricing_rules(ctx, result, service, have, plan, label, link)


def _ensure_limits(ctx: Context, result: StepResult, product: Product, service: Any, plan_res: Any, plan: Plan,
                   label: str, link: str | None) -> None:
    metrics = {m["system_name"]: m for m in ctx.metrics(service)}
    observed = {(lim["metric_id"], lim["period"]): lim for lim in ctx.limits(plan_res)}
    wanted = set()
    # Limits are independent objects: their writes go out side by side, rows recorded in catalogue order.
    writes: list[Any] = []
    rows: list[tuple[str, Change, str, str | None]] = []
    for limit in plan.limits:
        name = f"{label}: {limit.metric} per {limit.period}"
        metric = metrics.get(limit.metric)
        if metric is None:
            rows.append((name, Change.CREATED, f"{limit.value} (metric not created yet)", None))
            continue
        key = (metric["id"], limit.period)
        wanted.add(key)
        have = observed.get(key)
        client = plan_res.limits(metric)
        if have is None:
            writes.append((client.create, ({"period": limit.period, "value": limit.value},)))
            rows.append((name, Change.CREATED, str(limit.value), link))
        elif have["value"] != limit.value:
            writes.append((client.update, (have["id"], {"value": limit.value})))
            rows.append((name, Change.UPDATED, f"value: {have['value']} → {limit.value}", link))
        else:
            rows.append((name, Change.UNCHANGED, str(limit.value), link))
    names = {m["id"]: m["system_name"] for m in metrics.values()}
    for key, have in observed.items():
        if key not in wanted:
            metric = next((m for m in metrics.values() if m["id"] == key[0]), None)
            if metric is None:
                continue  # a backend metric's limit: not ours to manage
            writes.append((plan_res.limits(metric).delete, (have["id"],)))
            rows.append((f"{label}: {names.get(key[0], key[0])} per {key[1]}", Change.DELETED, "not in the catalogue",
                         link))
    ctx.map(lambda call: ctx.write(call[0], *call[1]), writes)
    if writes:
        ctx.forget(f"limits:{plan_res['id']}")
    for name, change, detail, row_link in rows:
        ctx.record(result, "limit", name, change, detail, row_link)


def _rule_name(label: str, metric: str, low: int, high: int | None) -> str:
    return f"{label}: {metric} {low}–{high if high is not None else '∞'}"


def _ensure_pricing_rules(ctx: Context, result: StepResult, service: Any, plan_res: Any, plan: Plan, label: str,
                          link: str | None) -> None:
    """porta's pricing rules API has index, create and destroy only
    (admin/api/application_plan_metric_pricing_rules_controller.rb): a changed rule is replaced."""
    metrics = {m["system_name"]: m for m in ctx.metrics(service)}
    base = f"/admin/api/application_plans/{plan_res['id']}"
    observed = ctx.pricing_rules(plan_res)
    kept: set[Any] = set()
    missing: list[tuple[Any, str, int, int | None, Decimal]] = []
    for price in plan.pricing.prices:
        low, high = price.billed_range
        name = _rule_name(label, price.billed_metric, low, high)
        metric = metrics.get(price.billed_metric)
        if metric is None:
            ctx.record(result, "pricing rule", name, Change.CREATED, f"{price.cost_per_unit} (metric not created yet)")
            continue
        have = next((r for r in observed if r["metric_id"] == metric["id"] and r["min"] == low
                     and r.get("max") == high and _money(r["cost_per_unit"]) == price.cost_per_unit), None)
        if have is None:
            missing.append((metric, name, low, high, price.cost_per_unit))
        else:
            kept.add(have["id"])
            ctx.record(result, "pricing rule", name, Change.UNCHANGED, f"{price.cost_per_unit} per unit", link)
    names = {m["id"]: m["system_name"] for m in metrics.values()}
    # stale rules go first: porta's range_overlap validation would reject a new rule over an old range
    for rule in observed:
        if rule["id"] in kept or rule["metric_id"] not in names:
            continue  # kept, or on a backend metric: not ours to manage
        ctx.write(ctx.client.request, "DELETE",
                  f"{base}/metrics/{rule['metric_id']}/pricing_rules/{rule['id']}.json")
        ctx.record(result, "pricing rule", _rule_name(label, names[rule["metric_id"]], rule["min"], rule.get("max")),
                   Change.DELETED, "not in the catalogue", link)
    for metric, name, low, high, cost in missing:
        ctx.write(ctx.client.send_json, "POST", f"{base}/metrics/{metric['id']}/pricing_rules.json",
                  {"pricing_rule": {"min": low, "max": high, "cost_per_unit": str(cost)}})
        ctx.record(result, "pricing rule", name, Change.CREATED, f"{cost} per unit", link)
    if missing or len(kept) < len([r for r in observed if r["metric_id"] in names]):
        ctx.forget(f"pricing:{plan_res['id']}")


def _ensure_default_plan(ctx: Context, result: StepResult, product: Product, service: Any,
                         plans: dict[str, Any]) -> None:
    if product.default_plan is None:
        return  # the guide: leave "No plan selected" so users choose
    have = plans.get(product.default_plan)
    if have is not None and have.get("default"):
        ctx.record(result, "default plan", f"{product.system_name}: {product.default_plan}", Change.UNCHANGED)
        return
    if have is not None:
        ctx.write(service.app_plans.set_default, have["id"])
    ctx.record(result, "default plan", f"{product.system_name}: {product.default_plan}", Change.UPDATED)


def _verify_service_plan(ctx: Context, result: StepResult, product: Product, service: Any) -> None:
    plans = ctx.service_plans(service)
    default = next((p for p in plans if p.get("default")), None)
    link = ctx.product_link(service["id"], "/service_plans")
    name = f"{product.system_name}: default service plan"
    if default is not None:
        ctx.record(result, "service plan", name, Change.UNCHANGED, f"{default.get('name')} (verified)", link)
        return
    target = next((p for p in plans if p.get("name") == "Default"), plans[0] if plans else None)
    if target is None:
        result.notes.append(f"{product.system_name}: no service plan found; create one named Default in the admin "
                            "portal")
        return
    ctx.write(ctx.client.request, "PUT", f"/admin/api/services/{service['id']}/service_plans/{target['id']}/"
              "default.json")
    ctx.forget(f"service_plans:{service['id']}")
    ctx.record(result, "service plan", name, Change.UPDATED, f"{target.get('name')} set as default", link)
