"""ActiveDocs: one OpenAPI spec per product, `servers` = the product's production endpoint read from 3scale.

Requests as threescale_api's ActiveDocs client sends them (JSON, porta admin/api/api_docs_controller.rb:
`system_name`, `name`, `description`, `published`, `service_id`, `body`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from maas_helpers.catalogue import Product
from maas_helpers.reconcile.actions import Action, FieldChange, Links, Write, act, field_changes
from maas_helpers.reconcile.context import Context, entity
from maas_helpers.reconcile.openapi import openapi_document
from maas_helpers.results import Change, StepResult

ACTIVE_DOCS = "/admin/api/active_docs.json"


def plan_active_docs(products: list[Product], services: Mapping[str, Mapping[str, Any]],
                     endpoints: Mapping[str, str], docs: Mapping[str, Mapping[str, Any]], links: Links) -> list[Action]:
    """Each product's ActiveDoc. `endpoints`: each existing product's production endpoint (by system name);
    `docs`: the ActiveDocs 3scale holds (by system name)."""
    actions: list[Action] = []
    previous: tuple[str, ...] = ()  # new docs one after the other: 3scale lists them (and the portal shows them)
    for product in products:        # in creation order
        spec = product.active_doc
        if spec is None:
            continue
        service = services.get(product.system_name)
        if service is None:
            actions.append(act("ActiveDoc", spec.system_name, Change.CREATED,
                               detail="servers: the production endpoint"))
            continue
        endpoint = endpoints.get(product.system_name) or ""
        document = openapi_document(product, endpoint)
        desired = {"name": spec.name, "description": spec.description, "published": spec.published,
                   "service_id": service["id"]}
        have = docs.get(spec.system_name)
        link = links.product(service["id"], "/api_docs")
        if have is None:
            actions.append(act("ActiveDoc", spec.system_name, Change.CREATED,
                               Write("POST", ACTIVE_DOCS, {"system_name": spec.system_name, **desired,
                                                           "body": json.dumps(document)},
                                     provides=f"active_doc:{spec.system_name}", after=previous,
                                     owns="active_doc"),
                               detail=f"servers: {endpoint}", link=link))
            previous = (f"active_doc:{spec.system_name}",)
            continue
        changes = list(field_changes(have, desired))
        if not _same_body(have.get("body"), document):
            changes.append(FieldChange("body", have.get("body"), json.dumps(document)))
        if changes:
            actions.append(act("ActiveDoc", spec.system_name, Change.UPDATED,
                               Write("PUT", "/admin/api/active_docs/{}.json", {c.field: c.new for c in changes},
                                     args=(have["id"],)),
                               changes=changes, detail=", ".join(c.field for c in changes), link=link))
        else:
            actions.append(act("ActiveDoc", spec.system_name, Change.UNCHANGED, detail=f"servers: {endpoint}",
                               link=link))
    return actions


def _same_body(body: Any, document: dict[str, Any]) -> bool:
    """The stored spec is JSON text: compared as a document (porta keeps the text as sent)."""
    try:
        return json.loads(body or "null") == document
    except ValueError:
        return False


def apply_active_docs(ctx: Context) -> StepResult:
    result = StepResult("ActiveDocs")
    with ctx.client.about("ActiveDocs"):
        docs = ctx.active_docs()
    services = {p.system_name: s for p in ctx.catalogue.products if p.active_doc and (s := ctx.service(p))}

    def endpoint(product: Product) -> str:
        with ctx.client.about(f"ActiveDoc {product.active_doc.system_name}"):  # type: ignore[union-attr]
            return str(entity(ctx.proxy(services[product.system_name])).get("endpoint") or "")

    documented = [p for p in ctx.catalogue.products if p.system_name in services]
    endpoints = dict(zip([p.system_name for p in documented], ctx.map(endpoint, documented), strict=True))
    actions = plan_active_docs(ctx.catalogue.products, {k: entity(v) for k, v in services.items()}, endpoints,
                               {k: entity(v) for k, v in docs.items()}, ctx.links)
    ctx.execute(result, actions)
    if any(a.writes for a in actions):  # re-read next time (as planned, too: the old code forgot either way)
        ctx.forget("active_docs")
    return result
