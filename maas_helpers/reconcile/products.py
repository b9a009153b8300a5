"""Backends, products (+ backend usage), methods and token metrics, mapping rules, authentication, policy
chain, and deploy/promote."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from threescale_api.resources import Service

from maas_helpers.catalogue import Product
from maas_helpers.normalise import with_default_port
from maas_helpers.reconcile.actions import Action, FieldChange, Links, Ref, Write, act, field_changes
from maas_helpers.reconcile.context import Context, describe, diff, entity
from maas_helpers.results import Change, StepResult

# --- backends ------------------------------------------------------------------------------------------------
BACKENDS = "/admin/api/backend_apis.json"


def plan_backends(products: list[Product], observed: Mapping[str, Mapping[str, Any]], links: Links) -> list[Action]:
    """Each product's backend: created when 3scale has none of that system name, updated field by field."""
    actions: list[Action] = []
    seen: set[str] = set()
    for product in products:
        want = product.backend
        have = observed.get(want.system_name)
        if want.system_name in seen:  # shared by an earlier product of the catalogue
            actions.append(act("backend", want.system_name, Change.UNCHANGED,
                               link=links.backend(have["id"]) if have else None))
            continue
        seen.add(want.system_name)
        desired = {"name": want.name, "description": want.description, "private_endpoint": want.private_endpoint}
        if have is None:
            actions.append(act("backend", want.system_name, Change.CREATED,
                               Write("POST", BACKENDS, {"system_name": want.system_name, **desired},
                                     provides=f"backend:{want.system_name}"),
                               detail=want.private_endpoint))
            continue
        changes = field_changes(have, desired)
        writes = [Write("PUT", "/admin/api/backend_apis/{}.json", {c.field: c.new for c in changes},
                        args=(have["id"],))] if changes else []
        actions.append(act("backend", want.system_name, Change.UPDATED if changes else Change.UNCHANGED, *writes,
                           changes=changes, link=links.backend(have["id"])))
    return actions


def apply_backends(ctx: Context) -> StepResult:
    result = StepResult("Backends")
    with ctx.client.about("backends"):
        backends = ctx.backends()
    actions = plan_backends(ctx.catalogue.products, {k: entity(v) for k, v in backends.items()}, ctx.links)
    created = ctx.execute(result, actions)
    for action in actions:  # what 3scale now holds, for the later sections of this run (no re-read)
        name = action.name
        if f"backend:{name}" in created:
            backends[name] = created[f"backend:{name}"]
            action.link = ctx.links.backend(backends[name].get("id"))
        elif action.changes and not ctx.plan_only:
            backends[name] = {**entity(backends[name]), **{c.field: c.new for c in action.changes}}
    return result


# --- products and their backend usage -------------------------------------------------------------------------
SERVICES = "/admin/api/services.json"


def plan_products(products: list[Product], observed: Mapping[str, Mapping[str, Any]],
                  backends: Mapping[str, Mapping[str, Any]], usages: Mapping[str, list[Mapping[str, Any]]],
                  links: Links) -> list[Action]:
    """Each product (name, description) and the backend mounted at its path. `usages` are the observed backend
    usages of each existing product (by system name)."""
    actions: list[Action] = []
    for product in products:
        have = observed.get(product.system_name)
        if have is None:
            actions.append(act("product", product.system_name, Change.CREATED,
                               Write("POST", SERVICES, {"system_name": product.system_name, "name": product.name,
                                                        "description": product.description},
                                     provides=f"product:{product.system_name}")))
        else:
            changes = field_changes(have, {"name": product.name, "description": product.description})
            writes = [Write("PUT", "/admin/api/services/{}.json", {c.field: c.new for c in changes},
                            args=(have["id"],))] if changes else []
            actions.append(act("product", product.system_name, Change.UPDATED if changes else Change.UNCHANGED,
                               *writes, changes=changes, link=links.product(have["id"])))
        actions.append(_plan_backend_usage(product, have, backends.get(product.backend.system_name),
                                           usages.get(product.system_name, []), links))
    return actions


def _plan_backend_usage(product: Product, service: Mapping[str, Any] | None, backend: Mapping[str, Any] | None,
                        usages: list[Mapping[str, Any]], links: Links) -> Action:
    name = f"{product.system_name} → {product.backend.system_name} at {product.path}"
    link = links.product(service["id"] if service is not None else None, "/backend_usages")
    if backend is None:
        return act("backend usage", name, Change.CREATED, detail="after its backend is created", link=link)
    service_id: Any = service["id"] if service is not None else Ref(f"product:{product.system_name}")
    create = Write("POST", "/admin/api/services/{}/backend_usages.json",
                   {"backend_api_id": backend["id"], "path": product.path}, args=(service_id,))
    mine = next((u for u in usages if u.get("backend_id") == backend["id"]), None)
    if mine is None:
        # The product is ours: another backend mounted at our path (an older catalogue, a manual edit) is
        # replaced, since 3scale allows one backend per path and never re-points a usage.
        taken = next((u for u in usages if u.get("path") == product.path), None)
        if taken is None:
            return act("backend usage", name, Change.CREATED, create, link=link)
        return act("backend usage", name, Change.UPDATED,
                   Write("DELETE", "/admin/api/services/{}/backend_usages/{}.json", args=(service_id, taken["id"])),
                   create, changes=[FieldChange(f"backend at {product.path}", taken.get("backend_id"), backend["id"])],
                   detail=f"backend at {product.path}: {taken.get('backend_id')} → {backend['id']}", link=link)
    if mine.get("path") != product.path:
        return act("backend usage", name, Change.UPDATED,
                   Write("PUT", "/admin/api/services/{}/backend_usages/{}.json", {"path": product.path},
                         args=(service_id, mine["id"])),
                   changes=[FieldChange("path", mine.get("path"), product.path)], link=link)
    return act("backend usage", name, Change.UNCHANGED, link=link)


def apply_products(ctx: Context) -> StepResult:
    result = StepResult("Products")
    with ctx.client.about("products"):
        services = ctx.services()
        backends = ctx.backends()
        existing = [services[p.system_name] for p in ctx.catalogue.products if p.system_name in services]
        with_usages = [s for s in existing if _backend_known(ctx, s, backends)]
        usages = dict(zip([s["system_name"] for s in with_usages],
                          ctx.map(ctx.backend_usages, with_usages), strict=True))
    actions = plan_products(ctx.catalogue.products, {k: entity(v) for k, v in services.items()},
                            {k: entity(v) for k, v in backends.items()}, usages, ctx.links)
    created = ctx.execute(result, actions)
    if ctx.plan_only:
        return result
    for action in actions:
        if action.kind == "product" and f"product:{action.name}" in created:
            services[action.name] = Service(client=ctx.ts.services, entity=created[f"product:{action.name}"])
            action.link = ctx.links.product(services[action.name]["id"])
        elif action.kind == "product" and action.writes:
            ctx.forget("services")
        elif action.kind == "backend usage" and action.writes:
            service = services.get(action.name.split(" → ", 1)[0])
            if service is not None:
                ctx.forget(f"usages:{service['id']}")
    for action in actions:  # a new product's usage link, now that its id is known
        if action.kind == "backend usage" and action.link is None:
            service = services.get(action.name.split(" → ", 1)[0])
            action.link = ctx.links.product(service["id"], "/backend_usages") if service is not None else None
    return result


def _backend_known(ctx: Context, service: Any, backends: Mapping[str, Any]) -> bool:
    """Whether the product's usages need reading: only when its backend exists (else nothing can match)."""
    product = next(p for p in ctx.catalogue.products if p.system_name == service["system_name"])
    return product.backend.system_name in backends


def _missing_product(ctx: Context, result: StepResult, product: Product, kind: str, names: list[str]) -> None:
    for n in names:
        ctx.record(result, kind, f"{product.system_name}: {n}", Change.CREATED,
                   "product does not exist yet" if not ctx.plan_only else "")


def apply_metrics(ctx: Context) -> StepResult:
    result = StepResult("Methods and token metrics")
    for product in ctx.catalogue.products:
        service = ctx.service(product)
        if service is None:
            _missing_product(ctx, result, product, "method", [m.system_name for m in product.methods])
            _missing_product(ctx, result, product, "metric", [m.system_name for m in product.metrics])
            continue
        link = ctx.product_link(service["id"], "/metrics")
        with ctx.client.about(f"product {product.system_name}: metrics"):
            observed = ctx.metrics(service)
            by_name = {m["system_name"]: m for m in observed}
            hits = by_name.get("hits")
            # Methods and metrics are independent objects: their writes go out side by side (ctx.concurrency),
            # the rows are recorded in catalogue order afterwards.
            writes: list[Any] = []
            rows: list[tuple[str, str, Change, str]] = []
            for method in product.methods:
                desired = {"friendly_name": method.friendly_name, "description": method.description}
                have = by_name.get(method.system_name)
                label = f"{product.system_name}: {method.system_name}"
                if have is None:
                    writes.append((hits.methods.create, ({"system_name": method.system_name,
                                                          "friendly_name": method.friendly_name,
                                                          "description": method.description},)))
                    rows.append(("method", label, Change.CREATED, method.friendly_name))
                elif changes := diff(entity(have), desired):
                    writes.append((hits.methods.update, (have["id"], changes)))
                    rows.append(("method", label, Change.UPDATED, describe(entity(have), changes)))
                else:
                    rows.append(("method", label, Change.UNCHANGED, ""))
            for metric in product.metrics:
                desired = {"friendly_name": metric.friendly_name, "unit": metric.unit,
                           "description": metric.description}
                have = by_name.get(metric.system_name)
                label = f"{product.system_name}: {metric.system_name}"
                if have is None:
                    writes.append((service.metrics.create, ({"system_name": metric.system_name, **desired},)))
                    rows.append(("metric", label, Change.CREATED, f"unit {metric.unit}"))
                elif changes := diff(entity(have), desired):
                    writes.append((service.metrics.update, (have["id"], changes)))
                    rows.append(("metric", label, Change.UPDATED, describe(entity(have), changes)))
                else:
                    rows.append(("metric", label, Change.UNCHANGED, ""))
            ctx.map(lambda call: ctx.write(call[0], *call[1]), writes)
            for kind, label, change, detail in rows:
                ctx.record(result, kind, label, change, detail, link)
            wrote = bool(writes)
            if wrote:
                ctx.forget(f"metrics:{service['id']}", f"latest:{service['id']}:")
    return result


def _rule_name(http_method: str, pattern: str) -> str:
    return f"{http_method} {pattern}"


def apply_mapping_rules(ctx: Context) -> StepResult:
    result = StepResult("Mapping rules")
    for product in ctx.catalogue.products:
        service = ctx.service(product)
        if service is None:
            _missing_product(ctx, result, product, "mapping rule",
                             [_rule_name(m.http_method, m.pattern) for m in product.methods])
            continue
        link = ctx.product_link(service["id"], "/proxy_rules")
        with ctx.client.about(f"product {product.system_name}: mapping rules"):
            metric_ids = {m["system_name"]: m["id"] for m in ctx.metrics(service)}
            rules_client = ctx.proxy(service).mapping_rules
            observed = {(r["http_method"], r["pattern"]): r for r in ctx.mapping_rules(service)}
            wanted: set[tuple[str, str]] = set()
            wrote = False
            for method in product.methods:
                key = (method.http_method, method.pattern)
                wanted.add(key)
                label = f"{product.system_name}: {_rule_name(*key)}"
                metric_id = metric_ids.get(method.system_name)
                desired = {"metric_id": metric_id, "delta": method.delta, "last": False}
                have = observed.get(key)
                if have is None or metric_id is None:
                    ctx.write(rules_client.create, {"http_method": method.http_method, "pattern": method.pattern,
                                                     "delta": method.delta, "metric_id": metric_id, "last": False})
                    ctx.record(result, "mapping rule", label, Change.CREATED, f"→ {method.system_name} +{method.delta}",
                               link)
                    wrote = True
                elif changes := diff(entity(have), desired):
                    ctx.write(rules_client.update, have["id"], changes)
                    ctx.record(result, "mapping rule", label, Change.UPDATED, describe(entity(have), changes), link)
                    wrote = True
                else:
                    ctx.record(result, "mapping rule", label, Change.UNCHANGED, link=link)
            for key, have in observed.items():
                if key in wanted:
                    continue
                why = ("the default rule prefix-matches every GET and double-counts hits"
                       if key == ("GET", "/") else "not in the catalogue")
                if key == ("GET", "/") and not product.delete_default_rule:
                    continue
                ctx.write(rules_client.delete, have["id"])
                ctx.record(result, "mapping rule", f"{product.system_name}: {_rule_name(*key)}", Change.DELETED, why,
                           link)
                wrote = True
            if wrote:
                ctx.forget(f"rules:{service['id']}", f"latest:{service['id']}:")
    return result


def apply_authentication(ctx: Context) -> StepResult:
    result = StepResult("Authentication")
    for product in ctx.catalogue.products:
        service = ctx.service(product)
        desired = product.authentication.model_dump()
        detail = (f"API key in the Authorization header (HTTP Basic or Bearer); "
                  f"missing key → {product.authentication.error_status_auth_missing}")
        if service is None:
            ctx.record(result, "proxy", f"{product.system_name}: authentication", Change.UPDATED, detail)
            continue
        link = ctx.product_link(service["id"], "/integration")
        with ctx.client.about(f"product {product.system_name}: authentication settings"):
            proxy = ctx.proxy(service)
            changes = diff(entity(proxy), desired)
            if changes:
                ctx.write(lambda service=service, changes=changes: service.proxy.update(params=changes))
                ctx.record(result, "proxy", f"{product.system_name}: authentication", Change.UPDATED,
                           describe(entity(proxy), changes), link)
                ctx.forget(f"proxy:{service['id']}", f"latest:{service['id']}:")  # 3scale deploys it to staging
            else:
                ctx.record(result, "proxy", f"{product.system_name}: authentication", Change.UNCHANGED, detail, link)
    return result


def _desired_chain(product: Product) -> list[dict[str, Any]]:
    return [p.model_dump() for p in product.policies]


def apply_policies(ctx: Context) -> StepResult:
    result = StepResult("Policy chain")
    for product in ctx.catalogue.products:
        service = ctx.service(product)
        chain = _desired_chain(product)
        names = " → ".join(p["name"] for p in chain)
        if service is None:
            ctx.record(result, "policy chain", product.system_name, Change.UPDATED, names)
            continue
        link = ctx.product_link(service["id"], "/policies/edit")
        with ctx.client.about(f"product {product.system_name}: policy chain"):
            policies = ctx.proxy(service).policies
            observed = ctx.policy_chain(service)
            if observed == chain:
                ctx.record(result, "policy chain", product.system_name, Change.UNCHANGED, names, link)
                continue
            ctx.write(lambda policies=policies, chain=chain, service=service: policies.update(
                params={"policies_config": chain, "service_id": service["id"]}))
            ctx.record(result, "policy chain", product.system_name, Change.UPDATED, names, link)
            # a chain update is deployed to staging by 3scale itself: the latest staging config read before is stale
            ctx.forget(f"proxy:{service['id']}", f"chain:{service['id']}", f"latest:{service['id']}:")
    return result


# --- deploy and promote ------------------------------------------------------------------------------------

def _latest(ctx: Context, service: Any, env: str) -> dict[str, Any] | None:
    return ctx.latest_config(service, env)


def staging_differences(ctx: Context, product: Product, service: Any, config: dict[str, Any] | None) -> list[str]:
    """Why the latest staging config does not match the product's current settings (empty = up to date)."""
    if config is None:
        return ["no staging configuration yet"]
    content = config.get("content") or {}
    proxy_content = content.get("proxy") or {}
    proxy = entity(ctx.proxy(service))
    reasons = []
    for key in product.authentication.model_dump():
        if proxy_content.get(key) != proxy.get(key):
            reasons.append(key)
    chain = [{k: p.get(k) for k in ("name", "version", "configuration")} for p in _desired_chain(product)
             if p["enabled"]]
    deployed_chain = _own_chain(proxy_content.get("policy_chain") or [])
    if chain != deployed_chain:
        reasons.append("policy chain")
    names = {m["id"]: m["system_name"] for m in ctx.metrics(service)}
    current = sorted((r["http_method"], r["pattern"], names.get(r["metric_id"]), r["delta"])
                     for r in ctx.mapping_rules(service))
    deployed = sorted((r.get("http_method"), r.get("pattern"), r.get("metric_system_name"), r.get("delta"))
                      for r in proxy_content.get("proxy_rules") or [] if r.get("owner_type") != "BackendApi")
    if current != deployed:
        reasons.append("mapping rules")
    if with_default_port(product.backend.private_endpoint) not in _deployed_endpoints(proxy_content):
        reasons.append("backend")
    return reasons


def _generated(rule: dict[str, Any]) -> bool:
    return rule.get("owner_type") == "BackendApi"


def _own_chain(deployed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The deployed chain without what porta adds for backends at sub-paths (routing_policy.rb: a `routing`
    policy whose BackendApi-owned rules route each usage; rules of our own routing policy are kept)."""
    own = []
    for policy in deployed:
        entry = {k: policy.get(k) for k in ("name", "version", "configuration")}
        if policy.get("name") == "routing":
            rules = [r for r in (policy.get("configuration") or {}).get("rules") or [] if not _generated(r)]
            if len(rules) != len((policy.get("configuration") or {}).get("rules") or []):
                if not rules:
                    continue
                entry["configuration"] = {**(policy.get("configuration") or {}), "rules": rules}
        own.append(entry)
    return own


def _deployed_endpoints(proxy_content: dict[str, Any]) -> set[str | None]:
    """Backends a config sends to: `proxy.api_backend`, or (nil with a backend at a sub-path) the URLs of the
    routing rules porta generates (apicast_v2_deployment_service.rb, routing_policy.rb)."""
    if proxy_content.get("api_backend"):
        return {proxy_content["api_backend"]}
    return {r.get("url") for p in proxy_content.get("policy_chain") or [] if p.get("name") == "routing"
            for r in (p.get("configuration") or {}).get("rules") or [] if _generated(r)}


def apply_promote(ctx: Context) -> StepResult:
    result = StepResult("Deploy to staging and promote to production")
    for product in ctx.catalogue.products:
        service = ctx.service(product)
        if service is None:
            ctx.record(result, "staging config", product.system_name, Change.CREATED)
            ctx.record(result, "production config", product.system_name, Change.CREATED)
            continue
        link = ctx.product_link(service["id"], "/proxy_configs")
        with ctx.client.about(f"product {product.system_name}: deploy/promote"):
            staging = _latest(ctx, service, "sandbox")
            reasons = staging_differences(ctx, product, service, staging)
            if reasons:
                ctx.write(lambda service=service: service.proxy.deploy())
                if not ctx.plan_only:
                    ctx.forget(f"latest:{service['id']}:sandbox")
                    staging = _latest(ctx, service, "sandbox")
                version = f"v{staging['version']}" if staging and not ctx.plan_only else "new version"
                ctx.record(result, "staging config", product.system_name, Change.CREATED,
                           f"{version}: {', '.join(reasons)} changed", link)
            else:
                ctx.record(result, "staging config", product.system_name, Change.UNCHANGED,
                           f"v{staging['version']}" if staging else "", link)
            production = _latest(ctx, service, "production")
            if staging is None or ctx.plan_only and reasons:
                ctx.record(result, "production config", product.system_name, Change.CREATED,
                           "promote the new staging version", link)
                continue
            if production is not None and production["version"] >= staging["version"]:
                ctx.record(result, "production config", product.system_name, Change.UNCHANGED,
                           f"v{production['version']} = staging", link)
                continue
            version = staging["version"]
            ctx.write(lambda service=service, version=version: ctx.proxy(service).configs.promote(
                version=version, from_env="sandbox", to_env="production"))
            ctx.record(result, "production config", product.system_name, Change.CREATED, f"promoted v{version}", link)
            ctx.forget(f"latest:{service['id']}:production")
    return result
