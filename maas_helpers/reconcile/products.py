"""Backends, products (+ backend usage), methods and token metrics, mapping rules, authentication, policy
chain, and deploy/promote."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from threescale_api.resources import Service

from maas_helpers.catalogue import Product
from maas_helpers.errors import MaasError
from maas_helpers.normalise import endpoint
from maas_helpers.reconcile.actions import Action, FieldChange, Links, Ref, Write, act, field_changes
from maas_helpers.reconcile.context import Context, entity
from maas_helpers.results import Change, StepResult
from maas_helpers.secrets import generated_secret, mask

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
                                     provides=f"backend:{want.system_name}", owns="backend"),
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
                                     provides=f"product:{product.system_name}", owns="product")))
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


# --- methods, metrics, mapping rules, authentication, policy chain --------------------------------------------
# A product that does not exist yet (a plan before the products section ran) gets one row per object and no write.
MISSING = "product does not exist yet"


def _missing_product(product: Product, kind: str, names: list[str], detail: str) -> list[Action]:
    return [act(kind, f"{product.system_name}: {n}", Change.CREATED, detail=detail) for n in names]


def _missing_detail(ctx: Context) -> str:
    """Planning says nothing more than "would create"; an apply says why nothing was sent."""
    return "" if ctx.plan_only else MISSING


METRICS = "/admin/api/services/{}/metrics.json"
METRIC = "/admin/api/services/{}/metrics/{}.json"
METHODS = "/admin/api/services/{}/metrics/{}/methods.json"
METHOD = "/admin/api/services/{}/metrics/{}/methods/{}.json"


def plan_metrics(product: Product, service_id: Any, observed: Sequence[Mapping[str, Any]], links: Links,
                 missing: str = MISSING) -> list[Action]:
    """The product's methods (under `hits`) and token metrics: created or updated field by field. `observed` is
    3scale's metric list of the product, methods included (porta lists both; methods have a `parent_id`);
    `service_id` None = the product does not exist yet."""
    if service_id is None:
        return (_missing_product(product, "method", [m.system_name for m in product.methods], missing)
                + _missing_product(product, "metric", [m.system_name for m in product.metrics], missing))
    link = links.product(service_id, "/metrics")
    by_name = {m["system_name"]: m for m in observed}
    actions: list[Action] = []
    for method in product.methods:
        desired = {"friendly_name": method.friendly_name, "description": method.description}
        label = f"{product.system_name}: {method.system_name}"
        have = by_name.get(method.system_name)
        if have is None:
            actions.append(act("method", label, Change.CREATED,
                               Write("POST", METHODS, {"system_name": method.system_name, **desired},
                                     args=(service_id, _hits_id(product, by_name))),
                               detail=method.friendly_name, link=link))
            continue
        changes = field_changes(have, desired)
        writes = [Write("PUT", METHOD, {c.field: c.new for c in changes},
                        args=(service_id, _hits_id(product, by_name), have["id"]))] if changes else []
        actions.append(act("method", label, Change.UPDATED if changes else Change.UNCHANGED, *writes,
                           changes=changes, link=link))
    for metric in product.metrics:
        desired = {"friendly_name": metric.friendly_name, "unit": metric.unit, "description": metric.description}
        label = f"{product.system_name}: {metric.system_name}"
        have = by_name.get(metric.system_name)
        if have is None:
            actions.append(act("metric", label, Change.CREATED,
                               Write("POST", METRICS, {"system_name": metric.system_name, **desired},
                                     args=(service_id,)),
                               detail=f"unit {metric.unit}", link=link))
            continue
        changes = field_changes(have, desired)
        writes = [Write("PUT", METRIC, {c.field: c.new for c in changes}, args=(service_id, have["id"]))] \
            if changes else []
        actions.append(act("metric", label, Change.UPDATED if changes else Change.UNCHANGED, *writes,
                           changes=changes, link=link))
    return actions


def _hits_id(product: Product, by_name: Mapping[str, Mapping[str, Any]]) -> Any:
    """Methods hang under `hits`, which porta creates with every product (service.rb `create_default_metrics`)."""
    hits = by_name.get("hits")
    if hits is None:
        raise MaasError(f"product {product.system_name}: 3scale lists no `hits` metric to hold its methods; "
                        "check the product in the admin portal")
    return hits["id"]


def apply_metrics(ctx: Context) -> StepResult:
    result = StepResult("Methods and token metrics")
    for product in ctx.catalogue.products:
        service = ctx.service(product)
        if service is None:
            ctx.execute(result, plan_metrics(product, None, [], ctx.links, _missing_detail(ctx)))
            continue
        with ctx.client.about(f"product {product.system_name}: metrics"):
            observed = [entity(m) for m in ctx.metrics(service)]
            # methods and metrics are independent objects: the executor sends their writes side by side
            actions = plan_metrics(product, service["id"], observed, ctx.links)
            ctx.execute(result, actions)
        if any(a.writes for a in actions) and not ctx.plan_only:
            ctx.forget(f"metrics:{service['id']}", f"latest:{service['id']}:")
    return result


def _rule_name(http_method: str, pattern: str) -> str:
    return f"{http_method} {pattern}"


RULES = "/admin/api/services/{}/proxy/mapping_rules.json"
RULE = "/admin/api/services/{}/proxy/mapping_rules/{}.json"


def plan_mapping_rules(product: Product, service_id: Any, metrics: Sequence[Mapping[str, Any]],
                       rules: Sequence[Mapping[str, Any]], links: Links, missing: str = MISSING) -> list[Action]:
    """One rule per method (pattern → method, +delta), then the rules of the product that the catalogue does
    not have are deleted: the default `GET /` (unless the product keeps it) and any other."""
    if service_id is None:
        return _missing_product(product, "mapping rule",
                                [_rule_name(m.http_method, m.pattern) for m in product.methods], missing)
    link = links.product(service_id, "/proxy_rules")
    metric_ids = {m["system_name"]: m["id"] for m in metrics}
    observed = {(r["http_method"], r["pattern"]): r for r in rules}
    actions: list[Action] = []
    wanted: set[tuple[str, str]] = set()
    previous: tuple[str, ...] = ()  # new rules are created one after the other: 3scale lists (and positions)
    for method in product.methods:  # them in creation order, so the admin portal shows the catalogue's order
        key = (method.http_method, method.pattern)
        wanted.add(key)
        label = f"{product.system_name}: {_rule_name(*key)}"
        metric_id = metric_ids.get(method.system_name)  # None while planning a method not created yet
        have = observed.get(key)
        if have is None or metric_id is None:
            actions.append(act("mapping rule", label, Change.CREATED,
                               Write("POST", RULES, {"http_method": method.http_method, "pattern": method.pattern,
                                                     "delta": method.delta, "metric_id": metric_id, "last": False},
                                     args=(service_id,), provides=f"rule:{label}", after=previous),
                               detail=f"→ {method.system_name} +{method.delta}", link=link))
            previous = (f"rule:{label}",)
            continue
        changes = field_changes(have, {"metric_id": metric_id, "delta": method.delta, "last": False})
        writes = [Write("PUT", RULE, {c.field: c.new for c in changes}, args=(service_id, have["id"]))] \
            if changes else []
        actions.append(act("mapping rule", label, Change.UPDATED if changes else Change.UNCHANGED, *writes,
                           changes=changes, link=link))
    for key, have in observed.items():
        if key in wanted or key == ("GET", "/") and not product.delete_default_rule:
            continue
        why = ("the default rule prefix-matches every GET and double-counts hits" if key == ("GET", "/")
               else "not in the catalogue")
        actions.append(act("mapping rule", f"{product.system_name}: {_rule_name(*key)}", Change.DELETED,
                           Write("DELETE", RULE, args=(service_id, have["id"])), detail=why, link=link))
    return actions


def apply_mapping_rules(ctx: Context) -> StepResult:
    result = StepResult("Mapping rules")
    for product in ctx.catalogue.products:
        service = ctx.service(product)
        if service is None:
            ctx.execute(result, plan_mapping_rules(product, None, [], [], ctx.links, _missing_detail(ctx)))
            continue
        with ctx.client.about(f"product {product.system_name}: mapping rules"):
            actions = plan_mapping_rules(product, service["id"], [entity(m) for m in ctx.metrics(service)],
                                         [entity(r) for r in ctx.mapping_rules(service)], ctx.links)
            ctx.execute(result, actions)
        if any(a.writes for a in actions) and not ctx.plan_only:
            ctx.forget(f"rules:{service['id']}", f"latest:{service['id']}:")
    return result


PROXY = "/admin/api/services/{}/proxy.json"


def proxy_secret_token(state_dir: Path, product: Product) -> str:
    """The product's proxy `secret_token`, generated once into a 0600 file of the state dir and never printed.
    APIcast sends it upstream as `X-3scale-proxy-secret-token`; a model server (the sandbox's) that checks it
    answers only the gateway. 43 URL-safe characters: porta's format rule (`APP_OR_USER_KEY`, app/models/proxy.rb)
    and its 255-character bound hold; porta's own default is a fixed prefix and 64 random bits."""
    return generated_secret(Path(state_dir) / f"proxy-secret-token-{product.system_name}.secret", 32)


def plan_authentication(product: Product, service_id: Any, proxy: Mapping[str, Any] | None,
                        links: Links, secret_token: str | None = None) -> Action:
    """The proxy's authentication settings (where the key is read), its error answers (body, status and content
    type of a missing or wrong key, an unmapped path, an exceeded limit) and, when given, the secret token the
    gateway sends upstream (shown masked), all in one PUT."""
    name = f"{product.system_name}: authentication"
    detail = (f"API key in the Authorization header (HTTP Basic or Bearer); "
              f"missing key → {product.authentication.error_status_auth_missing}; errors as OpenAI-shaped JSON")
    if secret_token:
        detail += f"; upstream secret token {mask(secret_token)}"
    if service_id is None or proxy is None:
        return act("proxy", name, Change.UPDATED, detail=detail)
    link = links.product(service_id, "/integration")
    changes = list(field_changes(proxy, product.authentication.model_dump()))
    body: dict[str, Any] = {c.field: c.new for c in changes}
    if secret_token and proxy.get("secret_token") != secret_token:
        changes.append(FieldChange("secret_token", mask(proxy.get("secret_token")), mask(secret_token)))
        body["secret_token"] = secret_token
    if not changes:
        return act("proxy", name, Change.UNCHANGED, detail=detail, link=link)
    # porta's proxies_controller.rb `update` deploys the changed proxy to staging itself
    return act("proxy", name, Change.UPDATED, Write("PUT", PROXY, body, args=(service_id,)), changes=changes,
               link=link)


def apply_authentication(ctx: Context) -> StepResult:
    result = StepResult("Authentication")
    for product in ctx.catalogue.products:
        secret = proxy_secret_token(ctx.state_dir, product) if ctx.state_dir is not None else None
        service = ctx.service(product)
        if service is None:
            ctx.execute(result, [plan_authentication(product, None, None, ctx.links, secret)])
            continue
        with ctx.client.about(f"product {product.system_name}: authentication settings"):
            action = plan_authentication(product, service["id"], entity(ctx.proxy(service)), ctx.links, secret)
            ctx.execute(result, [action])
        if action.writes and not ctx.plan_only:
            ctx.forget(f"proxy:{service['id']}", f"latest:{service['id']}:")  # 3scale deploys it to staging
    return result


def _desired_chain(product: Product) -> list[dict[str, Any]]:
    return [p.model_dump() for p in product.policies]


POLICIES = "/admin/api/services/{}/proxy/policies.json"


def plan_policies(product: Product, service_id: Any, observed: Sequence[Mapping[str, Any]] | None,
                  links: Links) -> Action:
    """The whole policy chain, replaced in one request when it differs (porta stores it as one list:
    services/proxy/policies_controller.rb)."""
    chain = _desired_chain(product)
    names = " → ".join(p["name"] for p in chain)
    if service_id is None or observed is None:
        return act("policy chain", product.system_name, Change.UPDATED, detail=names)
    link = links.product(service_id, "/policies/edit")
    if list(observed) == chain:
        return act("policy chain", product.system_name, Change.UNCHANGED, detail=names, link=link)
    return act("policy chain", product.system_name, Change.UPDATED,
               Write("PUT", POLICIES, {"policies_config": chain, "service_id": service_id}, args=(service_id,)),
               changes=[FieldChange("policies_config", list(observed), chain)], detail=names, link=link)


def apply_policies(ctx: Context) -> StepResult:
    result = StepResult("Policy chain")
    for product in ctx.catalogue.products:
        service = ctx.service(product)
        if service is None:
            ctx.execute(result, [plan_policies(product, None, None, ctx.links)])
            continue
        with ctx.client.about(f"product {product.system_name}: policy chain"):
            action = plan_policies(product, service["id"], ctx.policy_chain(service), ctx.links)
            ctx.execute(result, [action])
        if action.writes and not ctx.plan_only:
            # a chain update is deployed to staging by 3scale itself: the latest staging config read before is stale
            ctx.forget(f"proxy:{service['id']}", f"chain:{service['id']}", f"latest:{service['id']}:")
    return result


# --- deploy and promote ------------------------------------------------------------------------------------

def staging_differences(product: Product, proxy: Mapping[str, Any], metrics: Sequence[Mapping[str, Any]],
                        rules: Sequence[Mapping[str, Any]], config: Mapping[str, Any] | None) -> list[str]:
    """Why the latest staging config does not match the product's current settings (empty = up to date):
    `proxy`, `metrics` and `rules` are what 3scale holds now, `config` its latest staging proxy config."""
    if config is None:
        return ["no staging configuration yet"]
    content = config.get("content") or {}
    proxy_content = content.get("proxy") or {}
    reasons = []
    for key in [*product.authentication.model_dump(), "secret_token"]:
        if proxy_content.get(key) != proxy.get(key):
            reasons.append(key)
    chain = [{k: p.get(k) for k in ("name", "version", "configuration")} for p in _desired_chain(product)
             if p["enabled"]]
    deployed_chain = _own_chain(proxy_content.get("policy_chain") or [])
    if chain != deployed_chain:
        reasons.append("policy chain")
    names = {m["id"]: m["system_name"] for m in metrics}
    current = sorted((r["http_method"], r["pattern"], names.get(r["metric_id"]), r["delta"]) for r in rules)
    deployed = sorted((r.get("http_method"), r.get("pattern"), r.get("metric_system_name"), r.get("delta"))
                      for r in proxy_content.get("proxy_rules") or [] if r.get("owner_type") != "BackendApi")
    if current != deployed:
        reasons.append("mapping rules")
    if endpoint(product.backend.private_endpoint) not in {endpoint(e) for e in _deployed_endpoints(proxy_content)}:
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


def _deployed_endpoints(proxy_content: Mapping[str, Any]) -> set[str | None]:
    """Backends a config sends to: `proxy.api_backend`, or (nil with a backend at a sub-path) the URLs of the
    routing rules porta generates (apicast_v2_deployment_service.rb, routing_policy.rb)."""
    if proxy_content.get("api_backend"):
        return {proxy_content["api_backend"]}
    return {r.get("url") for p in proxy_content.get("policy_chain") or [] if p.get("name") == "routing"
            for r in (p.get("configuration") or {}).get("rules") or [] if _generated(r)}


DEPLOY = "/admin/api/services/{}/proxy/deploy.json"
PROMOTE = "/admin/api/services/{}/proxy/configs/sandbox/{}/promote.json"


def plan_deploy(product: Product, service_id: Any, staging: Mapping[str, Any] | None,
                reasons: list[str], links: Links) -> Action:
    """Round one: a new staging version when the latest one differs from the product (`reasons`, from
    `staging_differences`). Its number is only known once 3scale has made it (the apply re-reads it)."""
    if service_id is None:
        return act("staging config", product.system_name, Change.CREATED)
    link = links.product(service_id, "/proxy_configs")
    if not reasons:
        return act("staging config", product.system_name, Change.UNCHANGED,
                   detail=f"v{staging['version']}" if staging else "", link=link)
    return act("staging config", product.system_name, Change.CREATED, Write("POST", DEPLOY, args=(service_id,)),
               detail=f"new version: {', '.join(reasons)} changed", link=link)


def plan_promote(product: Product, service_id: Any, staging: Mapping[str, Any] | None,
                 production: Mapping[str, Any] | None, links: Links) -> Action:
    """Round two: production gets the latest staging version unless it already has it (or a later one).
    `staging` None = a staging version still to be made (planning a deploy)."""
    if service_id is None:
        return act("production config", product.system_name, Change.CREATED)
    link = links.product(service_id, "/proxy_configs")
    if staging is None:
        return act("production config", product.system_name, Change.CREATED,
                   detail="promote the new staging version", link=link)
    if production is not None and production["version"] >= staging["version"]:
        return act("production config", product.system_name, Change.UNCHANGED,
                   detail=f"v{production['version']} = staging", link=link)
    version = staging["version"]
    return act("production config", product.system_name, Change.CREATED,
               Write("POST", PROMOTE, {"to": "production"}, args=(service_id, version)),
               changes=[FieldChange("version", production["version"] if production else None, version)],
               detail=f"promoted v{version}", link=link)


def apply_promote(ctx: Context) -> StepResult:
    result = StepResult("Deploy to staging and promote to production")
    for product in ctx.catalogue.products:
        service = ctx.service(product)
        if service is None:
            ctx.execute(result, [plan_deploy(product, None, None, [], ctx.links),
                                 plan_promote(product, None, None, None, ctx.links)])
            continue
        sid = service["id"]
        with ctx.client.about(f"product {product.system_name}: deploy/promote"):
            # round one: deploy when staging differs from what 3scale holds now
            staging = ctx.latest_config(service, "sandbox")
            reasons = staging_differences(product, entity(ctx.proxy(service)),
                                          [entity(m) for m in ctx.metrics(service)],
                                          [entity(r) for r in ctx.mapping_rules(service)], staging)
            deploy = plan_deploy(product, sid, staging, reasons, ctx.links)
            ctx.execute(result, [deploy])
            if deploy.writes:
                if ctx.plan_only:
                    staging = None  # the version a deploy would make
                else:  # what 3scale made of it: the version to promote
                    ctx.forget(f"latest:{sid}:sandbox")
                    staging = ctx.latest_config(service, "sandbox")
                    version = f"v{staging['version']}" if staging else "new version"
                    deploy.detail = f"{version}: {', '.join(reasons)} changed"  # the recorded row, now numbered
            # round two: promote the latest staging version
            promote = plan_promote(product, sid, staging, ctx.latest_config(service, "production"), ctx.links)
            ctx.execute(result, [promote])
        if promote.writes and not ctx.plan_only:
            ctx.forget(f"latest:{sid}:production")
    return result
