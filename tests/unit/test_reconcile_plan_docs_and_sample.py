"""ActiveDocs and 3scale's sample data, planned by pure functions. porta: app/controllers/admin/api/
api_docs_controller.rb (ActiveDocs fields, `body` kept as sent); app/lib/logic/provider_signup.rb SampleData (the
product `api`, plans Basic/Unlimited, "Developer's App", ActiveDoc Echo); plan.rb `can_be_destroyed?` (a plan with
applications cannot be deleted). tests/sandbox/test_developer_view.py checks the result on the sandbox."""

from __future__ import annotations

import json

from maas_helpers.catalogue import product_for_model
from maas_helpers.config import ModelEndpoint
from maas_helpers.reconcile.actions import Links, Write
from maas_helpers.reconcile.active_docs import plan_active_docs
from maas_helpers.reconcile.context import _waves
from maas_helpers.reconcile.openapi import openapi_document
from maas_helpers.reconcile.sample_data import plan_echo, plan_sample_plans
from maas_helpers.results import Change, FieldChange

LINKS = Links("https://admin.example")
PRODUCT = product_for_model(ModelEndpoint(name="granite", url="http://granite:8080"))
SERVICES = {"granite": {"id": 5, "system_name": "granite"}}
ENDPOINT = "https://granite.gw.example:443"


def _doc(**kw) -> dict:
    spec = PRODUCT.active_doc
    return {"id": 30, "system_name": "granite", "name": spec.name, "description": spec.description,
            "published": True, "service_id": 5, "body": json.dumps(openapi_document(PRODUCT, ENDPOINT))} | kw


def test_a_missing_active_doc_is_created_with_the_production_endpoint_as_server() -> None:
    (action,) = plan_active_docs([PRODUCT], SERVICES, {"granite": ENDPOINT}, {}, LINKS)
    (write,) = action.writes
    assert (write.method, write.path) == ("POST", "/admin/api/active_docs.json")
    assert {k: v for k, v in write.body.items() if k != "body"} == {
        "system_name": "granite", "name": "granite API", "description": "OpenAI-compatible API of granite",
        "published": True, "service_id": 5}
    assert json.loads(write.body["body"])["servers"] == [{"url": ENDPOINT}]
    assert (action.change, action.detail, action.link) == (
        Change.CREATED, f"servers: {ENDPOINT}", "https://admin.example/apiconfig/services/5/api_docs")


def test_an_active_doc_in_sync_is_compared_as_a_document_not_as_text() -> None:
    pretty = _doc(body=json.dumps(openapi_document(PRODUCT, ENDPOINT), indent=2))
    (action,) = plan_active_docs([PRODUCT], SERVICES, {"granite": ENDPOINT}, {"granite": pretty}, LINKS)
    assert (action.change, action.writes) == (Change.UNCHANGED, ())


def test_a_moved_endpoint_and_unpublished_doc_are_one_put_of_those_fields() -> None:
    old = _doc(published=False, body=json.dumps(openapi_document(PRODUCT, "https://old.example")))
    (action,) = plan_active_docs([PRODUCT], SERVICES, {"granite": ENDPOINT}, {"granite": old}, LINKS)
    assert action.change is Change.UPDATED and action.detail == "published, body"
    assert action.writes == (Write("PUT", "/admin/api/active_docs/{}.json",
                                   {"published": True, "body": json.dumps(openapi_document(PRODUCT, ENDPOINT))},
                                   args=(30,)),)
    assert action.changes[0] == FieldChange("published", False, True)


def test_a_product_not_created_yet_lists_its_doc_without_a_request() -> None:
    (action,) = plan_active_docs([PRODUCT], {}, {}, {}, LINKS)
    assert (action.change, action.detail, action.writes) == (Change.CREATED, "servers: the production endpoint", ())


SAMPLE = {"id": 1, "system_name": "api", "name": "API"}
PLANS = {"basic": {"id": 7, "name": "Basic", "default": True}, "unlimited": {"id": 8, "name": "Unlimited"}}
DEVELOPER = {"id": 3, "org_name": "Developer"}
JANE = {"id": 4, "org_name": "Jane"}


def test_sample_applications_go_first_then_the_plans_nobody_else_uses() -> None:
    apps = {3: [{"id": 50, "name": "Developer's App", "plan_id": 7}, {"id": 51, "name": "mine", "plan_id": 99}],
            4: [{"id": 52, "name": "API signup", "plan_id": 7}, {"id": 53, "name": "keep me", "plan_id": 8}]}
    actions, notes = plan_sample_plans(SAMPLE, PLANS, [DEVELOPER, JANE], apps, LINKS)
    assert [(a.kind, a.name, a.change, a.detail) for a in actions] == [
        ("application", "Developer: Developer's App", Change.DELETED, "sample product api"),
        ("application", "Jane: API signup", Change.DELETED, "sample product api"),
        ("application plan", "api: Basic", Change.DELETED, "default plan: signups would get a key on it")]
    assert [str(w) for a in actions for w in a.writes] == [
        "DELETE /admin/api/accounts/3/applications/50.json", "DELETE /admin/api/accounts/4/applications/52.json",
        "DELETE /admin/api/services/1/application_plans/7.json"]
    # porta refuses to delete a plan that still has applications: the plan's delete waits for both
    assert [[a.kind for a in wave] for wave in _waves(actions)] == [["application", "application"],
                                                                   ["application plan"]]
    assert notes == ["sample plan 'Unlimited' kept: 1 application(s) of developers use it; delete them in the "
                     "admin portal to hide product api"]


def test_no_sample_plans_left_is_in_sync() -> None:
    (action,), notes = plan_sample_plans(SAMPLE, {}, [], {}, LINKS)
    assert (action.change, action.writes, action.link, notes) == (
        Change.UNCHANGED, (), "https://admin.example/apiconfig/services/1", [])


def test_echo_is_unpublished_once() -> None:
    (action,) = plan_echo({"id": 31, "name": "Echo", "published": True})
    assert action.writes == (Write("PUT", "/admin/api/active_docs/{}.json", {"published": False}, args=(31,)),)
    assert (action.change, action.detail) == (Change.UPDATED, "published: True → False")
    (action,) = plan_echo({"id": 31, "name": "Echo", "published": False})
    assert (action.change, action.writes) == (Change.UNCHANGED, ())
    assert plan_echo(None) == []


def test_new_active_docs_are_created_in_catalogue_order() -> None:
    other = product_for_model(ModelEndpoint(name="mistral", url="http://mistral:8080"))
    services = SERVICES | {"mistral": {"id": 6, "system_name": "mistral"}}
    first, second = plan_active_docs([PRODUCT, other], services, {}, {}, LINKS)
    assert (first.writes[0].provides, second.writes[0].after) == ("active_doc:granite", ("active_doc:granite",))
    assert [[a.name for a in wave] for wave in _waves([first, second])] == [["granite"], ["mistral"]]
