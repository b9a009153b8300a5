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

from typing import Any

from maas_helpers.reconcile.context import Context
from maas_helpers.results import Change, StepResult

SAMPLE_PRODUCT = "api"
SAMPLE_ACTIVE_DOC = "echo"
SAMPLE_ACCOUNT = "Developer"
SAMPLE_APPLICATION = "Developer's App"


def _is_sample_application(app: dict[str, Any], account: dict[str, Any], product_name: str) -> bool:
    """The seed's application of "Developer", or one a signup created by itself ("<product> signup")."""
    if account.get("org_name") == SAMPLE_ACCOUNT and app.get("name") == SAMPLE_APPLICATION:
        return True
    return app.get("name") == f"{product_name} signup"


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
    _unpublish_echo(ctx, result)
    return result


def _remove_plans(ctx: Context, result: StepResult, service: Any) -> None:
    plans = ctx.app_plans(service)
    if not plans:
        ctx.record(result, "application plan", f"{SAMPLE_PRODUCT}: none", Change.UNCHANGED,
                   "no default plan: signups get no key on the sample product", ctx.product_link(service["id"]))
        return
    plan_ids = {p["id"] for p in plans.values()}
    with ctx.client.about("sample applications"):
        accounts = list(ctx.ts.accounts.list())
    kept: dict[Any, int] = {}
    for account in accounts:
        apps = ctx.cached(f"apps:{account['id']}", lambda account=account: list(account.applications.list()))
        for app in apps:
            if app["plan_id"] not in plan_ids:
                continue
            if not _is_sample_application(app, account, service["name"]):
                kept[app["plan_id"]] = kept.get(app["plan_id"], 0) + 1
                continue
            with ctx.client.about(f"application {app['name']} of {account['org_name']}"):
                ctx.write(account.applications.delete, app["id"])
            ctx.record(result, "application", f"{account['org_name']}: {app['name']}", Change.DELETED,
                       f"sample product {SAMPLE_PRODUCT}")
        ctx.forget(f"apps:{account['id']}")
    for plan in plans.values():
        if plan["id"] in kept:
            # porta refuses to delete a plan with applications; someone else's key is not ours to delete.
            result.notes.append(f"sample plan {plan['name']!r} kept: {kept[plan['id']]} application(s) of "
                                f"developers use it; delete them in the admin portal to hide product {SAMPLE_PRODUCT}")
            continue
        with ctx.client.about(f"sample plan {plan['name']}"):
            ctx.write(service.app_plans.delete, plan["id"])
        ctx.record(result, "application plan", f"{SAMPLE_PRODUCT}: {plan['name']}", Change.DELETED,
                   "default plan: signups would get a key on it" if plan.get("default") else "")
    ctx.forget(f"plans:{service['id']}")


def _unpublish_echo(ctx: Context, result: StepResult) -> None:
    docs = ctx.cached("active_docs", lambda: {d["system_name"]: d for d in ctx.ts.active_docs.list()})
    echo = docs.get(SAMPLE_ACTIVE_DOC)
    if echo is None:
        return
    if not echo.get("published"):
        ctx.record(result, "ActiveDoc", echo["name"], Change.UNCHANGED, "unpublished")
        return
    with ctx.client.about(f"ActiveDoc {echo['name']}"):
        ctx.write(ctx.ts.active_docs.update, echo["id"], {"published": False})
    ctx.record(result, "ActiveDoc", echo["name"], Change.UPDATED, "published: True → False")
    ctx.forget("active_docs")
