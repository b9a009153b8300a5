"""Application plans (published, none default unless the catalogue says so), their limits and pricing rules,
and the check that each product's default service plan is `Default`.

`plan_plans` decides (pure) and `apply_plans` observes and runs the actions. Requests as threescale_api sends
them (JSON): plans under /admin/api/services/{id}/application_plans (porta
admin/api/application_plans_controller.rb), limits under /admin/api/application_plans/{id}/metrics/{id}/limits
(application_plan_metric_limits_controller.rb), pricing rules under …/pricing_rules
(application_plan_metric_pricing_rules_controller.rb: index, create and destroy only, so a changed rule is
replaced), the default service plan through service_plans/{id}/default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from maas_helpers.catalogue import Plan, Product
from maas_helpers.normalise import money
from maas_helpers.reconcile.actions import Action, FieldChange, Links, Ref, Write, act, field_changes
from maas_helpers.reconcile.context import Context, entity
from maas_helpers.results import Change, StepResult, plural

Observed = Mapping[str, Any]


def _plan_fields(plan: Plan) -> dict[str, Any]:
    """What a plan's JSON shows back, so what can be compared (porta's plan_representer.rb has no
    `description`: it is written on create and with any other change, never compared). Fees (plan.rb
    `cost_per_month`, `setup_fee`) are compared as money (maas_helpers.normalise)."""
    return {"name": plan.name, "approval_required": plan.approval_required,
            "cost_per_month": str(plan.pricing.cost_per_month), "setup_fee": str(plan.pricing.setup_fee)}


def _plan_key(product: Product, plan: Plan) -> str:
    return f"plan:{product.system_name}:{plan.system_name}"


def _plan_link(links: Links, plan_id: Any) -> str | None:
    return links.page(f"/apiconfig/application_plans/{plan_id}/edit") if plan_id else None


def _rule_name(label: str, metric: str, low: int, high: int | None) -> str:
    return f"{label}: {metric} {low}–{high if high is not None else '∞'}"


def plan_plans(product: Product, service: Observed | None, plans: Mapping[str, Observed], metrics: Sequence[Observed],
               limits: Mapping[Any, Sequence[Observed]], pricing: Mapping[Any, Sequence[Observed]],
               service_plans: Sequence[Observed], links: Links) -> tuple[list[Action], list[str]]:
    """One product's application plans with their limits and pricing rules, its default application plan and
    its default service plan. `plans` by system name; `limits`/`pricing` by plan id (the existing plans of the
    catalogue); `metrics` are the product's metrics and methods. Returns the actions and notes for the learner."""
    if service is None:
        return [act("application plan", f"{product.system_name}: {plan.system_name}", Change.CREATED,
                    detail=plural(len(plan.limits), "limit")) for plan in product.plans], []
    by_name = {m["system_name"]: m for m in metrics}
    actions: list[Action] = []
    created: tuple[str, ...] = ()
    for plan in product.plans:
        have = plans.get(plan.system_name)
        # new plans one after the other: 3scale lists plans in creation order, which is the portal's order
        actions.append(_plan_action(product, service, plan, have, links, after=created))
        created = created if have is not None else (_plan_key(product, plan),)
        plan_id = have["id"] if have is not None else Ref(_plan_key(product, plan))
        label = f"{product.system_name}: {plan.system_name}"
        link = _plan_link(links, have["id"]) if have is not None else None
        # a plan still to be created has no limits nor pricing rules yet
        actions += _limit_actions(plan, plan_id, by_name, limits.get(plan_id, []) if have is not None else [],
                                  label, link)
        actions += _pricing_actions(plan, plan_id, by_name, pricing.get(plan_id, []) if have is not None else [],
                                    label, link)
    default = _default_plan_action(product, service, plans)
    actions += [default] if default is not None else []
    service_plan, notes = _service_plan_action(product, service, service_plans, links)
    actions += [service_plan] if service_plan is not None else []
    return actions, notes


def _plan_action(product: Product, service: Observed, plan: Plan, have: Observed | None, links: Links,
                 after: tuple[str, ...] = ()) -> Action:
    label = f"{product.system_name}: {plan.system_name}"
    state = "published" if plan.published else "hidden"
    if have is None:
        # porta creates plans hidden and `hide` fires only from published (plan.rb): no event for a hidden one
        new = {"system_name": plan.system_name, **_plan_fields(plan), "description": plan.description,
               **({"state_event": "publish"} if plan.published else {})}
        return act("application plan", label, Change.CREATED,
                   Write("POST", "/admin/api/services/{}/application_plans.json", new, args=(service["id"],),
                         provides=_plan_key(product, plan), after=after), detail=state)
    changes = list(field_changes(have, _plan_fields(plan)))
    detail = "; ".join(str(c) for c in changes)
    body: dict[str, Any] = {c.field: c.new for c in changes}
    if have.get("state") != state:
        changes.append(FieldChange("state", have.get("state"), state))
        body["state_event"] = "publish" if plan.published else "hide"
        detail = "; ".join(filter(None, [detail, f"state: {have.get('state')} → {state}"]))
    link = _plan_link(links, have["id"])
    if not changes:
        return act("application plan", label, Change.UNCHANGED, detail=state, link=link)
    return act("application plan", label, Change.UPDATED,
               Write("PUT", "/admin/api/services/{}/application_plans/{}.json",
                     {**body, "description": plan.description}, args=(service["id"], have["id"])),
               changes=changes, detail=detail, link=link)


def _limit_actions(plan: Plan, plan_id: Any, metrics: Mapping[str, Observed], observed: Sequence[Observed], label: str,
                   link: str | None) -> list[Action]:
    """Limits by (metric, period): created, value updated, or deleted when the catalogue has none there (a
    limit on a metric that is not the product's, e.g. a backend's, is not ours to manage)."""
    path = "/admin/api/application_plans/{}/metrics/{}/limits"
    have_by_key = {(lim["metric_id"], lim["period"]): lim for lim in observed}
    wanted = set()
    actions: list[Action] = []
    for limit in plan.limits:
        name = f"{label}: {limit.metric} per {limit.period}"
        metric = metrics.get(limit.metric)
        if metric is None:
            actions.append(act("limit", name, Change.CREATED, detail=f"{limit.value} (metric not created yet)"))
            continue
        key = (metric["id"], limit.period)
        wanted.add(key)
        have = have_by_key.get(key)
        if have is None:
            actions.append(act("limit", name, Change.CREATED,
                               Write("POST", path + ".json", {"period": limit.period, "value": limit.value},
                                     args=(plan_id, metric["id"])), detail=str(limit.value), link=link))
        elif changes := field_changes(have, {"value": limit.value}):
            actions.append(act("limit", name, Change.UPDATED,
                               Write("PUT", path + "/{}.json", {"value": limit.value},
                                     args=(plan_id, metric["id"], have["id"])), changes=changes, link=link))
        else:
            actions.append(act("limit", name, Change.UNCHANGED, detail=str(limit.value), link=link))
    names = {m["id"]: m["system_name"] for m in metrics.values()}
    for key, have in have_by_key.items():
        if key in wanted or key[0] not in names:
            continue
        actions.append(act("limit", f"{label}: {names[key[0]]} per {key[1]}", Change.DELETED,
                           Write("DELETE", path + "/{}.json", args=(plan_id, key[0], have["id"])),
                           detail="not in the catalogue", link=link))
    return actions


def _pricing_actions(plan: Plan, plan_id: Any, metrics: Mapping[str, Observed], observed: Sequence[Observed],
                     label: str, link: str | None) -> list[Action]:
    """Pricing rules matched by metric, range and price; the others replaced. Stale rules are deleted before
    any new one is created (`Write.after`): porta's range_overlap validation rejects a new rule over an old
    range."""
    path = "/admin/api/application_plans/{}/metrics/{}/pricing_rules"
    kept: set[Any] = set()
    actions: list[Action] = []
    missing: list[tuple[Any, str, int, int | None, Any]] = []
    for price in plan.pricing.prices:
        low, high = price.billed_range
        name = _rule_name(label, price.billed_metric, low, high)
        metric = metrics.get(price.billed_metric)
        if metric is None:
            actions.append(act("pricing rule", name, Change.CREATED,
                               detail=f"{price.cost_per_unit} (metric not created yet)"))
            continue
        have = next((r for r in observed if r["metric_id"] == metric["id"] and r["min"] == low
                     and r.get("max") == high and money(r["cost_per_unit"]) == money(price.cost_per_unit)), None)
        if have is None:
            missing.append((metric, name, low, high, price.cost_per_unit))
        else:
            kept.add(have["id"])
            actions.append(act("pricing rule", name, Change.UNCHANGED, detail=f"{price.cost_per_unit} per unit",
                               link=link))
    names = {m["id"]: m["system_name"] for m in metrics.values()}
    deleted: list[str] = []
    for rule in observed:
        if rule["id"] in kept or rule["metric_id"] not in names:
            continue  # kept, or on a backend metric: not ours to manage
        deleted.append(f"deleted:pricing_rule:{rule['id']}")
        actions.append(act("pricing rule", _rule_name(label, names[rule["metric_id"]], rule["min"], rule.get("max")),
                           Change.DELETED,
                           Write("DELETE", path + "/{}.json", args=(plan_id, rule["metric_id"], rule["id"]),
                                 provides=deleted[-1]),
                           detail="not in the catalogue", link=link))
    for metric, name, low, high, cost in missing:
        actions.append(act("pricing rule", name, Change.CREATED,
                           Write("POST", path + ".json", {"pricing_rule": {"min": low, "max": high,
                                                                           "cost_per_unit": str(cost)}},
                                 args=(plan_id, metric["id"]), after=tuple(deleted)),
                           detail=f"{cost} per unit", link=link))
    return actions


def _default_plan_action(product: Product, service: Observed, plans: Mapping[str, Observed]) -> Action | None:
    """The catalogue's default plan, if it names one (else "No plan selected": users choose)."""
    if product.default_plan is None:
        return None
    name = f"{product.system_name}: {product.default_plan}"
    have = plans.get(product.default_plan)
    if have is not None and have.get("default"):
        return act("default plan", name, Change.UNCHANGED)
    plan_id = have["id"] if have is not None else Ref(_plan_key(product, product.plan(product.default_plan)))
    return act("default plan", name, Change.UPDATED,
               Write("PUT", "/admin/api/services/{}/application_plans/{}/default.json", args=(service["id"], plan_id)),
               changes=[FieldChange("default", have.get("default") if have is not None else None, True)])


def _service_plan_action(product: Product, service: Observed, service_plans: Sequence[Observed],
                         links: Links) -> tuple[Action | None, list[str]]:
    link = links.product(service["id"], "/service_plans")
    name = f"{product.system_name}: default service plan"
    default = next((p for p in service_plans if p.get("default")), None)
    if default is not None:
        return act("service plan", name, Change.UNCHANGED, detail=f"{default.get('name')} (verified)", link=link), []
    target = next((p for p in service_plans if p.get("name") == "Default"), service_plans[0] if service_plans else None)
    if target is None:
        return None, [f"{product.system_name}: no service plan found; create one named Default in the admin portal"]
    return act("service plan", name, Change.UPDATED,
               Write("PUT", "/admin/api/services/{}/service_plans/{}/default.json", args=(service["id"], target["id"])),
               changes=[FieldChange("default", False, True)], detail=f"{target.get('name')} set as default",
               link=link), []


def apply_plans(ctx: Context) -> StepResult:
    result = StepResult("Application plans and limits")
    for product in ctx.catalogue.products:
        service = ctx.service(product)
        if service is None:
            actions, _ = plan_plans(product, None, {}, [], {}, {}, [], ctx.links)
            ctx.execute(result, actions)
            continue
        with ctx.client.about(f"product {product.system_name}: application plans"):
            plans = ctx.app_plans(service)
            ours = [plans[p.system_name] for p in product.plans if p.system_name in plans]
            metrics = [entity(m) for m in ctx.metrics(service)] if product.plans else []
            limits = {p["id"]: ctx.limits(p) for p in ours}
            pricing = {p["id"]: ctx.pricing_rules(p) for p in ours}
            service_plans = ctx.service_plans(service)
        actions, notes = plan_plans(product, entity(service), {k: entity(v) for k, v in plans.items()}, metrics,
                                    limits, pricing, service_plans, ctx.links)
        created = ctx.execute(result, actions)
        result.notes.extend(notes)
        _after(ctx, product, service, actions, created)
    return result


def _after(ctx: Context, product: Product, service: Any, actions: list[Action],
           created: Mapping[str, dict[str, Any]]) -> None:
    """What 3scale now holds, for the later sections of this run: the same cache entries forgotten (or known)
    as before the plan → actions shape, so a re-apply makes no more calls."""
    plans = {f"{product.system_name}: {p.system_name}": p for p in product.plans}
    for action in actions:
        if action.kind == "application plan" and action.name in plans:
            new = created.get(_plan_key(product, plans[action.name]))
            if new is not None:
                action.link = _plan_link(ctx.links, new["id"])
                ctx.forget(f"plans:{service['id']}")
                ctx.cache[f"limits:{new['id']}"] = []  # a new plan has no limits: no need to ask
                ctx.cache[f"pricing:{new['id']}"] = []  # nor pricing rules
                _fix_state(ctx, plans[action.name], service, new)
            elif action.change is Change.UPDATED:
                ctx.forget(f"plans:{service['id']}")
        elif action.kind in ("limit", "pricing rule") and action.writes:
            plan_id = action.writes[0].args[0]
            if isinstance(plan_id, Ref):  # a plan created in this run (nothing to forget when only planned)
                plan_id = created[plan_id.key]["id"] if plan_id.key in created else None
            if plan_id is not None:
                ctx.forget(f"{'limits' if action.kind == 'limit' else 'pricing'}:{plan_id}")
        elif action.kind == "service plan" and action.writes:
            ctx.forget(f"service_plans:{service['id']}")


def _fix_state(ctx: Context, plan: Plan, service: Any, new: Mapping[str, Any]) -> None:
    """Some 3scale versions ignore `state_event` on create: then one more update, not a row of its own."""
    state = "published" if plan.published else "hidden"
    if new.get("state") == state:
        return
    fix = act("application plan", plan.system_name, Change.UPDATED,
              Write("PUT", "/admin/api/services/{}/application_plans/{}.json",
                    {"state_event": "publish" if plan.published else "hide"}, args=(service["id"], new["id"])))
    replace(ctx, progress=None).execute(StepResult("state"), [fix])
