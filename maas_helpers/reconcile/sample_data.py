"""3scale's sample data out of the developer's view: a new tenant has the product `api` (porta
app/lib/logic/provider_signup.rb SampleData: plans Basic (default) and Unlimited, developer "Developer" with an
application, ActiveDoc "Echo" published).

porta 3scale-2.16-stable facts this follows:
- signup gives the new account an application on every service that has a default application plan
  (app/lib/signup/plans_with_defaults.rb) — so every developer would get an "API signup" key;
- the default service cannot be deleted (app/models/service.rb `destroyable?` → `default_or_last?`);
- the Admin API cannot make a plan non-default, but a deleted plan is no default; a plan with applications
  cannot be deleted (plan.rb `can_be_destroyed?`).
So the kit deletes the sample product's application plans (first the sample applications on them), unpublishes
the Echo ActiveDoc and keeps the product itself. `remove_sample_data: false` in the catalogue keeps all of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from maas_helpers.reconcile.actions import Action, FieldChange, Links, Write, act
from maas_helpers.reconcile.context import Context, entity
from maas_helpers.results import Change, StepResult

SAMPLE_PRODUCT = "api"
SAMPLE_ACTIVE_DOC = "echo"
SAMPLE_ACCOUNT = "Developer"
SAMPLE_APPLICATION = "Developer's App"


def _is_sample_application(app: Mapping[str, Any], account: Mapping[str, Any], product_name: str) -> bool:
    """The seed's application of "Developer", or one a signup created by itself ("<product> signup")."""
    if account.get("org_name") == SAMPLE_ACCOUNT and app.get("name") == SAMPLE_APPLICATION:
        return True
    return app.get("name") == f"{product_name} signup"


def plan_sample_plans(service: Mapping[str, Any], plans: Mapping[str, Mapping[str, Any]],
                      accounts: Sequence[Mapping[str, Any]], apps: Mapping[Any, Sequence[Mapping[str, Any]]],
                      links: Links) -> tuple[list[Action], list[str]]:
    """The sample applications on the sample product's plans, then the plans nobody else's application uses
    (porta refuses to delete a plan with applications: each plan's delete waits for its applications' deletes).
    `apps`: each account's applications (by account id). Returns the actions and the notes for kept plans."""
    if not plans:
        return [act("application plan", f"{SAMPLE_PRODUCT}: none", Change.UNCHANGED,
                    detail="no default plan: signups get no key on the sample product",
                    link=links.product(service["id"]))], []
    plan_ids = {p["id"] for p in plans.values()}
    actions: list[Action] = []
    kept: dict[Any, int] = {}
    waits: dict[Any, list[str]] = {}  # plan id → the deletes of its sample applications
    for account in accounts:
        for app in apps.get(account["id"], []):
            if app["plan_id"] not in plan_ids:
                continue
            if not _is_sample_application(app, account, service["name"]):
                kept[app["plan_id"]] = kept.get(app["plan_id"], 0) + 1
                continue
            key = f"deleted:application:{app['id']}"
            waits.setdefault(app["plan_id"], []).append(key)
            actions.append(act("application", f"{account['org_name']}: {app['name']}", Change.DELETED,
                               Write("DELETE", "/admin/api/accounts/{}/applications/{}.json",
                                     args=(account["id"], app["id"]), provides=key),
                               detail=f"sample product {SAMPLE_PRODUCT}"))
    notes: list[str] = []
    for plan in plans.values():
        if plan["id"] in kept:
            # someone else's key is not ours to delete
            notes.append(f"sample plan {plan['name']!r} kept: {kept[plan['id']]} application(s) of developers use "
                         f"it; delete them in the admin portal to hide product {SAMPLE_PRODUCT}")
            continue
        actions.append(act("application plan", f"{SAMPLE_PRODUCT}: {plan['name']}", Change.DELETED,
                           Write("DELETE", "/admin/api/services/{}/application_plans/{}.json",
                                 args=(service["id"], plan["id"]), after=tuple(waits.get(plan["id"], ()))),
                           detail="default plan: signups would get a key on it" if plan.get("default") else ""))
    return actions, notes


def plan_echo(echo: Mapping[str, Any] | None) -> list[Action]:
    """The sample ActiveDoc unpublished (porta api_docs_controller.rb `published`)."""
    if echo is None:
        return []
    if not echo.get("published"):
        return [act("ActiveDoc", echo["name"], Change.UNCHANGED, detail="unpublished")]
    return [act("ActiveDoc", echo["name"], Change.UPDATED,
                Write("PUT", "/admin/api/active_docs/{}.json", {"published": False}, args=(echo["id"],)),
                changes=[FieldChange("published", True, False)], detail="published: True → False")]


def apply_sample_data(ctx: Context) -> StepResult:
    result = StepResult("3scale's sample data")
    if not ctx.catalogue.remove_sample_data:
        result.notes.append("remove_sample_data is false: the sample product `api` and its ActiveDoc stay")
        return result
    if SAMPLE_PRODUCT in {p.system_name for p in ctx.catalogue.products}:
        result.notes.append(f"the catalogue has a product {SAMPLE_PRODUCT!r}: it is not sample data; left alone")
        return result
    service = ctx.services().get(SAMPLE_PRODUCT)
    if service is not None:
        _remove_plans(ctx, result, service)
    with ctx.client.about(f"ActiveDoc {SAMPLE_ACTIVE_DOC}"):
        docs = ctx.active_docs()
    echo = docs.get(SAMPLE_ACTIVE_DOC)
    actions = plan_echo(entity(echo) if echo is not None else None)
    ctx.execute(result, actions)
    if any(a.writes for a in actions):
        ctx.forget("active_docs")
    return result


def _applications(account: Any) -> list[Any]:
    return list(account.applications.list())


def _remove_plans(ctx: Context, result: StepResult, service: Any) -> None:
    plans = ctx.app_plans(service)
    accounts: list[Any] = []
    apps: dict[Any, list[dict[str, Any]]] = {}
    if plans:
        with ctx.client.about("sample applications"):
            accounts = list(ctx.ts.accounts.list())
        for account in accounts:
            with ctx.client.about(f"applications of {account['org_name']}"):
                listed = ctx.cached(f"apps:{account['id']}", partial(_applications, account))
            apps[account["id"]] = [entity(a) for a in listed]
    actions, notes = plan_sample_plans(entity(service), {k: entity(v) for k, v in plans.items()},
                                       [entity(a) for a in accounts], apps, ctx.links)
    ctx.execute(result, actions)
    result.notes.extend(notes)
    if plans:
        for account in accounts:
            ctx.forget(f"apps:{account['id']}")
        ctx.forget(f"plans:{service['id']}")
