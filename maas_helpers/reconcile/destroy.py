"""Remove exactly what the catalogue owns (matched by system name); seed objects stay untouched.

`plan_destroy` decides (pure); `destroy` observes, plans and runs the actions through the one executor, so the
teardown preview (`Reconciler.plan_destroy`) lists exactly what a destroy deletes. Stages go in 3scale's order
(applications, ActiveDocs, products with their backend usages, then backends: `Write.after`); within a stage
the objects are independent, so they are removed `ctx.concurrency` at a time and reported in catalogue order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from maas_helpers.catalogue import Catalogue
from maas_helpers.reconcile.actions import Action, Write, act
from maas_helpers.reconcile.context import Context, entity
from maas_helpers.results import Change, StepResult

KEPT = ("kept: the policy registry entry, portal content and the SSO provider (3scale has no DELETE for SSO "
        "providers); the organisation settings")


def plan_destroy(catalogue: Catalogue, services: Mapping[str, Mapping[str, Any]],
                 accounts: Mapping[str, Mapping[str, Any]], apps: Mapping[Any, Sequence[Mapping[str, Any]]],
                 docs: Mapping[str, Mapping[str, Any]], usages: Mapping[str, Sequence[Mapping[str, Any]]],
                 backends: Mapping[str, Mapping[str, Any]]) -> list[Action]:
    """The deletions, stage by stage. `apps`: each account's applications (by account id); `usages`: each owned
    product's backend usages (by system name)."""
    actions: list[Action] = []
    stage: list[str] = []  # what the current stage waits for: every deletion of the stages before

    def delete(kind: str, name: str, *writes: Write, detail: str = "") -> None:
        actions.append(act(kind, name, Change.DELETED, *writes, detail=detail))

    for spec in catalogue.applications:
        account, service = accounts.get(spec.account), services.get(spec.product)
        if not account or not service:
            continue
        for app in apps.get(account["id"], []):
            if app.get("name") == spec.name and app["service_id"] == service["id"]:
                key = f"deleted:application:{app['id']}"
                delete("application", f"{spec.account}: {spec.name}",
                       Write("DELETE", "/admin/api/accounts/{}/applications/{}.json", args=(account["id"], app["id"]),
                             provides=key))
                stage.append(key)
    for product in catalogue.products:
        doc = docs.get(product.active_doc.system_name) if product.active_doc else None
        if doc is not None:
            key = f"deleted:active_doc:{doc['id']}"
            delete("ActiveDoc", doc["system_name"],
                   Write("DELETE", "/admin/api/active_docs/{}.json", args=(doc["id"],), provides=key))
            stage.append(key)
    before, stage = tuple(stage), []
    for product in catalogue.products:
        service = services.get(product.system_name)
        if service is None:
            continue
        key = f"deleted:product:{service['id']}"
        writes = [Write("DELETE", "/admin/api/services/{}/backend_usages/{}.json", args=(service["id"], u["id"]),
                        after=before) for u in usages.get(product.system_name, [])]
        delete("product", product.system_name, *writes,
               Write("DELETE", "/admin/api/services/{}.json", args=(service["id"],), provides=key, after=before),
               detail="with its metrics, rules, plans, limits and configs")
        stage.append(key)
    before = tuple(stage)
    for name in dict.fromkeys(p.backend.system_name for p in catalogue.products):
        backend = backends.get(name)
        if backend is not None:
            delete("backend", name, Write("DELETE", "/admin/api/backend_apis/{}.json", args=(backend["id"],),
                                          after=before))
    return actions


def destroy(ctx: Context) -> StepResult:
    """Delete what the catalogue owns (or, when `ctx.plan_only`, list it as "would delete")."""
    result = StepResult("Destroy")
    services = ctx.services()
    with ctx.client.about("applications"):
        accounts = ctx.accounts()
    owners = {accounts[s.account]["id"]: accounts[s.account] for s in ctx.catalogue.applications
              if s.account in accounts and s.product in services}
    # one listing per account, not one per application
    listed = dict(zip(owners, ctx.map(lambda a: _listed(ctx, a), list(owners.values())), strict=True))
    with ctx.client.about("ActiveDocs"):
        docs = {d["system_name"]: entity(d) for d in ctx.ts.active_docs.list()}
    owned = [services[p.system_name] for p in ctx.catalogue.products if p.system_name in services]
    with ctx.client.about("backend usages"):
        usages = dict(zip([s["system_name"] for s in owned], ctx.map(ctx.backend_usages, owned), strict=True))
    backends = ctx.backends()
    actions = plan_destroy(ctx.catalogue, {k: entity(v) for k, v in services.items()},
                           {k: entity(v) for k, v in accounts.items()}, listed, docs, usages,
                           {k: entity(v) for k, v in backends.items()})
    ctx.execute(result, actions)
    ctx.cache.clear()
    result.notes.append(KEPT)
    return result


def _listed(ctx: Context, account: Any) -> list[dict[str, Any]]:
    with ctx.client.about(f"applications of {account['org_name']}"):
        return [entity(a) for a in ctx.listing(account.applications)]
