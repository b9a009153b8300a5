"""The Keycloak-shaped SSO over real HTTP: realm import (201/409, master token), discovery, exact redirect URIs,
PKCE required and checked, single-use codes, RS256 ID tokens with nonce, userinfo with the org_name mapper."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

CLIENT, SECRET, REDIRECT = "test-portal", "client-secret-1", "http://127.0.0.1:9/cb"


def realm(name: str) -> dict:
    return {
        "realm": name,
        "displayName": "Test realm",
        "enabled": True,
        "clients": [
            {
                "clientId": CLIENT,
                "secret": SECRET,
                "publicClient": False,
                "standardFlowEnabled": True,
                "redirectUris": [REDIRECT],
                "protocolMappers": [
                    {
                        "name": "org_name",
                        "protocolMapper": "oidc-usermodel-property-mapper",
                        "config": {
                            "user.attribute": "email",
                            "claim.name": "org_name",
                            "id.token.claim": "true",
                            "access.token.claim": "true",
                            "userinfo.token.claim": "true",
                        },
                    }
                ],
            }
        ],
        "users": [
            {
                "username": "erin",
                "email": "erin@example.com",
                "emailVerified": True,
                "firstName": "Erin",
                "credentials": [{"type": "password", "value": "erin-pass"}],
            }
        ],
    }


@pytest.fixture(scope="module")
def sso(sandbox):
    name = f"r{secrets.token_hex(4)}"
    resp = requests.post(
        f"{sandbox.sso_url}/admin/realms",
        json=realm(name),
        timeout=10,
        headers={"Authorization": f"Bearer {sandbox.master_token}"},
    )
    assert resp.status_code == 201, resp.text
    base = f"{sandbox.sso_url}/realms/{name}"
    return {"info": sandbox, "name": name, "base": base, "oidc": f"{base}/protocol/openid-connect"}


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(sso, challenge: str | None, redirect: str = REDIRECT, nonce: str = "n-1") -> requests.Response:
    params = {
        "client_id": CLIENT,
        "redirect_uri": redirect,
        "response_type": "code",
        "scope": "openid email",
        "state": "s-1",
        "nonce": nonce,
    }
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return requests.get(f"{sso['oidc']}/auth", params=params, allow_redirects=False, timeout=10)


def login(sso, challenge: str, nonce: str = "n-1") -> str:
    s = requests.Session()
    form = s.get(authorize(sso, challenge, nonce=nonce).url, timeout=10)
    token = re.search(r'name="request" value="([^"]+)"', form.text).group(1)
    resp = s.post(
        f"{sso['oidc']}/auth",
        data={"request": token, "username": "erin", "password": "erin-pass"},
        allow_redirects=False,
        timeout=10,
    )
    assert resp.status_code == 302, resp.text
    query = parse_qs(urlparse(resp.headers["location"]).query)
    assert query["state"] == ["s-1"]
    return query["code"][0]


def exchange(sso, code: str, verifier: str | None, redirect: str = REDIRECT) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect}
    if verifier:
        data["code_verifier"] = verifier
    return requests.post(f"{sso['oidc']}/token", data=data, auth=(CLIENT, SECRET), timeout=10)


def test_realm_import_requires_master_token_and_conflicts(sso) -> None:
    info = sso["info"]
    url = f"{info.sso_url}/admin/realms"
    assert requests.post(url, json=realm("x"), timeout=10).status_code == 401
    dup = requests.post(
        url, json=realm(sso["name"]), timeout=10, headers={"Authorization": f"Bearer {info.master_token}"}
    )
    assert dup.status_code == 409
    disco = requests.get(f"{sso['base']}/.well-known/openid-configuration", timeout=10).json()
    assert disco["issuer"] == sso["base"] and disco["code_challenge_methods_supported"] == ["S256"]
    assert disco["token_endpoint"] == f"{sso['oidc']}/token"


def test_redirect_uri_must_match_exactly(sso) -> None:
    _, challenge = pkce()
    for wrong in (REDIRECT + "/", REDIRECT + "?x=1", "http://127.0.0.1:9/cb2", "http://evil.example/cb"):
        resp = authorize(sso, challenge, redirect=wrong)
        assert resp.status_code == 400 and "redirect_uri" in resp.text
    assert authorize(sso, challenge).status_code == 200


def test_pkce_is_required_and_checked(sso) -> None:
    resp = authorize(sso, None)
    assert resp.status_code == 302 and "error=invalid_request" in resp.headers["location"]
    verifier, challenge = pkce()
    code = login(sso, challenge)
    assert exchange(sso, code, None).json()["error"] == "invalid_grant"  # and the code is now spent
    code = login(sso, challenge)
    assert exchange(sso, code, "not-the-verifier").json()["error"] == "invalid_grant"
    code = login(sso, challenge)
    assert exchange(sso, code, verifier, redirect=REDIRECT + "x").json()["error"] == "invalid_grant"


def test_id_token_rs256_with_nonce_and_org_name_and_single_use_code(sso) -> None:
    verifier, challenge = pkce()
    code = login(sso, challenge, nonce="nonce-42")
    tokens = exchange(sso, code, verifier)
    assert tokens.status_code == 200, tokens.text
    keys = KeySet.import_key_set(requests.get(f"{sso['oidc']}/certs", timeout=10).json())
    claims = jwt.decode(tokens.json()["id_token"], keys, algorithms=["RS256"]).claims
    assert claims["nonce"] == "nonce-42" and claims["aud"] == CLIENT and claims["iss"] == sso["base"]
    assert claims["org_name"] == "erin@example.com" and claims["preferred_username"] == "erin"
    assert exchange(sso, code, verifier).json()["error"] == "invalid_grant"  # replay refused
    info = requests.get(
        f"{sso['oidc']}/userinfo", timeout=10, headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}
    )
    assert info.status_code == 200 and info.json()["org_name"] == "erin@example.com"
    assert (
        requests.get(f"{sso['oidc']}/userinfo", headers={"Authorization": "Bearer x.y.z"}, timeout=10).status_code
        == 401
    )


def test_wrong_client_secret_is_refused(sso) -> None:
    verifier, challenge = pkce()
    code = login(sso, challenge)
    resp = requests.post(
        f"{sso['oidc']}/token",
        auth=(CLIENT, "wrong"),
        timeout=10,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier},
    )
    assert resp.status_code == 401
