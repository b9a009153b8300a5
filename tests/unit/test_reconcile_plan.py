"""Reconcile's planners are pure: desired (catalogue) + observed (what the Admin API returned) → actions, with
the exact requests an apply sends. No sandbox: these check the decisions; tests/sandbox/test_reconcile*.py check
that the requests are what porta accepts (porta app/controllers/admin/api/backend_apis_controller.rb,
services_controller.rb, backend_usages_controller.rb)."""

from __future__ import annotations

from maas_helpers.catalogue import product_for_model
from maas_helpers.config import ModelEndpoint
from maas_helpers.reconcile.actions import Links, Ref, Write, field_changes
from maas_helpers.reconcile.context import _waves
from maas_helpers.reconcile.products import plan_backends, plan_products
from maas_helpers.results import Change, FieldChange

LINKS = Links("https://admin.example")


def _product(name: str = "granite", url: str = "http://granite.llm:8080"):
    return product_for_model(ModelEndpoint(name=name, url=url))


def test_a_missing_backend_is_created_with_the_catalogue_values() -> None:
    product = _product()
    (action,) = plan_backends([product], {}, LINKS)
    assert action.change is Change.CREATED
    assert action.writes == (Write("POST", "/admin/api/backend_apis.json",
                                   {"system_name": "granite", "name": "granite",
                                    "description": product.backend.description,
                                    "private_endpoint": "http://granite.llm:8080"},
                                   provides="backend:granite", owns="backend"),)


def test_a_url_without_port_is_in_sync_with_what_porta_stores() -> None:
    """porta keeps the scheme's port explicit (backend_api.rb): `http://h/` is stored as `http://h:80/`."""
    product = _product(url="http://granite.llm")
    observed = {"granite": {"id": 7, "system_name": "granite", "name": "granite",
                            "description": product.backend.description, "private_endpoint": "http://granite.llm:80"}}
    (action,) = plan_backends([product], observed, LINKS)
    assert action.change is Change.UNCHANGED and action.writes == ()
    assert action.link == "https://admin.example/p/admin/backend_apis/7"


def test_a_changed_endpoint_is_one_put_of_that_field_with_old_and_new() -> None:
    product = _product(url="http://granite.llm:9000")
    observed = {"granite": {"id": 7, "name": "granite", "description": product.backend.description,
                            "private_endpoint": "http://granite.llm:8080"}}
    (action,) = plan_backends([product], observed, LINKS)
    assert action.change is Change.UPDATED
    assert action.changes == (FieldChange("private_endpoint", "http://granite.llm:8080", "http://granite.llm:9000"),)
    assert action.writes == (Write("PUT", "/admin/api/backend_apis/{}.json",
                                   {"private_endpoint": "http://granite.llm:9000"}, args=(7,)),)
    assert "private_endpoint: 'http://granite.llm:8080' → 'http://granite.llm:9000'" in action.detail


def test_a_new_product_mounts_its_backend_through_a_reference_to_its_own_id() -> None:
    product = _product()
    actions = plan_products([product], {}, {"granite": {"id": 3}}, {}, LINKS)
    assert [(a.kind, a.change) for a in actions] == [("product", Change.CREATED), ("backend usage", Change.CREATED)]
    (usage,) = actions[1].writes
    assert usage.args == (Ref("product:granite"),)
    assert usage.body == {"backend_api_id": 3, "path": "/"}
    assert usage.resolved({"product:granite": {"id": 41}}) == ("/admin/api/services/41/backend_usages.json",
                                                               {"backend_api_id": 3, "path": "/"})
    # the usage goes out after the product that it refers to
    assert [[a.kind for a in wave] for wave in _waves(actions)] == [["product"], ["backend usage"]]


def test_another_backend_at_our_path_is_replaced_in_one_action() -> None:
    product = _product()
    service = {"id": 5, "system_name": "granite", "name": "granite", "description": product.description}
    actions = plan_products([product], {"granite": service}, {"granite": {"id": 3}},
                            {"granite": [{"id": 9, "backend_id": 99, "path": "/"}]}, LINKS)
    assert actions[0].change is Change.UNCHANGED
    usage = actions[1]
    assert usage.change is Change.UPDATED
    assert [str(w) for w in usage.writes] == ["DELETE /admin/api/services/5/backend_usages/9.json",
                                              "POST /admin/api/services/5/backend_usages.json"]


def test_in_sync_products_plan_no_write() -> None:
    product = _product()
    service = {"id": 5, "name": "granite", "description": product.description}
    actions = plan_products([product], {"granite": service}, {"granite": {"id": 3}},
                            {"granite": [{"id": 9, "backend_id": 3, "path": "/"}]}, LINKS)
    assert all(a.change is Change.UNCHANGED and not a.writes for a in actions)


def test_field_changes_compare_money_as_decimals() -> None:
    assert field_changes({"cost_per_month": "10.0"}, {"cost_per_month": "10"}) == ()
    assert field_changes({"cost_per_month": "10.0"}, {"cost_per_month": "12"}) == (
        FieldChange("cost_per_month", "10.0", "12"),)


def test_independent_actions_share_a_wave_and_dependants_follow_their_provider() -> None:
    a, b = _product("a", "http://a:1"), _product("b", "http://b:1")
    actions = plan_products([a, b], {}, {"a": {"id": 1}, "b": {"id": 2}}, {}, LINKS)
    waves = _waves(actions)
    assert [[x.name for x in wave] for wave in waves] == [["a", "b"], ["a → a at /", "b → b at /"]]


def test_a_write_never_shows_its_body() -> None:
    """Bodies may carry secrets (the SSO provider's client_secret): neither repr nor str shows them."""
    write = Write("PUT", "/admin/api/authentication_providers/{}.json", {"client_secret": "s3cr3t-value"}, args=(4,))
    assert "s3cr3t" not in repr(write) and "s3cr3t" not in str(write)
    assert str(write) == "PUT /admin/api/authentication_providers/4.json"
