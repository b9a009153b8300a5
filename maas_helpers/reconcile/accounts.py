"""Applications the admin creates for existing accounts (the guide's workaround), explicit service
subscriptions of every developer account to every product (so the portal offers the products' plans), and
monthly billing for the accounts on priced plans.

Two rounds: the applications first (a new application also subscribes its account to the product: porta
app/lib/logic/contracting.rb `find_or_create_service_contract`, so the subscriptions are read after it), then
the subscriptions and billing. Requests as threescale_api sends them (JSON): accounts/{id}/applications and
…/change_plan; subscriptions and billing as porta admin/api/service_subscriptions_controller.rb and
accounts_controller.rb take them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from maas_helpers import ownership
from maas_helpers.catalogue import Catalogue
from maas_helpers.reconcile.actions import Action, FieldChange, Links, Ref, Write, act
from maas_helpers.reconcile.context import Context, entity
from maas_helpers.results import Change, StepResult

Observed = Mapping[str, Any]

BILLING_NOTE = ("billing: 3scale bills these prices only once the tenant's billing is on — the Admin API has no "
                "switch for it; on a real 3scale set Audience → Billing → Charging & Gateway (mode, currency, "
                "charging) in the admin portal")


def _app_key(account: str, name: str) -> str:
    return f"application:{account}:{name}"


def plan_applications(catalogue: Catalogue, accounts: Mapping[str, Observed], services: Mapping[str, Observed],
                      plans: Mapping[str, Mapping[str, Observed]], apps: Mapping[Any, Sequence[Observed]],
                      links: Links, instance: str = "") -> tuple[list[Action], list[str]]:
    """Each catalogue application: created on its plan (with the kit's admin-only mark for `instance`), moved to
    it, or in sync; one of that name without the mark is someone else's and left alone. `services`/`plans` by
    product system name (existing products only), `apps` by account id (accounts of existing products only)."""
    actions: list[Action] = []
    notes: list[str] = []
    for spec in catalogue.applications:
        label = f"{spec.account}: {spec.name}"
        account = accounts.get(spec.account)
        service = services.get(spec.product)
        if account is None:
            notes.append(f"application {spec.name!r}: account {spec.account!r} does not exist; skipped")
            actions.append(act("application", label, Change.SKIPPED, detail="account missing"))
            continue
        if service is None:
            actions.append(act("application", label, Change.CREATED, detail=f"plan {spec.plan}"))
            continue
        plan = plans.get(spec.product, {}).get(spec.plan)
        have = next((a for a in apps.get(account["id"], []) if a.get("name") == spec.name
                     and a["service_id"] == service["id"]), None)
        link = links.page(f"/p/admin/applications/{have['id']}") if have is not None else None
        if plan is None:
            actions.append(act("application", label, Change.CREATED, detail=f"plan {spec.plan} (plan not created yet)"))
        elif have is None:
            # on a plan that needs approval the new application starts pending: the admin who declared it in
            # the catalogue approves it by that act (maas_helpers/approval.py)
            accept = (Write("PUT", "/admin/api/accounts/{}/applications/{}/accept.json", {},
                            args=(account["id"], Ref(_app_key(spec.account, spec.name)))),) \
                if plan.get("approval_required") else ()
            actions.append(act("application", label, Change.CREATED,
                               Write("POST", "/admin/api/accounts/{}/applications.json",
                                     {"plan_id": plan["id"], "name": spec.name, "description": spec.description,
                                      **ownership.owner_mark(instance)},
                                     args=(account["id"],), provides=_app_key(spec.account, spec.name)),
                               *accept, detail=f"plan {spec.plan}"))
        elif not ownership.marked(have, instance):
            actions.append(act("application", label, Change.SKIPPED, detail=f"{ownership.FOREIGN} (id {have['id']})",
                               link=link))
        elif have.get("state") == "pending" and have["plan_id"] == plan["id"]:
            actions.append(act("application", label, Change.UPDATED,
                               Write("PUT", "/admin/api/accounts/{}/applications/{}/accept.json", {},
                                     args=(account["id"], have["id"])),
                               changes=[FieldChange("state", "pending", "live")], link=link))
        elif have["plan_id"] != plan["id"]:
            actions.append(act("application", label, Change.UPDATED,
                               Write("PUT", "/admin/api/accounts/{}/applications/{}/change_plan.json",
                                     {"plan_id": plan["id"]}, args=(account["id"], have["id"])),
                               changes=[FieldChange("plan_id", have["plan_id"], plan["id"])],
                               detail=f"plan: {have.get('plan_name')} → {plan['name']}", link=link))
        else:
            actions.append(act("application", label, Change.UNCHANGED, detail=f"plan {spec.plan}", link=link))
    return actions, notes


def _default_service_plan(plans: Sequence[Observed]) -> Observed | None:
    return next((p for p in plans if p.get("default")), plans[0] if plans else None)


def plan_subscriptions(catalogue: Catalogue, accounts: Sequence[Observed], services: Mapping[str, Observed],
                       subscriptions: Mapping[Any, Sequence[Observed]], service_plans: Mapping[str, Sequence[Observed]],
                       links: Links) -> tuple[list[Action], list[str]]:
    """Every account subscribed to every product (on the product's default service plan). `subscriptions` by
    account id; `service_plans` by product system name (the products some account is not subscribed to)."""
    actions: list[Action] = []
    notes: list[str] = []
    for account in accounts:
        subscribed = {s.get("service_id") for s in subscriptions.get(account["id"], [])}
        path = "/admin/api/accounts/{}/service_subscriptions.json"
        link = links.page(f"/buyers/accounts/{account['id']}/service_contracts")
        for product in catalogue.products:
            label = f"{account['org_name']} → {product.system_name}"
            service = services.get(product.system_name)
            if service is None:
                actions.append(act("service subscription", label, Change.CREATED))
                continue
            if service["id"] in subscribed:
                actions.append(act("service subscription", label, Change.UNCHANGED, link=link))
                continue
            plan = _default_service_plan(list(service_plans.get(product.system_name, [])))
            if plan is None:
                notes.append(f"{product.system_name}: no service plan to subscribe {account['org_name']} to")
                continue
            actions.append(act("service subscription", label, Change.CREATED,
                               Write("POST", path, {"plan_id": plan["id"]}, args=(account["id"],)),
                               detail=f"service plan {plan.get('name')}", link=link))
    return actions, notes


def priced_accounts(catalogue: Catalogue) -> list[str]:
    """Accounts whose catalogue applications are on a priced plan (fees or prices)."""
    priced = {spec.account for spec in catalogue.applications
              if (plan := next((p for p in catalogue.product(spec.product).plans if p.system_name == spec.plan),
                               None)) is not None and (plan.pricing.prices or plan.pricing.cost_per_month)}
    return sorted(priced)


def plan_billing(catalogue: Catalogue, accounts: Mapping[str, Observed]) -> tuple[list[Action], list[str]]:
    """Monthly billing on for the priced accounts (porta admin/api/accounts_controller.rb `billing_params`:
    monthly_billing_enabled, monthly_charging_enabled)."""
    names = priced_accounts(catalogue)
    if not names:
        return [], []
    actions: list[Action] = []
    for name in names:
        account = accounts.get(name)
        if account is None:
            continue
        label = f"{name}: monthly billing"
        if account.get("monthly_billing_enabled") is False:
            actions.append(act("billing", label, Change.UPDATED,
                               Write("PUT", "/admin/api/accounts/{}.json", {"monthly_billing_enabled": True},
                                     args=(account["id"],)),
                               changes=[FieldChange("monthly_billing_enabled", False, True)],
                               detail="monthly_billing_enabled: false → true"))
        else:
            actions.append(act("billing", label, Change.UNCHANGED, detail="enabled"))
    return actions, [BILLING_NOTE]


def apply_subscriptions_and_apps(ctx: Context) -> StepResult:
    result = StepResult("Applications and service subscriptions")
    with ctx.client.about("accounts"):
        accounts = ctx.accounts()
    # round 1: the applications
    services = {s.product: service for s in ctx.catalogue.applications
                if (service := ctx.service(ctx.catalogue.product(s.product))) is not None}
    plans: dict[str, dict[str, Any]] = {}
    apps: dict[Any, list[dict[str, Any]]] = {}
    # both rounds' reads side by side; an account that gets a new application has its subscriptions re-read
    named = {spec.account for spec in ctx.catalogue.applications}
    loads: list[Callable[[], Any]] = [partial(applications_of, ctx, a) for n, a in accounts.items() if n in named]
    loads += [partial(ctx.app_plans, service) for service in {s["id"]: s for s in services.values()}.values()]
    if ctx.catalogue.subscribe_existing_accounts:
        loads += [partial(subscriptions_of, ctx, a) for a in accounts.values()]
    ctx.map(lambda load: load(), loads)
    for spec in ctx.catalogue.applications:
        account, service = accounts.get(spec.account), services.get(spec.product)
        if account is None or service is None:
            continue
        with ctx.client.about(f"application {spec.name} of {spec.account}"):
            plans[spec.product] = {k: entity(v) for k, v in ctx.app_plans(service).items()}
            listed = applications_of(ctx, account)
        apps[account["id"]] = [entity(a) for a in listed]
    actions, notes = plan_applications(ctx.catalogue, {k: entity(v) for k, v in accounts.items()},
                                       {k: entity(v) for k, v in services.items()}, plans, apps, ctx.links,
                                       ctx.inventory().instance)
    result.notes.extend(notes)
    created = ctx.execute(result, actions)
    for action in actions:
        if action.change is Change.CREATED and action.writes:  # its account is now subscribed to the product
            account_id = action.writes[0].args[0]
            ctx.forget(f"apps:{account_id}", f"subs:{account_id}")
            new = created.get(action.writes[0].provides or "")
            action.link = ctx.link(f"/p/admin/applications/{new['id']}") if new else None
    # round 2: subscriptions (an account that got an application above has its subscriptions read again: porta
    # subscribes it with the application) and billing
    if ctx.catalogue.subscribe_existing_accounts:
        everyone = list(accounts.values())
        subs = dict(zip([a["id"] for a in everyone], ctx.map(lambda a: subscriptions_of(ctx, a), everyone),
                        strict=True))
        product_services = {p.system_name: s for p in ctx.catalogue.products if (s := ctx.service(p)) is not None}
        unsubscribed = [name for name, service in product_services.items()
                        if any(service["id"] not in {x.get("service_id") for x in subs[a["id"]]} for a in everyone)]
        service_plans = {name: ctx.service_plans(product_services[name]) for name in unsubscribed}
        actions, notes = plan_subscriptions(ctx.catalogue, [entity(a) for a in everyone],
                                            {k: entity(v) for k, v in product_services.items()}, subs,
                                            service_plans, ctx.links)
        ctx.execute(result, actions)
        result.notes.extend(notes)
        for account_id in {a.writes[0].args[0] for a in actions if a.writes}:
            ctx.forget(f"subs:{account_id}")
    actions, notes = plan_billing(ctx.catalogue, {k: entity(v) for k, v in accounts.items()})
    ctx.execute(result, actions)
    result.notes.extend(notes)
    return result


def applications_of(ctx: Context, account: Any) -> list[Any]:
    with ctx.client.about(f"applications of {account['org_name']}"):
        return ctx.cached(f"apps:{account['id']}",
                          partial(ctx.listing, account.applications))


def subscriptions_of(ctx: Context, account: Any) -> list[dict[str, Any]]:
    path = f"/admin/api/accounts/{account['id']}/service_subscriptions.json"
    with ctx.client.about(f"service subscriptions of {account['org_name']}"):
        return ctx.cached(f"subs:{account['id']}", lambda: [
            s.get("service_subscription", s) for s in ctx.client.get_json(path).get("service_subscriptions", [])])


def application_keys(ctx: Context) -> dict[str, str]:
    """user_key of each catalogue application, by product system name (for verification cells and tests)."""
    accounts = ctx.accounts()
    keys: dict[str, str] = {}
    for spec in ctx.catalogue.applications:
        account = accounts.get(spec.account)
        service = ctx.service(ctx.catalogue.product(spec.product))
        if account is None or service is None:
            continue
        for app in applications_of(ctx, account):
            data = entity(app)
            if data.get("name") == spec.name and data["service_id"] == service["id"]:
                keys[spec.product] = data.get("user_key", "")
    return keys
