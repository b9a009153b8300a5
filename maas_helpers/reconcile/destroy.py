"""Remove exactly what the catalogue owns (matched by system name); seed objects stay untouched."""

from __future__ import annotations

from maas_helpers.reconcile.context import Context, entity
from maas_helpers.results import Change, StepResult


def destroy(ctx: Context) -> StepResult:
    result = StepResult("Destroy")
    services = ctx.services()
    with ctx.client.about("applications"):
        accounts = {a["org_name"]: a for a in ctx.ts.accounts.list()}
        for spec in ctx.catalogue.applications:
            account = accounts.get(spec.account)
            service = services.get(spec.product)
            if account is None or service is None:
                continue
            for app in account.applications.list():
                if app["name"] == spec.name and app["service_id"] == service["id"]:
                    ctx.write(account.applications.delete, app["id"])
                    ctx.record(result, "application", f"{spec.account}: {spec.name}", Change.DELETED)
    with ctx.client.about("ActiveDocs"):
        docs = {d["system_name"]: d for d in ctx.ts.active_docs.list()}
        for product in ctx.catalogue.products:
            if product.active_doc and (doc := docs.get(product.active_doc.system_name)) is not None:
                ctx.write(ctx.ts.active_docs.delete, doc["id"])
                ctx.record(result, "ActiveDoc", product.active_doc.system_name, Change.DELETED)
    for product in ctx.catalogue.products:
        service = services.get(product.system_name)
        if service is None:
            continue
        with ctx.client.about(f"product {product.system_name}"):
            for usage in service.backend_usages.list():
                ctx.write(service.backend_usages.delete, entity(usage)["id"])
            ctx.write(ctx.ts.services.delete, service["id"])
            ctx.record(result, "product", product.system_name, Change.DELETED,
                       "with its metrics, rules, plans, limits and configs")
    backends = ctx.backends()
    for product in ctx.catalogue.products:
        backend = backends.get(product.backend.system_name)
        if backend is not None:
            with ctx.client.about(f"backend {product.backend.system_name}"):
                ctx.write(ctx.ts.backends.delete, backend["id"])
                ctx.record(result, "backend", product.backend.system_name, Change.DELETED)
    ctx.cache.clear()
    result.notes.append("kept: the policy registry entry, portal content and the SSO provider (3scale has no "
                        "DELETE for SSO providers); the organisation settings")
    return result
