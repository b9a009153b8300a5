"""The destroy planner is pure: catalogue + what 3scale holds → the deletions, stage by stage (applications and
ActiveDocs, then products with their backend usages, then backends: porta refuses to delete a backend a product
still uses, app/models/backend_api.rb `avoid_destruction`). Only what the catalogue owns (by system name) is
deleted; seed objects are not touched. tests/sandbox/test_reconcile_destroy.py checks that the teardown preview
lists exactly what a destroy deletes."""

from __future__ import annotations

from maas_helpers.catalogue import Application, Catalogue, product_for_model
from maas_helpers.config import ModelEndpoint
from maas_helpers.reconcile.context import _waves
from maas_helpers.reconcile.destroy import plan_destroy
from maas_helpers.results import Change


def _catalogue() -> Catalogue:
    products = [product_for_model(ModelEndpoint(name=n, url=f"http://{n}:8080")) for n in ("a", "b")]
    return Catalogue(products=products, applications=[Application(product="a", name="A app"),
                                                      Application(product="b", name="B app")])


SERVICES = {"a": {"id": 10, "system_name": "a"}, "api": {"id": 1, "system_name": "api"}}
ACCOUNTS = {"Developer": {"id": 3, "org_name": "Developer"}}
APPS = {3: [{"id": 50, "name": "A app", "service_id": 10}, {"id": 51, "name": "Developer's App", "service_id": 1},
            {"id": 52, "name": "A app", "service_id": 1}]}
DOCS = {"a": {"id": 30, "system_name": "a"}, "echo": {"id": 31, "system_name": "echo"}}
USAGES = {"a": [{"id": 60, "backend_id": 20}]}
BACKENDS = {"a": {"id": 20, "system_name": "a"}, "b": {"id": 21, "system_name": "b"}, "api": {"id": 2}}


def test_only_what_the_catalogue_owns_is_deleted_in_porta_order() -> None:
    actions = plan_destroy(_catalogue(), SERVICES, ACCOUNTS, APPS, DOCS, USAGES, BACKENDS)
    assert [(a.kind, a.name, a.change) for a in actions] == [
        ("application", "Developer: A app", Change.DELETED), ("ActiveDoc", "a", Change.DELETED),
        ("product", "a", Change.DELETED), ("backend", "a", Change.DELETED), ("backend", "b", Change.DELETED)]
    assert [[str(w) for w in a.writes] for a in actions] == [
        ["DELETE /admin/api/accounts/3/applications/50.json"], ["DELETE /admin/api/active_docs/30.json"],
        ["DELETE /admin/api/services/10/backend_usages/60.json", "DELETE /admin/api/services/10.json"],
        ["DELETE /admin/api/backend_apis/20.json"], ["DELETE /admin/api/backend_apis/21.json"]]
    assert actions[2].detail == "with its metrics, rules, plans, limits and configs"
    # applications and ActiveDocs side by side, then the products, then the backends they used
    assert [[a.kind for a in wave] for wave in _waves(actions)] == [["application", "ActiveDoc"], ["product"],
                                                                   ["backend", "backend"]]


def test_nothing_of_ours_left_plans_no_deletion() -> None:
    seed = {"api": SERVICES["api"]}
    assert plan_destroy(_catalogue(), seed, ACCOUNTS, {3: APPS[3][1:]}, {"echo": DOCS["echo"]}, {},
                        {"api": BACKENDS["api"]}) == []


def test_without_applications_the_products_go_first() -> None:
    actions = plan_destroy(_catalogue(), SERVICES, {}, {}, {}, {}, BACKENDS)
    assert [[a.kind for a in wave] for wave in _waves(actions)] == [["product"], ["backend", "backend"]]
