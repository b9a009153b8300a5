"""Ownership in a reconcile run (the rule itself lives in `maas_helpers.ownership`).

`claim` runs before the sections: an object that carries a catalogue name but is not in the kit's inventory is
reported "exists, not the kit's: left alone" and taken out of the run's catalogue, so no section changes it
(unless the catalogue's `adopt` names it). `plan_prune` (pure) plans the deletion of what the kit owns and the
catalogue no longer names; `apply_prune` is the reconcile section, and `destroy` uses the same planner with
nothing kept. Stages in 3scale's order: applications, ActiveDocs, products (backend usages first), backends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from maas_helpers import ownership
from maas_helpers.catalogue import Catalogue
from maas_helpers.reconcile.actions import Action, Write, act
from maas_helpers.reconcile.context import Context, entity
from maas_helpers.results import Change, StepResult
from maas_helpers.section_names import PRODUCT_SECTIONS

Obj = Mapping[str, Any]
GONE = "already gone"
PRUNED = "no longer in the catalogue"
CONFIRM = "confirm with prune=True (`maas apply --prune`)"
APPS = "/admin/api/applications.json"


@dataclass(frozen=True)
class Keep:
    """What stays: catalogue names by kind, and the catalogue's applications as (org name, app name, product)."""

    products: frozenset[str] = frozenset()
    backends: frozenset[str] = frozenset()
    active_docs: frozenset[str] = frozenset()
    applications: frozenset[tuple[str, str, str]] = field(default_factory=frozenset)

    @classmethod
    def of(cls, catalogue: Catalogue) -> Keep:
        return cls(frozenset(p.system_name for p in catalogue.products),
                   frozenset(p.backend.system_name for p in catalogue.products),
                   frozenset(p.active_doc.system_name for p in catalogue.products if p.active_doc),
                   frozenset((a.account, a.name, a.product) for a in catalogue.applications))


# --- foreign objects with a catalogue name ---------------------------------------------------------------
def plan_claims(catalogue: Catalogue, inventory: ownership.Inventory, services: Mapping[str, Obj],
                backends: Mapping[str, Obj], docs: Mapping[str, Obj] | None) -> tuple[list[Action], Catalogue]:
    """Rows for catalogue-named objects the kit does not own, and the catalogue without them (a product whose
    product or backend is foreign is left out; a foreign ActiveDoc leaves the product without one). Adopted
    objects are recorded (the save is the action's one write)."""
    adopt = set(catalogue.adopt)
    actions: list[Action] = []
    products = []

    def foreign(kind: str, name: str, have: Obj | None) -> bool:
        if have is None or inventory.owns(kind, have["id"]):
            return False
        if f"{kind}:{name}" in adopt:
            inventory.record(kind, have["id"], name)
            actions.append(act(_label(kind), name, Change.UPDATED, Write("PUT", "inventory", owns=kind),
                               detail=f"adopted (catalogue `adopt`): recorded in the kit's inventory, id {have['id']}"))
            return False
        hint = ("; a name the kit was creating when a run stopped — add it to the catalogue's `adopt` to take it"
                if inventory.is_pending(kind, name) else f"; to take it over add \"{kind}:{name}\" to `adopt`")
        actions.append(act(_label(kind), name, Change.SKIPPED, detail=f"{ownership.FOREIGN} (id {have['id']}){hint}"))
        return True

    seen_backends: dict[str, bool] = {}
    for product in catalogue.products:
        name = product.backend.system_name
        if name not in seen_backends:
            seen_backends[name] = foreign("backend", name, backends.get(name))
        lost = foreign("product", product.system_name, services.get(product.system_name))
        if lost or seen_backends[name]:
            continue
        if product.active_doc and docs is not None and foreign("active_doc", product.active_doc.system_name,
                                                                docs.get(product.active_doc.system_name)):
            product = product.model_copy(update={"active_doc": None})
        products.append(product)
    kept = {p.system_name for p in products}
    return actions, catalogue.model_copy(update={
        "products": products, "applications": [a for a in catalogue.applications if a.product in kept]})


def _label(kind: str) -> str:
    return {"active_doc": "ActiveDoc"}.get(kind, kind)


# the sections whose objects the claim sorts into the kit's own and foreign ones
CLAIMING = {*PRODUCT_SECTIONS, "subscriptions_and_apps", "active_docs", "prune"}


def claim(ctx: Context, sections: Sequence[str]) -> StepResult:
    """Before the sections: rows for foreign objects, the run's catalogue without them, the owner field defined.
    Reads only what the sections read anyway (the inventory aside)."""
    result = StepResult("Ownership")
    if not set(sections) & CLAIMING:
        return result
    names = set(sections)
    inventory = ctx.inventory()
    if not ctx.plan_only and "subscriptions_and_apps" in names:
        ownership.ensure_owner_fields(ctx.client, inventory)
    docs = _docs(ctx) if names & {"active_docs", "prune"} else None
    actions, catalogue = plan_claims(ctx.catalogue, inventory, {k: entity(v) for k, v in ctx.services().items()},
                                     {k: entity(v) for k, v in ctx.backends().items()}, docs)
    if any(a.writes for a in actions) and not ctx.plan_only:
        ownership.save_inventory(ctx.client, inventory)
    for action in actions:  # the save above is the adoption's write; nothing else to send
        ctx.record_action(result, action)
    ctx.cache["keep"] = Keep.of(ctx.catalogue)
    ctx.catalogue = catalogue
    return result


def _docs(ctx: Context) -> dict[str, dict[str, Any]]:
    with ctx.client.about("ActiveDocs"):
        return {k: entity(v) for k, v in ctx.active_docs().items()}


# --- prune -------------------------------------------------------------------------------------------------
def plan_prune(inventory: ownership.Inventory, keep: Keep, services: Mapping[int, Obj], backends: Mapping[int, Obj],
               docs: Mapping[int, Obj], apps: Sequence[Obj], marked_accounts: set[int],
               usages: Mapping[int, Sequence[Obj]], *, confirmed: bool,
               why: str = PRUNED) -> tuple[list[Action], list[str]]:
    """Deletes of what the inventory owns and `keep` does not name. `services`/`backends`/`docs`: what 3scale holds,
    by id; `apps`: every application (with the owner field); `marked_accounts`: ids of accounts the kit created
    (their applications go with them, at teardown); `usages`: backend usages of each product to delete.
    Returns the actions and the ids the inventory can forget (owned, but no longer in 3scale: "already gone")."""
    instance = inventory.instance
    actions: list[Action] = []
    gone: list[str] = []

    def delete(kind: str, name: str, *writes: Write, detail: str) -> None:
        actions.append(act(kind, name, Change.DELETED, *writes, detail=detail))

    pruned_products: dict[int, Obj] = {}
    for sid, name in sorted(inventory.ids("product").items()):
        service = services.get(sid)
        if service is None:
            gone.append(f"product {name} (id {sid}): {GONE}")
        elif service["system_name"] not in keep.products:
            pruned_products[sid] = service
    stage: list[str] = []
    blocked: set[int] = set()
    # applications: the kit's on products that stay but that the catalogue no longer names (on accounts the kit
    # did not create: the journey's and workshop's go with their accounts); foreign ones block a product's delete
    by_service: dict[int, list[Obj]] = {}
    for app in apps:
        by_service.setdefault(int(app["service_id"]), []).append(app)
    for sid, service in pruned_products.items():
        foreign = [a for a in by_service.get(sid, []) if not ownership.marked(a, instance)]
        if foreign and not confirmed:
            blocked.add(sid)
            who = ", ".join(f"{a.get('name')} ({a.get('org_name', 'account ' + str(a.get('account_id')))})"
                            for a in foreign[:3]) + (" …" if len(foreign) > 3 else "")
            actions.append(act("product", service["system_name"], Change.SKIPPED,
                               detail=f"{why}, but kept: it holds {len(foreign)} application(s) the kit did not "
                                      f"create — {who}; deleting it deletes them; {CONFIRM}"))
    services_by_name = {s["system_name"]: int(sid) for sid, s in services.items()}
    for app in apps:
        sid = int(app["service_id"])
        if not ownership.marked(app, instance) or int(app["account_id"]) in marked_accounts:
            continue
        service = services.get(sid)
        product = service["system_name"] if service else str(sid)
        if sid in blocked:
            continue  # its product stays
        named = (app.get("org_name"), app.get("name"), product) in keep.applications
        if named and services_by_name.get(product) == sid and sid not in pruned_products:
            continue
        key = f"deleted:application:{app['id']}"
        delete("application", f"{app.get('org_name')}: {app.get('name')}",
               Write("DELETE", "/admin/api/accounts/{}/applications/{}.json", args=(app["account_id"], app["id"]),
                     provides=key), detail=f"{why} (product {product})")
        stage.append(key)
    for did, name in sorted(inventory.ids("active_doc").items()):
        doc = docs.get(did)
        if doc is None:
            gone.append(f"ActiveDoc {name} (id {did}): {GONE}")
            continue
        if doc["system_name"] in keep.active_docs and doc.get("service_id") not in pruned_products:
            continue
        key = f"deleted:active_doc:{did}"
        delete("ActiveDoc", doc["system_name"], Write("DELETE", "/admin/api/active_docs/{}.json", args=(did,),
                                                      provides=key, owns="active_doc"), detail=why)
        stage.append(key)
    before, stage = tuple(stage), []
    for sid, service in pruned_products.items():
        if sid in blocked:
            continue
        key = f"deleted:product:{sid}"
        writes = [Write("DELETE", "/admin/api/services/{}/backend_usages/{}.json", args=(sid, u["id"]), after=before)
                  for u in usages.get(sid, [])]
        others = len([a for a in by_service.get(sid, []) if not ownership.marked(a, instance)])
        delete("product", service["system_name"], *writes,
               Write("DELETE", "/admin/api/services/{}.json", args=(sid,), provides=key, after=before, owns="product"),
               detail=f"{why}: with its plans, metrics, rules, limits, configs"
                      + (f" and {others} application(s) the kit did not create (confirmed)" if others else ""))
        stage.append(key)
    before = tuple(stage)
    still_used = {int(u["backend_id"]) for sid in blocked for u in usages.get(sid, [])}
    for bid, name in sorted(inventory.ids("backend").items()):
        backend = backends.get(bid)
        if backend is None:
            gone.append(f"backend {name} (id {bid}): {GONE}")
            continue
        if backend["system_name"] in keep.backends:
            continue
        if bid in still_used:
            actions.append(act("backend", backend["system_name"], Change.SKIPPED,
                               detail=f"{why}, but kept: a product kept above still uses it"))
            continue
        delete("backend", backend["system_name"],
               Write("DELETE", "/admin/api/backend_apis/{}.json", args=(bid,), provides=f"deleted:backend:{bid}",
                     after=before, owns="backend"), detail=why)
    return actions, gone


def observe_prune(ctx: Context, keep: Keep) -> tuple[dict[int, Any], dict[int, Any], dict[int, Any],
                                                      list[dict[str, Any]], set[int]]:
    """What `plan_prune` needs, read with the run's cached lists (services, backends, ActiveDocs, accounts) plus one
    listing of every application."""
    services = {int(s["id"]): entity(s) for s in ctx.services().values()}
    backends = {int(b["id"]): entity(b) for b in ctx.backends().values()}
    docs = {int(d["id"]): d for d in _docs(ctx).values()}
    with ctx.client.about("applications"):
        apps = applications(ctx)
        instance = ctx.inventory().instance
        marked = {int(a["id"]) for a in ctx.accounts().values() if ownership.marked(entity(a), instance)}
    return services, backends, docs, apps, marked


def applications(ctx: Context) -> list[dict[str, Any]]:
    """Every application of the tenant, as read once per run."""
    return ctx.cached("all_applications", lambda: all_applications(ctx))


def all_applications(ctx: Context) -> list[dict[str, Any]]:
    """Every application of the tenant (porta admin/api/applications_controller.rb: pages of up to 500)."""
    apps: list[dict[str, Any]] = []
    page = 1
    while True:
        body = ctx.client.get_json(APPS, params={"page": page, "per_page": 500})
        batch = [a.get("application", a) for a in body.get("applications", [])]
        apps.extend(batch)
        if len(batch) < 500:
            return apps
        page += 1


def run_prune(ctx: Context, result: StepResult, keep: Keep, *, confirmed: bool, why: str) -> None:
    inventory = ctx.inventory()
    services, backends, docs, apps, marked = observe_prune(ctx, keep)
    doomed = [sid for sid, name in inventory.ids("product").items()
              if sid in services and services[sid]["system_name"] not in keep.products]
    resources = {int(s["id"]): s for s in ctx.services().values()}
    with ctx.client.about("backend usages"):
        usages = {sid: ctx.backend_usages(resources[sid]) for sid in doomed}
    actions, gone = plan_prune(inventory, keep, services, backends, docs, apps, marked, usages,
                               confirmed=confirmed, why=why)
    ctx.execute(result, actions)
    result.notes.extend(gone)
    if gone and not ctx.plan_only:  # forget what someone else already deleted
        with inventory.lock:
            for kind in ownership.INVENTORY_KINDS:
                for oid in [i for i in inventory.ids(kind) if i not in {"product": services, "backend": backends,
                                                                      "active_doc": docs}[kind]]:
                    inventory.forget(kind, oid)
        ownership.save_inventory(ctx.client, inventory)
    if any(a.writes for a in actions) and not ctx.plan_only:
        ctx.cache.clear()


def apply_prune(ctx: Context) -> StepResult:
    """The reconcile section: delete what the kit owns and the catalogue no longer names."""
    result = StepResult("No longer in the catalogue")
    keep = ctx.cache.get("keep") or Keep.of(ctx.catalogue)  # `claim` keeps the whole catalogue's names
    run_prune(ctx, result, keep, confirmed=ctx.prune, why=PRUNED)
    return result
