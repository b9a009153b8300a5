"""What a reconcile run shares: the client, the desired catalogue, the mode (apply or plan) and what it has
observed so far (read once per run, refreshed after writes); how many products may be worked on at once and
who hears about each recorded object (progress bars)."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from maas_helpers import ownership
from maas_helpers.admin_client import AdminClient
from maas_helpers.catalogue import Catalogue, Product
from maas_helpers.reconcile.actions import Links, Write
from maas_helpers.results import Action, Change, StepResult

if TYPE_CHECKING:
    from maas_helpers.platform.base import Platform

# cache keys of one product's objects: `kind:{service id}[:…]` and `kind:{application plan id}`
PER_PRODUCT = ("usages", "metrics", "proxy", "rules", "chain", "service_plans", "latest", "plans")
PER_PLAN = ("limits", "pricing")
PLANNED = {Change.CREATED: Change.PLANNED_CREATE, Change.UPDATED: Change.PLANNED_UPDATE,
           Change.DELETED: Change.PLANNED_DELETE}


def entity(obj: Any) -> dict[str, Any]:
    """The plain dict of a `threescale_api` resource (or a dict already)."""
    return dict(obj.entity) if hasattr(obj, "entity") else dict(obj)


@dataclass
class Context:
    client: AdminClient
    catalogue: Catalogue
    plan_only: bool = False
    platform: Platform | None = None
    state_dir: Any = None  # Path where generated secrets are kept (sandbox / local runs)
    cache: dict[str, Any] = field(default_factory=dict)
    concurrency: int = 1  # products (or objects of one kind) worked on at once; 1 = strictly one call at a time
    progress: Callable[[Action], None] | None = None  # called once per recorded object, from any thread
    prune: bool = False  # delete owned products that hold applications the kit did not create (confirmed)
    warmed: dict[str, int] = field(default_factory=dict)  # key read by `warm` → the stage that first uses it
    warm_writes: int = 0  # the client's write count when `warm` read them

    @property
    def ts(self) -> Any:
        return self.client.threescale

    # --- links -----------------------------------------------------------------------------------------
    @property
    def links(self) -> Links:
        return Links(self.client.admin_url)

    def link(self, path: str) -> str:
        return self.links.page(path)

    def product_link(self, service_id: Any, tail: str = "") -> str | None:
        return self.links.product(service_id, tail)

    # --- recording -------------------------------------------------------------------------------------
    def record_action(self, result: StepResult, action: Action) -> Action:
        """Add a planned action to `result` (as "would …" when planning) and tell the progress listener."""
        if self.plan_only and action.change in PLANNED:
            action = replace(action, change=PLANNED[action.change])
        result.actions.append(action)
        if self.progress is not None:
            self.progress(action)
        return action

    def execute(self, result: StepResult, actions: Iterable[Action]) -> dict[str, dict[str, Any]]:
        """The one executor: send the actions' writes (unless planning) and record every action in order.

        Actions are independent unless one refers (`Ref`) to an object another creates: independent ones go out
        side by side (`concurrency`), a dependent one after what it needs. Returns the created objects by their
        `provides` key."""
        actions = list(actions)
        known: dict[str, dict[str, Any]] = {}
        owning = [(a, w) for a in actions for w in a.writes if isinstance(w, Write) and w.owns]
        if not self.plan_only:
            inventory = self.inventory() if owning else None
            if inventory is not None and any(w.method == "POST" for _, w in owning):
                for action, write in owning:  # before the creates: a crash leaves a name, never a silent orphan
                    if write.method == "POST":
                        inventory.add_pending(write.owns or "", action.name)
                ownership.save_inventory(self.client, inventory)
            try:
                for wave in _waves(actions):
                    for created in self.map(lambda action: self._send(action, known), wave):
                        known.update(created)
            finally:
                if inventory is not None:
                    self._record_owned(inventory, owning, known)
        for action in actions:
            self.record_action(result, action)
        return known

    def inventory(self) -> ownership.Inventory:
        """The tenant's inventory of what the kit created (read once per run, shared by the product workers)."""
        inventory: ownership.Inventory = self.cached("inventory", lambda: ownership.load_inventory(self.client))
        return inventory

    def _record_owned(self, inventory: ownership.Inventory, owning: list[tuple[Action, Write]],
                      known: Mapping[str, dict[str, Any]]) -> None:
        """Record what was created (by id), forget what was deleted, and save once."""
        changed = False
        with inventory.lock:
            for action, write in owning:
                key = write.provides or ""
                if write.method == "POST" and key in known and "id" in known[key]:
                    inventory.record(write.owns or "", known[key]["id"], action.name)
                    changed = True
                elif write.method == "DELETE" and key in known:
                    inventory.forget(write.owns or "", write.args[0])
                    changed = True
        if changed or any(w.method == "POST" for _, w in owning):
            ownership.save_inventory(self.client, inventory)

    def _send(self, action: Action, known: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        created: dict[str, dict[str, Any]] = {}
        with self.client.about(f"{action.kind} {action.name}"):
            for write in action.writes:
                path, body = write.resolved({**known, **created})
                kwargs: dict[str, Any] = {"master": write.master}
                if write.form is not None or write.files is not None:
                    kwargs.update(data=dict(write.form or {}), files=write.files)
                elif body is not None:
                    kwargs["json"] = body
                resp = self.client.request(write.method, path, **kwargs)
                if write.provides and write.method == "DELETE":
                    created[write.provides] = {}
                elif write.provides:
                    created[write.provides] = _unwrap(resp.json() if resp.content else {})
        return created

    def for_product(self, product: Product) -> Context:
        """A context for one product's sections on a worker thread: its own cache, sharing the run's
        product and backend lists (each thread only touches its own product's entries)."""
        shared: dict[str, Any] = {k: self.cache[k] for k in ("services", "backends", "inventory") if k in self.cache}
        shared.update(self._observed_of(product))
        return Context(self.client, self.catalogue.model_copy(update={"products": [product]}),
                       plan_only=self.plan_only, platform=self.platform, state_dir=self.state_dir, cache=shared,
                       concurrency=self.concurrency, progress=self.progress, prune=self.prune)

    def _observed_of(self, product: Product) -> dict[str, Any]:
        """What this context already read of `product`'s own objects (a warm-up's prefetch), by cache key."""
        service = (self.cache.get("services") or {}).get(product.system_name)
        if service is None:
            return {}
        sid = str(service["id"])
        plans = {str(p["id"]) for p in (self.cache.get(f"plans:{sid}") or {}).values()}
        return {k: v for k, v in self.cache.items()
                if (k.split(":")[0] in PER_PRODUCT and k.split(":")[1] == sid)
                or (k.split(":")[0] in PER_PLAN and k.split(":")[1] in plans)}

    def absorb(self, other: Context) -> None:
        """Take over what a product context observed, so later sections reuse it; a shared list it had to
        re-read (after an update) is re-read here too."""
        for key, value in other.cache.items():
            if key in ("services", "backends"):
                if self.cache.get(key) is not value:
                    self.forget(key)
            else:
                self.cache[key] = value
        for key in ("services", "backends"):
            if key not in other.cache:
                self.forget(key)

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any], *, workers: int | None = None) -> list[Any]:
        """`fn` over `items` with up to `workers` (default: `concurrency`) at once; results (and the first error)
        in item order."""
        items = list(items)
        if self.concurrency <= 1 or len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(workers or self.concurrency, len(items))) as pool:
            # each task runs in a copy of the caller's context: errors keep naming the object (client.about)
            futures = [pool.submit(contextvars.copy_context().run, fn, item) for item in items]
        return [f.result() for f in futures]

    def warm(self, loads: Mapping[str, tuple[int, Callable[[], Any]]], *, workers: int | None = None) -> None:
        """Read side by side, before the first section, what the sections would read one after another: `loads`
        maps a cache key to (the stage that first uses it, its loader). Only with concurrency > 1; `settle`
        forgets what writes made since then could have changed."""
        todo = [(key, stage, load) for key, (stage, load) in loads.items() if key not in self.cache]
        if self.concurrency <= 1 or not todo:
            return
        if not self.warmed:
            self.warm_writes = self.client.writes
        before = set(self.cache)
        values = self.map(lambda item: item[2](), todo, workers=workers)
        for (key, stage, _), value in zip(todo, values, strict=True):
            self.cache[key] = value
            self.warmed[key] = stage
        # what a loader cached besides its own key (a product's prefetch): kept until the wave's last stage
        latest = max(stage for _, stage, _ in todo)
        for key in set(self.cache) - before - set(self.warmed):
            self.warmed[key] = latest

    def settle(self, stage: int) -> None:
        """Before `stage` runs: if anything was written since `warm`, forget what it read for this stage or a
        later one, so those sections read after the writes exactly as without the warm-up. A re-apply writes
        nothing and keeps everything."""
        if self.warmed and self.client.writes != self.warm_writes:
            for key in [k for k, first in self.warmed.items() if first >= stage]:
                self.cache.pop(key, None)
                del self.warmed[key]

    def cached(self, key: str, load: Callable[[], Any]) -> Any:
        if key not in self.cache:
            self.cache[key] = load()
        return self.cache[key]

    def forget(self, *prefixes: str) -> None:
        for key in [k for k in list(self.cache) if k.startswith(prefixes)]:
            self.cache.pop(key, None)

    @staticmethod
    def listing(client: Any) -> list[Any]:
        """All items of a paginated `threescale_api` collection in as few calls as porta allows: pages of
        `per_page` (500, porta's maximum: admin/api/filters/pagination.rb), stopping at the first short page
        (threescale_api asks for one more, empty, page every time)."""
        per_page = getattr(client, "per_page", None)
        if not per_page:
            return list(client.list())
        items: list[Any] = []
        page = 1
        while True:
            chunk = client.list(params={"page": page, "per_page": per_page})
            items.extend(chunk)
            if len(chunk) < per_page:
                return items
            page += 1

    # --- shared observations ---------------------------------------------------------------------------
    def services(self) -> dict[str, Any]:
        """Products by system name (threescale_api Service resources)."""
        return self.cached("services", lambda: {s["system_name"]: s for s in self.listing(self.ts.services)})

    def service(self, product: Product) -> Any | None:
        return self.services().get(product.system_name)

    def backends(self) -> dict[str, Any]:
        return self.cached("backends", lambda: {b["system_name"]: b for b in self.listing(self.ts.backends)})

    def metrics(self, service: Any) -> list[Any]:
        """Metrics and methods of a product (3scale lists both; methods have a parent_id)."""
        return self.cached(f"metrics:{service['id']}", lambda: self.listing(service.metrics))

    def proxy(self, service: Any) -> Any:
        from threescale_api.resources import Proxy

        def load() -> Any:
            client = service.proxy
            return Proxy(client=client, entity=client.fetch())

        return self.cached(f"proxy:{service['id']}", load)

    def mapping_rules(self, service: Any) -> list[Any]:
        return self.cached(f"rules:{service['id']}", lambda: self.listing(self.proxy(service).mapping_rules))

    def provider(self) -> dict[str, Any]:
        """The provider account (forgotten by the sections that update it)."""
        return self.cached("provider", lambda: self.client.get_json("/admin/api/provider.json")["account"])

    def active_docs(self) -> dict[str, Any]:
        """ActiveDocs by system name (threescale_api resources)."""
        return self.cached("active_docs", lambda: {d["system_name"]: d for d in self.ts.active_docs.list()})

    def accounts(self) -> dict[str, Any]:
        """Developer accounts by org name."""
        return self.cached("accounts", lambda: {a["org_name"]: a for a in self.listing(self.ts.accounts)})

    def backend_usages(self, service: Any) -> list[dict[str, Any]]:
        return self.cached(f"usages:{service['id']}", lambda: [entity(u) for u in self.listing(service.backend_usages)])

    def policy_chain(self, service: Any) -> list[dict[str, Any]]:
        return self.cached(f"chain:{service['id']}",
                           lambda: entity(self.proxy(service).policies.list()).get("policies_config", []))

    def service_plans(self, service: Any) -> list[dict[str, Any]]:
        def load() -> list[dict[str, Any]]:
            body = self.client.get_json(f"/admin/api/services/{service['id']}/service_plans.json")
            return [p.get("service_plan", p) for p in body.get("plans", [])]

        return self.cached(f"service_plans:{service['id']}", load)

    def latest_config(self, service: Any, env: str) -> dict[str, Any] | None:
        """The latest proxy config of `env` (sandbox = staging) as first read in this run."""
        def load() -> dict[str, Any] | None:
            body = self.client.get_json(f"/admin/api/services/{service['id']}/proxy/configs/{env}/latest.json",
                                        allow_404=True)
            return body.get("proxy_config") if body else None

        return self.cached(f"latest:{service['id']}:{env}", load)

    def limits(self, plan: Any) -> list[dict[str, Any]]:
        """An application plan's limits. threescale_api's `list_per_app_plan` builds the service-nested URL,
        which 3scale does not route: read /admin/api/application_plans/{id}/limits.json directly."""
        def load() -> list[dict[str, Any]]:
            body = self.client.get_json(f"/admin/api/application_plans/{plan['id']}/limits.json")
            return [item.get("limit", item) for item in body.get("limits", [])]

        return self.cached(f"limits:{plan['id']}", load)

    def pricing_rules(self, plan: Any) -> list[dict[str, Any]]:
        """An application plan's pricing rules, all metrics (porta application_plan_pricing_rules_controller.rb)."""
        def load() -> list[dict[str, Any]]:
            body = self.client.get_json(f"/admin/api/application_plans/{plan['id']}/pricing_rules.json")
            return [item.get("pricing_rule", item) for item in body.get("pricing_rules", [])]

        return self.cached(f"pricing:{plan['id']}", load)

    def prefetch(self, product: Product, sections: Iterable[str]) -> None:
        """Read, side by side, what `sections` will read of an existing product (one round trip instead of one
        per read); the sections then find it in the cache. Reads only: nothing here depends on their order."""
        service = self.service(product)
        if service is None or self.concurrency <= 1:
            return
        names = set(sections)
        first: list[Callable[[], Any]] = []
        if "products" in names:
            first.append(lambda: self.backend_usages(service))
        if names & {"metrics", "mapping_rules", "promote", "plans"}:
            first.append(lambda: self.metrics(service))
        if names & {"mapping_rules", "authentication", "policies", "promote"}:
            first.append(lambda: self.proxy(service))
        if "promote" in names:
            first += [lambda: self.latest_config(service, "sandbox"), lambda: self.latest_config(service, "production")]
        if "plans" in names:
            first += [lambda: self.app_plans(service), lambda: self.service_plans(service)]
        self.map(lambda load: load(), first)
        then: list[Callable[[], Any]] = []
        if names & {"mapping_rules", "promote"}:
            then.append(lambda: self.mapping_rules(service))
        if "policies" in names:
            then.append(lambda: self.policy_chain(service))
        if "plans" in names:
            for plan in self.app_plans(service).values():
                then += [partial(self.limits, plan), partial(self.pricing_rules, plan)]
        self.map(lambda load: load(), then)

    def app_plans(self, service: Any) -> dict[str, Any]:
        return self.cached(f"plans:{service['id']}",
                           lambda: {p["system_name"]: p for p in service.app_plans.list()})


def _waves(actions: list[Action]) -> list[list[Action]]:
    """Layers of actions: an action goes out in the layer after the one that creates what it refers to
    (`Ref`) or must follow (`Write.after`), otherwise in the first; the actions of a layer are independent of
    each other."""
    layer_of: dict[str, int] = {}
    waves: list[list[Action]] = []
    for action in actions:
        writes = [w for w in action.writes if isinstance(w, Write)]
        needs = {r.key for w in writes for r in w.refs} | {k for w in writes for k in w.after}
        needs -= {w.provides for w in writes}
        layer = 1 + max((layer_of[k] for k in needs if k in layer_of), default=-1)
        while len(waves) <= layer:
            waves.append([])
        waves[layer].append(action)
        for w in writes:
            if w.provides:
                layer_of[w.provides] = layer
    return waves


def _unwrap(body: Any) -> dict[str, Any]:
    """porta wraps an object in its type (`{"backend_api": {...}}`): the object."""
    if isinstance(body, dict) and len(body) == 1:
        (inner,) = body.values()
        if isinstance(inner, dict):
            return inner
    return body if isinstance(body, dict) else {}
