"""A fresh tenant's content (reference §19) and persistence of the accounts half across a restart."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import requests

from maas_sandbox import control

from harness.admin import AdminHTTP


def _get(info: Any, path: str, **params: Any) -> Any:
    resp = AdminHTTP(info).get(path, params=params)
    resp.raise_for_status()
    return resp.json()


def test_fresh_tenant_matches_3scale(fresh_sandbox: Any) -> None:
    info = fresh_sandbox
    provider = _get(info, "/admin/api/provider.json")["account"]
    assert provider["org_name"] == "Provider Name" and provider["state"] == "approved"

    account_plans = _get(info, "/admin/api/account_plans.json")["plans"]
    assert [(p["account_plan"]["name"], p["account_plan"]["default"]) for p in account_plans] == [("Default", True)]

    services = _get(info, "/admin/api/services.json")["services"]
    assert [(s["service"]["name"], s["service"]["system_name"]) for s in services] == [("API", "api")]
    sid = services[0]["service"]["id"]
    backends = _get(info, "/admin/api/backend_apis.json")["backend_apis"]
    assert [(b["backend_api"]["system_name"], b["backend_api"]["private_endpoint"]) for b in backends] == [
        ("api", "https://echo-api.3scale.net:443")
    ]
    service_plans = _get(info, f"/admin/api/services/{sid}/service_plans.json")["plans"]
    assert [(p["service_plan"]["name"], p["service_plan"]["default"]) for p in service_plans] == [("Default", False)]
    app_plans = [
        p["application_plan"] for p in _get(info, f"/admin/api/services/{sid}/application_plans.json")["plans"]
    ]
    assert [(p["name"], p["default"], p["state"]) for p in app_plans] == [
        ("Basic", True, "published"),
        ("Unlimited", False, "published"),
    ]

    accounts = _get(info, "/admin/api/accounts.json")["accounts"]
    assert [a["account"]["org_name"] for a in accounts] == ["Developer"]
    aid = accounts[0]["account"]["id"]
    users = _get(info, f"/admin/api/accounts/{aid}/users.json")["users"]
    assert [(u["user"]["username"], u["user"]["role"]) for u in users] == [("john", "admin")]
    apps = _get(info, f"/admin/api/accounts/{aid}/applications.json")["applications"]
    assert [(a["application"]["name"], a["application"]["plan_name"]) for a in apps] == [("Developer's App", "Basic")]

    docs = _get(info, "/admin/api/active_docs.json")["api_docs"]
    assert [(d["api_doc"]["name"], d["api_doc"]["published"]) for d in docs] == [("Echo", True)]
    assert json.loads(docs[0]["api_doc"]["body"])["swagger"] == "2.0"


def test_state_survives_a_restart_and_seed_runs_once(start_sandbox: Any, tmp_path: Any) -> None:
    info = start_sandbox(tmp_path / "state")
    port = urlsplit(info.admin_url).port
    token = {"access_token": info.admin_token}
    api = info.admin_url + "/admin/api"
    sid = _get(info, "/admin/api/services.json")["services"][0]["service"]["id"]
    plan = requests.post(
        f"{api}/services/{sid}/application_plans.json",
        params=token,
        json={"name": "Persisted", "state_event": "publish"},
        timeout=10,
    ).json()["application_plan"]
    account = requests.post(
        f"{api}/signup.json",
        params=token,
        json={"org_name": "Keep", "username": "keep", "email": "keep@example.com"},
        timeout=10,
    ).json()["account"]
    app = requests.post(
        f"{api}/accounts/{account['id']}/applications.json",
        params=token,
        json={"plan_id": plan["id"], "name": "kept"},
        timeout=10,
    ).json()["application"]
    requests.post(f"{api}/authentication_providers.json", params=token, json={"kind": "github"}, timeout=10)
    dev = _get(info, "/admin/api/accounts/find.json", username="john")["account"]
    requests.delete(f"{api}/accounts/{dev['id']}.json", params=token, timeout=10).raise_for_status()

    assert control.down(info.state_dir)
    again = start_sandbox(info.state_dir, port)
    assert again.admin_token == info.admin_token
    read = _get(again, f"/admin/api/accounts/{account['id']}/applications/{app['id']}.json")["application"]
    assert (read["user_key"], read["plan_name"], read["org_name"]) == (app["user_key"], "Persisted", "Keep")
    assert [a["account"]["org_name"] for a in _get(again, "/admin/api/accounts.json")["accounts"]] == ["Keep"]
    assert len(_get(again, "/admin/api/account_plans.json")["plans"]) == 1
    providers = _get(again, "/admin/api/authentication_providers.json")["authentication_providers"]
    assert [p["authentication_provider"]["kind"] for p in providers] == ["github"]
