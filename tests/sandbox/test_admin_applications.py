"""Applications: create, read, list, find, update, states, plan change, keys, delete."""

from __future__ import annotations

import re
from typing import Any

import pytest

from harness.names import suffixed as unique

HEX32 = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture(scope="module")
def setup(threescale: Any) -> dict[str, Any]:
    name = unique("apps_")
    service = threescale.services.create({"name": name, "system_name": name})
    basic = service.app_plans.create({"name": "Basic", "system_name": "basic", "state_event": "publish"})
    vetted = service.app_plans.create({"name": "Vetted", "system_name": "vetted", "approval_required": True})
    dev = unique("appdev")
    account = threescale.accounts.create({"org_name": f"Org {dev}", "username": dev, "email": f"{dev}@example.com"})
    return {"service": service, "basic": basic, "vetted": vetted, "account": account}


def test_create_read_list_find_update_delete(setup: dict[str, Any], threescale: Any, admin_http: Any) -> None:
    account, basic, service = setup["account"], setup["basic"], setup["service"]
    app = account.applications.create({"plan_id": basic.entity_id, "name": "My app", "description": "for tests"})
    assert HEX32.match(app["user_key"])
    assert app["state"] == "live"

    url = f"/admin/api/accounts/{account.entity_id}/applications/{app.entity_id}.json"
    body = admin_http.get(url).json()["application"]
    expected = {
        "service_id": service.entity_id,
        "service_name": service["name"],
        "plan_id": basic.entity_id,
        "plan_name": "Basic",
        "account_id": account.entity_id,
        "org_name": account["org_name"],
        "name": "My app",
        "description": "for tests",
        "enabled": True,
    }
    assert {k: body[k] for k in expected} == expected
    assert {link["rel"] for link in body["links"]} >= {"self", "service", "account", "plan", "keys"}

    assert app.entity_id in [a.entity_id for a in account.applications.list()]
    listed = admin_http.get("/admin/api/applications.json", params={"service_id": service.entity_id}).json()
    assert app.entity_id in [a["application"]["id"] for a in listed["applications"]]
    found = admin_http.get("/admin/api/applications/find.json", params={"user_key": app["user_key"]})
    assert found.json()["application"]["id"] == app.entity_id
    assert admin_http.get("/admin/api/applications/find.json", params={"user_key": "0" * 32}).status_code == 404

    app.update({"name": "Renamed", "user_key": "custom-key_1.0"})
    fetched = admin_http.get(url).json()["application"]
    assert (fetched["name"], fetched["user_key"]) == ("Renamed", "custom-key_1.0")

    app.delete()
    assert admin_http.get(url).json() == {"status": "Not found"}


def test_user_key_validation(setup: dict[str, Any], admin_http: Any) -> None:
    account, basic = setup["account"], setup["basic"]
    url = f"/admin/api/accounts/{account.entity_id}/applications.json"
    key = unique("k")
    assert admin_http.post(url, data={"plan_id": basic.entity_id, "name": "a", "user_key": key}).status_code == 201
    dup = admin_http.post(url, data={"plan_id": basic.entity_id, "name": "b", "user_key": key})
    assert (dup.status_code, dup.json()) == (422, {"errors": {"user_key": ["has already been taken"]}})
    bad = admin_http.post(url, data={"plan_id": basic.entity_id, "name": "b", "user_key": "no/slash allowed"})
    assert bad.json() == {"errors": {"user_key": ["is invalid"]}}
    blank = admin_http.post(url, data={"plan_id": basic.entity_id, "name": ""})
    assert blank.json() == {"errors": {"name": ["can't be blank"]}}
    assert admin_http.post(url, data={"plan_id": 999999999, "name": "x"}).status_code == 404
    keys = {
        admin_http.post(url, data={"plan_id": basic.entity_id, "name": f"n{i}"}).json()["application"]["user_key"]
        for i in range(5)
    }
    assert len(keys) == 5 and all(HEX32.match(k) for k in keys)


def test_states_and_plan_change(setup: dict[str, Any], admin_http: Any) -> None:
    account, vetted, basic = setup["account"], setup["vetted"], setup["basic"]
    base = f"/admin/api/accounts/{account.entity_id}/applications"
    app = admin_http.post(base + ".json", json={"plan_id": vetted.entity_id, "name": "needs approval"}).json()
    app_id = app["application"]["id"]
    assert (app["application"]["state"], app["application"]["enabled"]) == ("pending", False)
    bad = admin_http.put(f"{base}/{app_id}/resume.json")
    assert (bad.status_code, bad.json()) == (422, {"errors": {"state": ['cannot transition via "resume"']}})
    assert admin_http.put(f"{base}/{app_id}/accept.json").json()["application"]["state"] == "live"
    suspended = admin_http.put(f"{base}/{app_id}/suspend.json").json()["application"]
    assert (suspended["state"], suspended["enabled"]) == ("suspended", False)
    assert admin_http.put(f"{base}/{app_id}/resume.json").json()["application"]["state"] == "live"
    changed = admin_http.put(f"{base}/{app_id}/change_plan.json", json={"plan_id": basic.entity_id})
    # porta buyers_applications_controller.rb change_plan: the body is the new plan, not the application
    assert (changed.json()["application_plan"]["id"], changed.json()["application_plan"]["name"]) == (
        basic.entity_id,
        "Basic",
    )
    moved = admin_http.get(f"{base}/{app_id}.json").json()["application"]
    assert (moved["plan_id"], moved["plan_name"]) == (basic.entity_id, "Basic")


def test_keys_show_the_user_key_and_answer_with_the_application(setup: dict[str, Any], admin_http: Any) -> None:
    account, basic = setup["account"], setup["basic"]
    app = admin_http.post(
        f"/admin/api/accounts/{account.entity_id}/applications.json", json={"plan_id": basic.entity_id, "name": "k"}
    ).json()["application"]
    base = f"/admin/api/accounts/{account.entity_id}/applications/{app['id']}/keys"
    keys = admin_http.get(base + ".json").json()
    assert [k["key"]["value"] for k in keys["keys"]] == [app["user_key"]]
    added = admin_http.post(base + ".json", json={"key": "extra-key"})
    assert added.status_code == 201 and added.json()["application"]["id"] == app["id"]
    assert [k["key"]["value"] for k in admin_http.get(base + ".json").json()["keys"]] == [app["user_key"], "extra-key"]
    removed = admin_http.delete(base + "/extra-key.json")
    assert removed.json()["application"]["id"] == app["id"]
    assert admin_http.delete(base + "/extra-key.json").status_code == 404


def test_applications_need_a_valid_token(setup: dict[str, Any], admin_http: Any) -> None:
    resp = admin_http.get("/admin/api/applications.json", token="bad")
    assert (resp.status_code, resp.json()) == (403, {"error": "Access denied"})
    url = f"/admin/api/accounts/{setup['account'].entity_id}/applications.json"
    resp = admin_http.post(url, token=None, json={"plan_id": setup["basic"].entity_id, "name": "x"})
    assert (resp.status_code, resp.json()) == (403, {"error": "Access denied"})


@pytest.mark.parametrize("value", ["plain-key-1", "a/b/c-key", "pct%D9%2Fkey", "plus+and?query#frag", "quo'te\"~`^"])
def test_an_application_key_is_deleted_by_its_value_decoded_once(setup: dict[str, Any], value: str) -> None:
    """porta DELETE /admin/api/accounts/{aid}/applications/{id}/keys/{key}.json: Rails decodes the route segment
    once (config/routes.rb `resources :keys`, Admin::Api::BuyerApplicationKeysController#destroy finds by value).
    The 3scale-api client sends the value through quote_plus (threescale_api/resources.py ApplicationKeys), so a
    key holding "%D9" or "/" must be found after exactly one decoding (its own suite generates such keys)."""
    account, basic = setup["account"], setup["basic"]
    app = account.applications.create({"plan_id": basic.entity_id, "name": f"keys {value[:5]}"})
    key = app.keys.create(params={"application_id": app.entity_id, "account_id": account.entity_id, "key": value})
    assert value in [k["value"] for k in app.keys.list()]
    key.delete()
    assert value not in [k["value"] for k in app.keys.list()]
