"""Signup, buyer accounts, users and service subscriptions; the provider account and Master API."""

from __future__ import annotations

from typing import Any

import pytest

from harness.names import suffixed as unique

DENIED = {"error": "Access denied"}


@pytest.fixture(scope="module")
def product(threescale: Any) -> Any:
    name = unique("acc_")
    service = threescale.services.create({"name": name, "system_name": name})
    plan = service.app_plans.create({"name": "Starter", "system_name": "starter", "state_event": "publish"})
    plan.set_default()
    return service


def signup(threescale: Any, **extra: Any) -> Any:
    name = unique("dev")
    params = {"org_name": f"Org {name}", "username": name, "email": f"{name}@example.com", "password": "s3cret-pw"}
    return threescale.accounts.create({**params, **extra})


def test_signup_subscribes_to_default_plans(threescale: Any, admin_http: Any, product: Any) -> None:
    account = signup(threescale)
    assert account["state"] == "approved"
    subs = admin_http.get(f"/admin/api/accounts/{account.entity_id}/service_subscriptions.json").json()
    by_service = {
        s["service_subscription"]["service_id"]: s["service_subscription"] for s in subs["service_subscriptions"]
    }
    assert product.entity_id in by_service
    default_sp = admin_http.get(f"/admin/api/services/{product.entity_id}/service_plans.json").json()["plans"][0]
    assert by_service[product.entity_id]["plan_id"] == default_sp["service_plan"]["id"]
    apps = admin_http.get(f"/admin/api/accounts/{account.entity_id}/applications.json").json()["applications"]
    mine = [a["application"] for a in apps if a["application"]["service_id"] == product.entity_id]
    assert [(a["plan_name"], a["name"], a["state"]) for a in mine] == [("Starter", f"{product['name']} signup", "live")]


def test_account_read_list_find_update_delete(threescale: Any, admin_http: Any, product: Any) -> None:
    account = signup(threescale)
    aid = account.entity_id
    body = admin_http.get(f"/admin/api/accounts/{aid}.json").json()["account"]
    assert body["org_name"] == account["org_name"]
    assert {"rel": "users", "href": f"{admin_http.base}/admin/api/accounts/{aid}/users"} in body["links"]
    assert aid in [a.entity_id for a in threescale.accounts.list()]

    user = admin_http.get(f"/admin/api/accounts/{aid}/users.json").json()["users"][0]["user"]
    assert (user["role"], user["state"]) == ("admin", "active")
    assert threescale.accounts.find({"username": user["username"]}).entity_id == aid
    assert (
        admin_http.get("/admin/api/accounts/find.json", params={"email": user["email"]}).json()["account"]["id"] == aid
    )
    assert admin_http.get("/admin/api/accounts/find.json", params={"username": "nobody-here"}).status_code == 404

    account.update({"org_name": "Renamed Org"})
    assert threescale.accounts.read(aid)["org_name"] == "Renamed Org"

    apps = admin_http.get(f"/admin/api/accounts/{aid}/applications.json").json()["applications"]
    assert apps
    account.delete()
    assert admin_http.get(f"/admin/api/accounts/{aid}.json").json() == {"status": "Not found"}
    assert admin_http.get(f"/admin/api/accounts/{aid}/users.json").status_code == 404
    app_ids = {a["application"]["id"] for a in admin_http.get("/admin/api/applications.json").json()["applications"]}
    assert not app_ids & {a["application"]["id"] for a in apps}


def test_account_state_transitions(threescale: Any, admin_http: Any) -> None:
    aid = signup(threescale).entity_id
    base = f"/admin/api/accounts/{aid}"
    assert admin_http.put(base + "/make_pending.json").json()["account"]["state"] == "pending"
    assert (
        admin_http.get("/admin/api/accounts.json", params={"state": "pending"}).json()["accounts"][-1]["account"]["id"]
        == aid
    )
    assert admin_http.put(base + "/reject.json").json()["account"]["state"] == "rejected"
    assert admin_http.put(base + "/approve.json").json()["account"]["state"] == "approved"
    again = admin_http.put(base + "/approve.json")
    assert (again.status_code, again.json()) == (422, {"errors": {"state": ['cannot transition via "approve"']}})


def test_signup_validation_and_duplicates(threescale: Any, admin_http: Any) -> None:
    account = signup(threescale)
    user = admin_http.get(f"/admin/api/accounts/{account.entity_id}/users.json").json()["users"][0]["user"]
    dup = admin_http.post(
        "/admin/api/signup.json",
        json={"org_name": "X", "username": user["username"], "email": unique("e") + "@example.com"},
    )
    assert (dup.status_code, dup.json()) == (422, {"errors": {"username": ["has already been taken"]}})
    blank = admin_http.post("/admin/api/signup.json", data={"org_name": "", "username": "u", "email": "e@x.io"})
    assert (blank.status_code, blank.json()) == (422, {"errors": {"org_name": ["can't be blank"]}})
    bad_mail = admin_http.post("/admin/api/signup.json", json={"org_name": "Y", "username": unique("u"), "email": "x"})
    # porta user.rb: Signup Express is a minimal signup, so only the email length rule applies
    assert bad_mail.json() == {"errors": {"email": ["is too short (minimum is 6 characters)"]}}


def test_approval_required_account_plan_makes_signups_pending(fresh_sandbox: Any) -> None:
    import requests

    base, token = fresh_sandbox.admin_url + "/admin/api", {"access_token": fresh_sandbox.admin_token}
    plan = requests.post(
        f"{base}/account_plans.json",
        params=token,
        json={"name": "Vetted", "approval_required": True, "default": True},
        timeout=10,
    ).json()
    assert plan["account_plan"]["default"] is True
    resp = requests.post(
        f"{base}/signup.json",
        params=token,
        json={"org_name": "P", "username": "pat", "email": "pat@example.com"},
        timeout=10,
    )
    assert resp.status_code == 201
    # porta test/integration/signup_express_test.rb: approval required → account `created` (user pending)
    assert (resp.json()["account"]["state"], resp.json()["account"]["plan_id"]) == (
        "created",
        plan["account_plan"]["id"],
    )


def test_users_create_activate_update_delete(threescale: Any, admin_http: Any) -> None:
    account = signup(threescale)
    base = f"/admin/api/accounts/{account.entity_id}/users"
    name = unique("member")
    created = admin_http.post(
        base + ".json", json={"username": name, "email": f"{name}@example.com", "password": "pw123456"}
    )
    assert created.status_code == 201
    user = created.json()["user"]
    assert (user["state"], user["role"]) == ("pending", "member")
    assert "_password_hash" not in user and "password" not in user
    assert admin_http.put(f"{base}/{user['id']}/activate.json").json()["user"]["state"] == "active"
    assert admin_http.put(f"{base}/{user['id']}/admin.json").json()["user"]["role"] == "admin"
    updated = admin_http.put(f"{base}/{user['id']}.json", json={"user": {"email": f"new-{name}@example.com"}})
    assert updated.json()["user"]["email"] == f"new-{name}@example.com"
    dup = admin_http.post(base + ".json", json={"username": name, "email": "other@example.com"})
    assert dup.json() == {"errors": {"username": ["has already been taken"]}}
    assert len(account.users.list()) == 2
    assert admin_http.delete(f"{base}/{user['id']}.json").status_code == 200
    assert admin_http.get(f"{base}/{user['id']}.json").status_code == 404


def test_service_subscriptions(threescale: Any, admin_http: Any) -> None:
    account = signup(threescale)
    name = unique("sub_")
    service = threescale.services.create({"name": name, "system_name": name})
    plan_id = admin_http.get(f"/admin/api/services/{service.entity_id}/service_plans.json").json()["plans"][0][
        "service_plan"
    ]["id"]
    base = f"/admin/api/accounts/{account.entity_id}/service_subscriptions"
    created = admin_http.post(base + ".json", json={"plan_id": plan_id})
    assert created.status_code == 201
    sub = created.json()["service_subscription"]
    assert (sub["service_id"], sub["plan_id"], sub["state"]) == (service.entity_id, plan_id, "live")
    again = admin_http.post(base + ".json", json={"plan_id": plan_id})
    assert (again.status_code, again.json()) == (422, {"errors": {"base": ["already subscribed to this service"]}})
    listed = admin_http.get(base + ".json").json()["service_subscriptions"]
    assert sub["id"] in [s["service_subscription"]["id"] for s in listed]
    assert admin_http.post(base + ".json", json={"plan_id": 999999999}).status_code == 404


def test_accounts_need_a_valid_token(admin_http: Any) -> None:
    for path in ("/admin/api/accounts.json", "/admin/api/account_plans.json", "/admin/api/provider.json"):
        resp = admin_http.get(path, token="nope")
        assert (resp.status_code, resp.json()) == (403, DENIED)
    resp = admin_http.post("/admin/api/signup.json", token=None, json={"org_name": "x"})
    assert (resp.status_code, resp.json()) == (403, DENIED)


def test_provider_account_and_master_update(admin_http: Any, threescale: Any) -> None:
    provider = admin_http.get("/admin/api/provider.json").json()["account"]
    assert provider["org_name"] and "timezone" not in provider  # porta account_representer.rb has no timezone
    changed = admin_http.put(
        "/admin/api/provider.json", json={"account": {"support_email": "help@example.com", "org_name": "ignored"}}
    )
    assert changed.json()["account"]["support_email"] == "help@example.com"
    assert changed.json()["account"]["org_name"] == provider["org_name"]

    url = f"/master/api/providers/{provider['id']}.json"
    assert admin_http.put(url, json={"org_name": "x"}).json() == DENIED  # tenant token is not master
    resp = admin_http.put(
        url,
        token="master",
        json={"account": {"org_name": "MaaS Corp", "timezone": "Madrid", "site_access_code": ""}},
    )
    assert resp.status_code == 200
    account = resp.json()["signup"]["account"]
    assert (account["org_name"], account["site_access_code"]) == ("MaaS Corp", "")
    # account.rb validate_timezone: Rails names only ("Europe/Madrid" is a tz identifier, not one of them)
    bad = admin_http.put(url, token="master", json={"timezone": "Europe/Madrid"})
    assert (bad.status_code, bad.json()) == (422, {"errors": {"timezone": ["Timezone Europe/Madrid is not allowed"]}})
    assert (
        admin_http.put(
            f"/master/api/providers/{provider['id'] + 1000}.json", token="master", json={"org_name": "x"}
        ).status_code
        == 404
    )
    admin_http.put(url, token="master", json={"timezone": "UTC"}).raise_for_status()
