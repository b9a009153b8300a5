"""The prune/destroy planner and the claim planner are pure (maas_helpers/reconcile/owned.py): the kit's inventory
+ what 3scale holds → deletions in porta's order (applications and ActiveDocs, then products with their backend
usages, then backends: porta refuses to delete a backend a product still uses, app/models/backend_api.rb
`avoid_destruction`). Ownership is the inventory and the admin-only `maas_owner` mark, never a name.
tests/sandbox/test_reconcile_destroy.py and test_ownership.py check the same over HTTP."""

from __future__ import annotations

from maas_helpers import ownership
from maas_helpers.catalogue import Application, Catalogue, product_for_model
from maas_helpers.config import ModelEndpoint
from maas_helpers.reconcile.context import _waves
from maas_helpers.reconcile.owned import Keep, plan_claims, plan_prune
from maas_helpers.results import Change

ME = "maas-0000aaaa"


def _catalogue(*names: str) -> Catalogue:
    products = [product_for_model(ModelEndpoint(name=n, url=f"http://{n}:8080")) for n in names]
    return Catalogue(products=products, applications=[Application(product=n, name=f"{n} app") for n in names])


def _inventory() -> ownership.Inventory:
    return ownership.Inventory(ME, 7, owned={"product": {"10": "a", "11": "b"}, "backend": {"20": "a", "21": "b"},
                                             "active_doc": {"30": "a", "31": "b"}})


# 3scale holds our a and b, the seed's api, and someone else's product "c" and backend "c"
SERVICES = {10: {"id": 10, "system_name": "a"}, 11: {"id": 11, "system_name": "b"},
            1: {"id": 1, "system_name": "api"}, 12: {"id": 12, "system_name": "c"}}
BACKENDS = {20: {"id": 20, "system_name": "a"}, 21: {"id": 21, "system_name": "b"}, 2: {"id": 2, "system_name": "api"},
            22: {"id": 22, "system_name": "c"}}
DOCS = {30: {"id": 30, "system_name": "a", "service_id": 10}, 31: {"id": 31, "system_name": "b", "service_id": 11},
        32: {"id": 32, "system_name": "echo", "service_id": 1}}
MARK = {ownership.OWNER_FIELD: ME}
APPS = [{"id": 50, "name": "a app", "service_id": 10, "account_id": 3, "org_name": "Developer", **MARK},
        {"id": 51, "name": "b app", "service_id": 11, "account_id": 3, "org_name": "Developer", **MARK},
        {"id": 52, "name": "Developer's App", "service_id": 1, "account_id": 3, "org_name": "Developer"},
        {"id": 53, "name": "dev-1 a", "service_id": 10, "account_id": 9, "org_name": "dev-1 org", **MARK}]
USAGES = {10: [{"id": 60, "backend_id": 20}], 11: [{"id": 61, "backend_id": 21}]}


def test_destroy_deletes_only_what_the_inventory_and_the_mark_own_in_porta_order() -> None:
    actions, gone = plan_prune(_inventory(), Keep(), SERVICES, BACKENDS, DOCS, APPS, {9}, USAGES, confirmed=True,
                               why="teardown")
    assert gone == []
    assert [(a.kind, a.name, a.change) for a in actions] == [
        ("application", "Developer: a app", Change.DELETED), ("application", "Developer: b app", Change.DELETED),
        ("ActiveDoc", "a", Change.DELETED), ("ActiveDoc", "b", Change.DELETED),
        ("product", "a", Change.DELETED), ("product", "b", Change.DELETED),
        ("backend", "a", Change.DELETED), ("backend", "b", Change.DELETED)]
    sent = [str(w) for a in actions for w in a.writes]
    assert "DELETE /admin/api/services/12.json" not in sent and "DELETE /admin/api/backend_apis/22.json" not in sent
    assert not any("/applications/52" in w or "/applications/53" in w for w in sent)  # seed's; a kit account's
    assert [[a.kind for a in wave] for wave in _waves(actions)] == [
        ["application", "application", "ActiveDoc", "ActiveDoc"], ["product", "product"], ["backend", "backend"]]


def test_prune_deletes_what_the_catalogue_no_longer_names() -> None:
    keep = Keep.of(_catalogue("a"))
    actions, _ = plan_prune(_inventory(), keep, SERVICES, BACKENDS, DOCS, APPS, {9}, USAGES, confirmed=False)
    assert [(a.kind, a.name) for a in actions] == [("application", "Developer: b app"), ("ActiveDoc", "b"),
                                                   ("product", "b"), ("backend", "b")]
    assert {a.change for a in actions} == {Change.DELETED}
    assert all(a.detail.startswith("no longer in the catalogue") for a in actions)
    assert [str(w) for w in actions[2].writes] == ["DELETE /admin/api/services/11/backend_usages/61.json",
                                                   "DELETE /admin/api/services/11.json"]


def test_a_product_holding_someone_elses_application_is_kept_until_confirmed() -> None:
    apps = [*APPS, {"id": 54, "name": "my own", "service_id": 11, "account_id": 4, "org_name": "Stranger"}]
    keep = Keep.of(_catalogue("a"))
    kept, _ = plan_prune(_inventory(), keep, SERVICES, BACKENDS, DOCS, apps, set(), USAGES, confirmed=False)
    row = next(a for a in kept if a.kind == "product")
    assert row.change is Change.SKIPPED and "my own (Stranger)" in row.detail and "prune=True" in row.detail
    assert not row.writes and not any(a.kind == "backend" and a.writes for a in kept)  # b still mounted on b
    done, _ = plan_prune(_inventory(), keep, SERVICES, BACKENDS, DOCS, apps, set(), USAGES, confirmed=True)
    product = next(a for a in done if a.kind == "product")
    assert product.change is Change.DELETED and "1 application(s) the kit did not create" in product.detail


def test_owned_objects_someone_already_deleted_are_reported_gone_not_deleted() -> None:
    actions, gone = plan_prune(_inventory(), Keep(), {1: SERVICES[1]}, {2: BACKENDS[2]}, {}, [], set(), {},
                               confirmed=True)
    assert actions == []
    assert len(gone) == 6 and all(g.endswith("already gone") for g in gone)


def test_a_catalogue_name_held_by_someone_else_is_left_alone_and_out_of_the_run() -> None:
    inventory = ownership.Inventory(ME, 7, owned={"product": {"10": "a"}, "backend": {"20": "a"}})
    catalogue = _catalogue("a", "c")
    services = {"a": SERVICES[10], "c": SERVICES[12]}
    backends = {"a": BACKENDS[20], "c": BACKENDS[22]}
    actions, run = plan_claims(catalogue, inventory, services, backends, None)
    assert [(a.kind, a.name, a.change) for a in actions] == [("backend", "c", Change.SKIPPED),
                                                              ("product", "c", Change.SKIPPED)]
    assert all(a.detail.startswith(ownership.FOREIGN) and not a.writes for a in actions)
    assert [p.system_name for p in run.products] == ["a"] and [a.product for a in run.applications] == ["a"]
    # adopting takes them over explicitly (recorded in the inventory)
    adopted = catalogue.model_copy(update={"adopt": ["product:c", "backend:c"]})
    actions, run = plan_claims(adopted, inventory, services, backends, None)
    assert {a.change for a in actions} == {Change.UPDATED} and inventory.owns("product", 12)
    assert [p.system_name for p in run.products] == ["a", "c"]


def test_a_name_left_pending_by_a_crash_is_an_orphan_reported_never_adopted() -> None:
    inventory = ownership.Inventory(ME, 7, pending={"product": ["c"]})
    actions, run = plan_claims(_catalogue("c"), inventory, {"c": SERVICES[12]}, {}, None)
    assert "stopped" in actions[-1].detail and actions[-1].change is Change.SKIPPED and run.products == []


def test_the_inventory_round_trips_through_its_partial() -> None:
    inventory = _inventory()
    inventory.add_pending("backend", "x")
    again = ownership.Inventory.parse(inventory.document(), 7)
    assert (again.instance, again.owned, again.pending) == (ME, inventory.owned, {"backend": ["x"]})
    assert ownership.Inventory.parse("not json", None).instance.startswith("maas-")
