"""Applications the admin creates for existing accounts (the guide's workaround) and explicit service
subscriptions of every developer account to every product (so the portal offers the products' plans)."""

from __future__ import annotations

from typing import Any

from maas_helpers.reconcile.context import Context, entity
from maas_helpers.results import Change, StepResult


def _default_service_plan(ctx: Context, service: Any) -> dict[str, Any] | None:
    plans = ctx.service_plans(service)  # the plans section usually read them already in this run
    return next((p for p in plans if p.get("default")), plans[0] if plans else None)


def apply_subscriptions_and_apps(ctx: Context) -> StepResult:
    result = StepResult("Applications and service subscriptions")
    with ctx.client.about("accounts"):
        accounts = ctx.accounts()
    # Decide every application first (reads are cached per run), then send the writes side by side
    # (ctx.concurrency; different applications are independent) and record the rows in catalogue order.
    rows: list[tuple[str, Change, str, Any]] = []  # label, change, detail, link or a write's index
    writes: list[tuple[str, Any, tuple[Any, ...]]] = []  # error subject, function, arguments
    touched: set[Any] = set()
    for spec in ctx.catalogue.applications:
        product = ctx.catalogue.product(spec.product)
        service = ctx.service(product)
        label = f"{spec.account}: {spec.name}"
        account = accounts.get(spec.account)
        if account is None:
            result.notes.append(f"application {spec.name!r}: account {spec.account!r} does not exist; skipped")
            rows.append((label, Change.SKIPPED, "account missing", None))
            continue
        if service is None:
            rows.append((label, Change.CREATED, f"plan {spec.plan}", None))
            continue
        with ctx.client.about(f"application {spec.name} of {spec.account}"):
            plan = ctx.app_plans(service).get(spec.plan)
            apps = ctx.cached(f"apps:{account['id']}", lambda account=account: ctx.listing(account.applications))
            have = next((a for a in apps if a["name"] == spec.name and a["service_id"] == service["id"]), None)
            link = ctx.link(f"/p/admin/applications/{have['id']}") if have is not None else None
            if plan is None:
                rows.append((label, Change.CREATED, f"plan {spec.plan} (plan not created yet)", None))
            elif have is None:
                writes.append((f"application {spec.name} of {spec.account}", account.applications.create,
                               ({"plan_id": plan["id"], "name": spec.name, "description": spec.description},)))
                rows.append((label, Change.CREATED, f"plan {spec.plan}", len(writes) - 1))
                touched.add(account["id"])
            elif have["plan_id"] != plan["id"]:
                writes.append((f"application {spec.name} of {spec.account}", account.applications.change_plan,
                               (have["id"], plan["id"])))
                rows.append((label, Change.UPDATED, f"plan: {have.get('plan_name')} → {plan['name']}", link))
            else:
                rows.append((label, Change.UNCHANGED, f"plan {spec.plan}", link))

    def send(call: tuple[str, Any, tuple[Any, ...]]) -> Any:
        with ctx.client.about(call[0]):
            return ctx.write(call[1], *call[2])

    answers = ctx.map(send, writes)
    for account_id in touched:  # a new application also subscribes its account to the product
        ctx.forget(f"apps:{account_id}", f"subs:{account_id}")
    for label, change, detail, where in rows:
        if isinstance(where, int):
            created = answers[where]
            where = ctx.link(f"/p/admin/applications/{created['id']}") if created is not None else None
        ctx.record(result, "application", label, change, detail, where)
    if ctx.catalogue.subscribe_existing_accounts:
        parts = ctx.map(lambda account: _ensure_subscriptions(ctx, StepResult(result.title), account),
                        list(accounts.values()))
        for part in parts:
            result.extend(part)
    _ensure_monthly_billing(ctx, result, accounts)
    return result


def _ensure_monthly_billing(ctx: Context, result: StepResult, accounts: dict[str, Any]) -> None:
    """Accounts whose catalogue applications are on a priced plan get monthly billing on (porta
    admin/api/accounts_controller.rb `billing_params`: monthly_billing_enabled, monthly_charging_enabled)."""
    priced = {spec.account for spec in ctx.catalogue.applications
              if (plan := next((p for p in ctx.catalogue.product(spec.product).plans if p.system_name == spec.plan),
                               None)) is not None and (plan.pricing.prices or plan.pricing.cost_per_month)}
    if not priced:
        return
    for name in sorted(priced):
        account = accounts.get(name)
        if account is None:
            continue
        data = entity(account)
        label = f"{name}: monthly billing"
        if data.get("monthly_billing_enabled") is False:
            ctx.write(ctx.client.send_json, "PUT", f"/admin/api/accounts/{data['id']}.json",
                      {"monthly_billing_enabled": True})
            ctx.record(result, "billing", label, Change.UPDATED, "monthly_billing_enabled: false → true")
        else:
            ctx.record(result, "billing", label, Change.UNCHANGED, "enabled")
    result.notes.append("billing: 3scale bills these prices only once the tenant's billing is on — the Admin API has "
                        "no switch for it; on a real 3scale set Audience → Billing → Charging & Gateway (mode, "
                        "currency, charging) in the admin portal")


def _ensure_subscriptions(ctx: Context, result: StepResult, account: Any) -> StepResult:
    path = f"/admin/api/accounts/{account['id']}/service_subscriptions.json"
    with ctx.client.about(f"service subscriptions of {account['org_name']}"):
        subs = ctx.cached(f"subs:{account['id']}", lambda: [
            s.get("service_subscription", s) for s in ctx.client.get_json(path).get("service_subscriptions", [])])
        subscribed = {s.get("service_id") for s in subs}
        link = ctx.link(f"/buyers/accounts/{account['id']}/service_contracts")
        # Subscriptions to different products are independent: sent side by side, recorded in catalogue order.
        writes: list[Any] = []
        rows: list[tuple[str, Change, str, str | None]] = []
        for product in ctx.catalogue.products:
            label = f"{account['org_name']} → {product.system_name}"
            service = ctx.service(product)
            if service is None:
                rows.append((label, Change.CREATED, "", None))
                continue
            if service["id"] in subscribed:
                rows.append((label, Change.UNCHANGED, "", link))
                continue
            plan = _default_service_plan(ctx, service)
            if plan is None:
                result.notes.append(f"{product.system_name}: no service plan to subscribe {account['org_name']} to")
                continue
            writes.append({"plan_id": plan["id"]})
            rows.append((label, Change.CREATED, f"service plan {plan.get('name')}", link))
        ctx.map(lambda body: ctx.write(ctx.client.send_json, "POST", path, body), writes)
        if writes:
            ctx.forget(f"subs:{account['id']}")
        for label, change, detail, row_link in rows:
            ctx.record(result, "service subscription", label, change, detail, row_link)
    return result


def application_keys(ctx: Context) -> dict[str, str]:
    """user_key of each catalogue application, by product system name (for verification cells and tests)."""
    accounts = ctx.accounts()
    keys: dict[str, str] = {}
    for spec in ctx.catalogue.applications:
        account = accounts.get(spec.account)
        service = ctx.service(ctx.catalogue.product(spec.product))
        if account is None or service is None:
            continue
        apps = ctx.cached(f"apps:{account['id']}", lambda account=account: ctx.listing(account.applications))
        for app in apps:
            data = entity(app)
            if data["name"] == spec.name and data["service_id"] == service["id"]:
                keys[spec.product] = data.get("user_key", "")
    return keys
