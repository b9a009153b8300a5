"""Developer-portal authentication providers: create/read/list/update, no delete, one per kind."""

from __future__ import annotations

import re
from typing import Any

import requests

REALM = "https://keycloak.example.com/auth/realms/maas"


def test_keycloak_provider_lifecycle(fresh_sandbox: Any) -> None:
    base = fresh_sandbox.admin_url + "/admin/api/authentication_providers"
    token = {"access_token": fresh_sandbox.admin_token}
    missing = requests.post(base + ".json", params=token, json={"kind": "keycloak"}, timeout=10)
    assert (missing.status_code, missing.json()) == (
        422,
        {"errors": {"site": ["can't be blank"], "client_id": ["can't be blank"], "client_secret": ["can't be blank"]}},
    )
    unknown = requests.post(base + ".json", params=token, json={"kind": "okta"}, timeout=10)
    assert unknown.json() == {"errors": {"kind": ["is not included in the list"]}}

    body = {"kind": "keycloak", "site": REALM, "client_id": "portal", "client_secret": "s3cret", "published": True}
    created = requests.post(base + ".json", params=token, json=body, timeout=10)
    assert created.status_code == 201
    entity = created.json()["authentication_provider"]
    # porta app/lib/system_name.rb: no name → `keycloak_<12 hex>`; the callback follows the system_name
    assert re.fullmatch(r"keycloak_[0-9a-f]{12}", entity["system_name"]), entity["system_name"]
    assert entity["callback_url"] == f"{fresh_sandbox.portal_url}/auth/{entity['system_name']}/callback"
    assert (entity["account_type"], entity["client_secret"]) == ("developer", "s3cret")
    assert entity["token_url"] == f"{REALM}/protocol/openid-connect/token"
    assert entity["automatically_approve_accounts"] is False

    dup = requests.post(base + ".json", params=token, json=body, timeout=10)
    assert (dup.status_code, dup.json()) == (422, {"errors": {"kind": ["has already been taken"]}})

    url = f"{base}/{entity['id']}.json"
    updated = requests.put(
        url,
        params=token,
        json={"automatically_approve_accounts": True, "name": "ignored", "client_id": "c2"},
        timeout=10,
    ).json()["authentication_provider"]
    assert (updated["automatically_approve_accounts"], updated["client_id"], updated["name"]) == (
        True,
        "c2",
        entity["name"],
    )
    assert requests.get(url, params=token, timeout=10).json()["authentication_provider"]["client_id"] == "c2"
    listed = requests.get(base + ".json", params=token, timeout=10).json()
    assert [p["authentication_provider"]["id"] for p in listed["authentication_providers"]] == [entity["id"]]

    assert requests.delete(url, params=token, timeout=10).status_code == 404
    assert requests.get(url, params=token, timeout=10).status_code == 200
    denied = requests.get(base + ".json", timeout=10)
    assert (denied.status_code, denied.json()) == (403, {"error": "Access denied"})


def test_github_provider_with_the_real_client(threescale: Any) -> None:
    existing = [p for p in threescale.dev_portal_auth_providers.list() if p["kind"] == "github"]
    provider = existing[0] if existing else threescale.dev_portal_auth_providers.create({"kind": "github"})
    assert provider["branding_state"] == "threescale_branded"
    assert provider["callback_url"].endswith(f"/auth/{provider['system_name']}/callback")  # system_name.rb
    read = threescale.dev_portal_auth_providers.read(provider.entity_id)
    assert read["kind"] == "github"
