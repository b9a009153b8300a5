"""Admin and Master API routes the 3scale-api suite exercises, each rule read from porta 3scale-2.16-stable:
app/controllers/admin/api/signups_controller.rb + app/models/user.rb (minimal signup: no email needed),
app/controllers/admin/api/service_subscriptions_controller.rb (approve, change_plan),
app/controllers/admin/api/users_controller.rb + member_permissions_controller.rb (provider users),
app/controllers/admin/api/personal/access_tokens_controller.rb + app/representers/access_token_representer.rb,
app/controllers/admin/api/fields_definitions_controller.rb, app/controllers/admin/api/web_hooks_controller.rb,
app/controllers/master/api/providers_controller.rb (tenant create with its own token; destroy schedules deletion,
a second DELETE is a 404), app/representers/pricing_rule_representer.rb (decimal rendered as a string)."""

from __future__ import annotations

import secrets
from typing import Any


def _name(prefix: str = "t") -> str:
    return f"{prefix}{secrets.token_hex(4)}"


def test_signup_express_needs_no_email(admin_http: Any) -> None:
    resp = admin_http.post("/admin/api/signup.json", json={"org_name": _name("Org "), "username": _name("u")})
    assert resp.status_code == 201, resp.text
    users = admin_http.get(f"/admin/api/accounts/{resp.json()['account']['id']}/users.json").json()["users"]
    assert users[0]["user"]["email"] == ""
    # a user the provider creates is not a minimal signup: the email format applies
    bad = admin_http.post(f"/admin/api/accounts/{resp.json()['account']['id']}/users.json",
                          json={"username": _name("m")})
    assert bad.status_code == 422 and "email" in bad.json()["errors"]


def test_provider_users_roles_states_and_permissions(admin_http: Any) -> None:
    name = _name("pu")
    created = admin_http.post("/admin/api/users.json", json={"username": name, "email": f"{name}@example.com",
                                                              "password": "123456"})
    assert created.status_code == 201, created.text
    user = created.json()["user"]
    assert (user["state"], user["role"], "password" in user) == ("pending", "member", False)
    base = f"/admin/api/users/{user['id']}"
    perms = admin_http.get(base + "/permissions.json").json()["permissions"]
    assert (perms["allowed_sections"], perms["allowed_service_ids"]) == ([], None)
    service_id = admin_http.get("/admin/api/services.json").json()["services"][0]["service"]["id"]
    updated = admin_http.put(base + "/permissions.json", data={"allowed_sections[]": ["portal", "plans"],
                                                              "allowed_service_ids[]": [service_id]})
    assert updated.json()["permissions"]["allowed_sections"] == ["plans", "portal"]
    assert updated.json()["permissions"]["allowed_service_ids"] == [service_id]
    cleared = admin_http.put(base + "/permissions.json", data={"allowed_sections[]": ["[]"],
                                                              "allowed_service_ids[]": ["[]"]}).json()
    assert (cleared["permissions"]["allowed_sections"], cleared["permissions"]["allowed_service_ids"]) == ([], [])
    assert admin_http.put(base + "/admin.json").json()["user"]["role"] == "admin"
    admin_perms = admin_http.get(base + "/permissions.json").json()["permissions"]
    assert "portal" in admin_perms["allowed_sections"]
    assert admin_http.put(base + "/activate.json").json()["user"]["state"] == "active"
    again = admin_http.put(base + "/activate.json")
    assert (again.status_code, again.json()) == (422, {"errors": {"state": ['cannot transition via "activate"']}})
    assert admin_http.delete(base + ".json").status_code == 200
    assert admin_http.get(base + ".json").status_code == 404


def test_access_token_value_only_on_create(admin_http: Any) -> None:
    name = _name("tok")
    created = admin_http.post("/admin/api/personal/access_tokens.json",
                              json={"name": name, "permission": "ro", "scopes": ["stats"]})
    assert created.status_code == 201, created.text
    token = created.json()["access_token"]
    assert len(token["value"]) == 64
    read = admin_http.get(f"/admin/api/personal/access_tokens/{token['id']}.json").json()["access_token"]
    assert "value" not in read and (read["name"], read["scopes"], read["permission"]) == (name, ["stats"], "ro")
    bad = admin_http.post("/admin/api/personal/access_tokens.json", json={"name": name, "permission": "x"})
    assert bad.status_code == 422 and set(bad.json()["errors"]) == {"scopes", "permission"}
    assert admin_http.delete(f"/admin/api/personal/access_tokens/{token['id']}.json").status_code == 200


def test_fields_definitions_defaults_create_update(admin_http: Any) -> None:
    listed = admin_http.get("/admin/api/fields_definitions.json").json()["fields_definitions"]
    assert ("Account", "org_name") in {(f["fields_definition"]["target"], f["fields_definition"]["name"])
                                       for f in listed}
    name = _name("f")
    created = admin_http.post("/admin/api/fields_definitions.json",
                              json={"name": name, "label": "L", "target": "Account", "required": False})
    assert created.status_code == 201, created.text
    field = created.json()["fields_definition"]
    dup = admin_http.post("/admin/api/fields_definitions.json", json={"name": name, "label": "L",
                                                                      "target": "Account"})
    assert dup.json() == {"errors": {"name": ["has already been taken"]}}
    # update permits position but not name
    upd = admin_http.put(f"/admin/api/fields_definitions/{field['id']}.json",
                         json={"name": "other", "hidden": True, "position": 1}).json()["fields_definition"]
    assert (upd["name"], upd["hidden"], upd["position"]) == (name, True, 1)
    bad = admin_http.put(f"/admin/api/fields_definitions/{field['id']}.json", json={"target": "Nope"})
    assert bad.json() == {"errors": {"target": ["is not included in the list"]}}


def test_webhook_settings_are_stored(admin_http: Any) -> None:
    resp = admin_http.put("/admin/api/webhooks.json", json={"url": "https://example.com/hook", "active": "true",
                                                             "user_created_on": "true"})
    assert resp.status_code == 200, resp.text
    hook = admin_http.get("/admin/api/webhooks.json").json()["webhook"]
    assert (hook["url"], hook["active"], hook["user_created_on"], hook["user_deleted_on"]) == (
        "https://example.com/hook", True, True, False)
    bad = admin_http.put("/admin/api/webhooks.json", json={"url": "ftp://x"})
    assert bad.status_code == 422 and admin_http.get("/admin/api/webhooks.json").json()["webhook"] == hook


def test_master_api_tenant_create_and_schedule_for_deletion(admin_http: Any) -> None:
    resp = admin_http.post("/master/api/providers.json", token="master",
                           json={"org_name": "Acme Two", "username": "acme", "email": "a@example.com",
                                 "password": "123456"})
    assert resp.status_code == 201, resp.text
    signup = resp.json()["signup"]
    assert signup["account"]["admin_domain"].startswith("acme-two-admin.")
    assert signup["account"]["annotations"] == {} and len(signup["access_token"]["value"]) == 64
    assert admin_http.post("/master/api/providers.json", json={}).status_code == 403  # tenant token refused
    url = f"/master/api/providers/{signup['account']['id']}.json"
    gone = admin_http.delete(url, token="master")
    assert gone.json()["signup"]["account"]["state"] == "scheduled_for_deletion"
    assert admin_http.delete(url, token="master").status_code == 404


def test_service_subscription_change_plan_and_approve(admin_http: Any) -> None:
    service = admin_http.post("/admin/api/services.json", json={"name": _name("svc ")}).json()["service"]
    plans = f"/admin/api/services/{service['id']}/service_plans.json"
    gated = admin_http.post(plans, json={"name": "Gated", "approval_required": True}).json()["service_plan"]
    other = admin_http.post(plans, json={"name": "Other"}).json()["service_plan"]
    account = admin_http.post("/admin/api/signup.json", json={"org_name": _name("O "),
                                                               "username": _name("u")}).json()["account"]
    subs = f"/admin/api/accounts/{account['id']}/service_subscriptions"
    sub = admin_http.post(subs + ".json", json={"plan_id": gated["id"]}).json()["service_subscription"]
    assert sub["state"] == "pending"
    assert admin_http.put(f"{subs}/{sub['id']}/approve.json").json()["service_subscription"]["state"] == "live"
    assert admin_http.put(f"{subs}/{sub['id']}/approve.json").status_code == 422
    moved = admin_http.put(f"{subs}/{sub['id']}/change_plan.json", json={"plan_id": other["id"]})
    assert moved.json()["service_subscription"]["plan_id"] == other["id"]
    plan = admin_http.get(f"/admin/api/accounts/{account['id']}/plan.json").json()["account_plan"]
    assert plan["id"] == account["plan_id"]
