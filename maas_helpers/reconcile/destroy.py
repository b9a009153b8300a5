"""Remove exactly what the catalogue owns (matched by system name); seed objects stay untouched.

Stages run in 3scale's order (applications, ActiveDocs, products with their backend usages, then backends);
within a stage the objects are independent, so they are removed `ctx.concurrency` at a time and reported in
catalogue order."""

from __future__ import annotations

from typing import Any

from maas_helpers.reconcile.context import Context
from maas_helpers.results import Change, StepResult


def destroy(ctx: Context) -> StepResult:
    result = StepResult("Destroy")
    services = ctx.services()
    with ctx.client.about("applications"):
        accounts = ctx.accounts()
    wanted = [(spec, accounts.get(spec.account), services.get(spec.product)) for spec in ctx.catalogue.applications]
    wanted = [(spec, account, service) for spec, account, service in wanted if account and service]
    # one listing per account, not one per application
    owners = list({account["id"]: account for _, account, _ in wanted}.values())
    listed = dict(zip([a["id"] for a in owners], ctx.map(lambda a: _listed(ctx, a), owners), strict=True))
    doomed = [(spec, account, app) for spec, account, service in wanted for app in listed[account["id"]]
              if app["name"] == spec.name and app["service_id"] == service["id"]]

    def delete_app(item: tuple[Any, Any, Any]) -> None:
        spec, account, app = item
        with ctx.client.about(f"application {spec.name} of {spec.account}"):
            ctx.write(account.applications.delete, app["id"])

    ctx.map(delete_app, doomed)
    for spec, _, _ in doomed:
        ctx.record(result, "application", f"{spec.account}: {spec.name}", Change.DELETED)

    with ctx.client.about("ActiveDocs"):
        docs = {d["system_name"]: d for d in ctx.ts.active_docs.list()}
    owned_docs = [docs[p.active_doc.system_name] for p in ctx.catalogue.products
                  if p.active_doc and p.active_doc.system_name in docs]

    def delete_doc(doc: Any) -> None:
        with ctx.client.about(f"ActiveDoc {doc['system_name']}"):
            ctx.write(ctx.ts.active_docs.delete, doc["id"])

    ctx.map(delete_doc, owned_docs)
    for doc in owned_docs:
        ctx.record(result, "ActiveDoc", doc["system_name"], Change.DELETED)

    owned = [services[p.system_name] for p in ctx.catalogue.products if p.system_name in services]

    def delete_product(service: Any) -> None:
        with ctx.client.about(f"product {service['system_name']}"):
            for usage in ctx.backend_usages(service):
                ctx.write(service.backend_usages.delete, usage["id"])
            ctx.write(ctx.ts.services.delete, service["id"])

    ctx.map(delete_product, owned)
    for service in owned:
        ctx.record(result, "product", service["system_name"], Change.DELETED,
                   "with its metrics, rules, plans, limits and configs")

    backends = ctx.backends()
    names = list(dict.fromkeys(p.backend.system_name for p in ctx.catalogue.products if p.backend.system_name
                               in backends))

    def delete_backend(name: str) -> None:
        with ctx.client.about(f"backend {name}"):
            ctx.write(ctx.ts.backends.delete, backends[name]["id"])

    ctx.map(delete_backend, names)
    for name in names:
        ctx.record(result, "backend", name, Change.DELETED)
    ctx.cache.clear()
    result.notes.append("kept: the policy registry entry, portal content and the SSO provider (3scale has no "
                        "DELETE for SSO providers); the organisation settings")
    return result


def _listed(ctx: Context, account: Any) -> list[Any]:
    with ctx.client.about(f"applications of {account['org_name']}"):
        return ctx.listing(account.applications)
