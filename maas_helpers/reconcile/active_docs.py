"""ActiveDocs: one OpenAPI spec per product, `servers` = the product's production endpoint read from 3scale."""

from __future__ import annotations

import json

from maas_helpers.reconcile.context import Context, entity
from maas_helpers.reconcile.openapi import openapi_document
from maas_helpers.results import Change, StepResult


def apply_active_docs(ctx: Context) -> StepResult:
    result = StepResult("ActiveDocs")
    with ctx.client.about("ActiveDocs"):
        docs = ctx.cached("active_docs", lambda: {d["system_name"]: d for d in ctx.ts.active_docs.list()})
    for product in ctx.catalogue.products:
        spec = product.active_doc
        if spec is None:
            continue
        service = ctx.service(product)
        if service is None:
            ctx.record(result, "ActiveDoc", spec.system_name, Change.CREATED, "servers: the production endpoint")
            continue
        with ctx.client.about(f"ActiveDoc {spec.system_name}"):
            endpoint = entity(ctx.proxy(service)).get("endpoint") or ""
            document = openapi_document(product, endpoint)
            desired = {"name": spec.name, "description": spec.description, "published": spec.published,
                       "service_id": service["id"]}
            have = docs.get(spec.system_name)
            link = ctx.link(f"/apiconfig/services/{service['id']}/api_docs")
            if have is None:
                ctx.write(ctx.ts.active_docs.create, {"system_name": spec.system_name, **desired,
                                                       "body": json.dumps(document)})
                ctx.record(result, "ActiveDoc", spec.system_name, Change.CREATED, f"servers: {endpoint}", link)
                ctx.forget("active_docs")
                continue
            data = entity(have)
            changes = {k: v for k, v in desired.items() if data.get(k) != v}
            try:
                same_body = json.loads(data.get("body") or "null") == document
            except ValueError:
                same_body = False
            if not same_body:
                changes["body"] = json.dumps(document)
            if changes:
                ctx.write(ctx.ts.active_docs.update, have["id"], changes)
                ctx.record(result, "ActiveDoc", spec.system_name, Change.UPDATED, ", ".join(changes), link)
                ctx.forget("active_docs")
            else:
                ctx.record(result, "ActiveDoc", spec.system_name, Change.UNCHANGED, f"servers: {endpoint}", link)
    return result
