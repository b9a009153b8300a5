"""Every Admin API route, enumerated from the OpenAPI the sandbox serves, rejects a missing or wrong token
with 3scale's answer: 403 `{"error": "Access denied"}` (reference threescale-admin-api.md). Master-only
routes also reject the tenant's admin token."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import pytest
import requests

from maas_sandbox.control import SandboxInfo

from harness.secrets import sandbox_tokens, shown_secrets

PUBLIC = {("GET", "/sandbox/health")}  # liveness probe, answers no data worth a token
MASTER_ONLY_PREFIXES = ("/master/api/", "/sandbox/api/")
# Values for path parameters that are not integers (ids are integers; any id works: without a valid
# token the answer must be 403 whether or not the object exists).
STRING_PARAMS = {"env": "production", "event": "activate", "key": "abcdef", "ref": "llm-metrics"}


def _operations(info: SandboxInfo) -> list[tuple[str, str]]:
    token = {"access_token": info.admin_token}
    schema = requests.get(info.admin_url + "/openapi.json", params=token, timeout=10).json()
    ops = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            if method.upper() not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                continue
            url = path
            for param in op.get("parameters", []):
                if param["in"] == "path":
                    value = STRING_PARAMS.get(param["name"], "1")
                    url = url.replace("{" + param["name"] + "}", value)
            ops.append((method.upper(), url))
    return ops


def _attempts(info: SandboxInfo, path: str) -> dict[str, dict[str, Any]]:
    wrong = secrets.token_hex(32)
    attempts: dict[str, dict[str, Any]] = {
        "no token": {},
        "wrong access_token": {"params": {"access_token": wrong}},
        "wrong provider_key": {"params": {"provider_key": wrong}},
        "wrong Basic": {"headers": {"Authorization": "Basic " + base64.b64encode(f"{wrong}:".encode()).decode()}},
        "empty access_token": {"params": {"access_token": ""}},
        "token in wrong param": {"params": {"token": info.admin_token}},
        "admin token with a suffix": {"params": {"access_token": info.admin_token + "0"}},
        "wrong token in a form body": {"data": {"access_token": wrong}},
    }
    if path.startswith(MASTER_ONLY_PREFIXES):
        attempts["tenant admin token on a master route"] = {"params": {"access_token": info.admin_token}}
    return attempts


def test_the_served_openapi_lists_the_routes(secured: SandboxInfo) -> None:
    ops = _operations(secured)
    assert len(ops) >= 100, "fewer routes than the sandbox serves: enumeration would prove little"
    # positive control: the real token is accepted where we put the wrong ones
    ok = requests.get(secured.admin_url + "/admin/api/services.json", params={"access_token": secured.admin_token},
                      timeout=10)
    assert ok.status_code == 200


def test_every_route_rejects_missing_and_wrong_tokens(secured: SandboxInfo) -> None:
    session = requests.Session()
    failures: list[str] = []
    checked = 0
    for method, path in _operations(secured):
        if (method, path) in PUBLIC:
            continue
        for label, kwargs in _attempts(secured, path).items():
            resp = session.request(method, secured.admin_url + path, timeout=10, **kwargs)
            checked += 1
            body: Any
            try:
                body = resp.json()
            except ValueError:
                body = resp.text[:100]
            if resp.status_code != 403 or body != {"error": "Access denied"}:
                failures.append(f"{method} {path} [{label}]: {resp.status_code} {body}")
    assert checked > 800
    assert failures == [], f"{len(failures)} of {checked} attempts not rejected:\n" + "\n".join(failures[:40])


def test_public_endpoints_reveal_no_token(secured: SandboxInfo) -> None:
    text = requests.get(secured.admin_url + "/sandbox/health", timeout=10).text
    assert shown_secrets(text, sandbox_tokens(secured)) == []


@pytest.mark.parametrize("path", ["/openapi.json"])
def test_api_description_needs_the_token(secured: SandboxInfo, path: str) -> None:
    """The route list is for the tenant's admins (issue 13 §9): 403 without a token. (`/docs` is a page without
    routes or token since issue 28 item 11; it fetches this with the token typed into it, in a header.)"""
    assert requests.get(secured.admin_url + path, timeout=10).status_code == 403
    wrong = requests.get(secured.admin_url + path, params={"access_token": "x" * 64}, timeout=10)
    assert wrong.status_code == 403 and wrong.json() == {"error": "Access denied"}
    ok = requests.get(secured.admin_url + path, params={"access_token": secured.admin_token}, timeout=10)
    assert ok.status_code == 200
    if path == "/openapi.json":
        assert len(ok.json()["paths"]) > 50 and secured.master_token not in ok.text
