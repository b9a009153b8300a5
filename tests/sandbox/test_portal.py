"""The sandbox developer portal over real HTTP: published content only, CSRF, sessions, keys stay private,
no open redirects, SSO sign-in through the Keycloak-shaped provider (state, nonce, PKCE, exact redirect URI)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests

_spec = importlib.util.spec_from_file_location(
    "portal_setup", Path(__file__).resolve().parents[1] / "browser" / "portal_setup.py"
)
portal_setup = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
sys.modules.setdefault("portal_setup", portal_setup)
_spec.loader.exec_module(portal_setup)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def portal(sandbox, admin_http):
    return portal_setup.setup_portal(sandbox, admin_http)


def csrf(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def signed_up(portal, name: str) -> tuple[requests.Session, str]:
    s = requests.Session()
    token = csrf(s.get(portal.portal_url + "/signup", timeout=10).text)
    resp = s.post(
        portal.portal_url + "/signup",
        timeout=10,
        data={
            "authenticity_token": token,
            "account[org_name]": f"{name} org",
            "account[user][username]": name,
            "account[user][email]": f"{name}@example.com",
            "account[user][password]": "s3cret-pass",
        },
    )
    assert resp.status_code == 200 and name in resp.text, resp.text[:400]
    return s, csrf(resp.text)


def create_app(portal, s: requests.Session, token: str, name: str) -> tuple[str, str]:
    resp = s.post(
        portal.portal_url + "/admin/applications",
        timeout=10,
        data={
            "authenticity_token": token,
            "service_id": portal.service["system_name"],
            "cinstance[name]": name,
            "cinstance[plan_id]": str(portal.plan["id"]),
        },
    )
    assert resp.status_code == 200 and "/admin/applications/" in resp.url, resp.text[:400]
    key = re.search(r'class="maas-key-input" id="key-\d+" type="password" readonly value="([0-9a-f]{32})"', resp.text)
    assert key, resp.text
    return resp.url, key.group(1)


def test_published_pages_render_with_real_endpoint_and_model(portal) -> None:
    home = requests.get(portal.portal_url + "/", timeout=10)
    assert home.status_code == 200 and "Models as a Service" in home.text
    assert "csrf-token" in home.text and "/css/maas.css" in home.text
    examples = requests.get(portal.portal_url + "/examples", timeout=10).text
    assert portal.gateway_url and f"{portal.gateway_url}/v1/chat/completions" in examples
    assert '"model": "markov-chat-small"' in examples
    docs = requests.get(portal.portal_url + "/docs", timeout=10).text
    assert "/javascripts/active_docs.js" in docs and "/swagger/spec/markov-chat-small.json" in docs
    assert requests.get(portal.portal_url + "/swagger/spec/markov-chat-small.json", timeout=10).json()["openapi"]
    assert requests.get(portal.portal_url + "/css/maas.css", timeout=10).headers["content-type"].startswith("text/css")
    bundle = requests.get(portal.portal_url + "/dev-portal-assets/swagger-ui/4.15.5/swagger-ui-bundle.js", timeout=10)
    assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text[:400]


def test_favicon_is_served_like_porta_public_favicon(portal) -> None:
    """Issue 29 item 11: the browser's /favicon.ico was a 404 (porta serves public/favicon.ico on every host)."""
    import io

    from PIL import Image

    resp = requests.get(portal.portal_url + "/favicon.ico", timeout=10)
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/x-icon"
    icon = Image.open(io.BytesIO(resp.content))
    assert icon.format == "ICO" and icon.size == (16, 16)


def test_unpublished_content_is_not_served(portal, admin_http) -> None:
    created = admin_http.post(
        "/admin/api/cms/templates.json",
        data={
            "type": "page",
            "title": "Draft",
            "path": "/draft-only",
            "draft": "<p>secret draft</p>",
            "section_name": "root",
        },
    )
    assert created.status_code == 201, created.text
    resp = requests.get(portal.portal_url + "/draft-only", timeout=10)
    assert resp.status_code == 404 and "secret draft" not in resp.text
    admin_http.put(f"/admin/api/cms/templates/{created.json()['id']}/publish.json")
    assert "secret draft" in requests.get(portal.portal_url + "/draft-only", timeout=10).text


def test_post_without_or_with_wrong_csrf_token_is_rejected(portal) -> None:
    s, token = signed_up(portal, "csrfuser")
    data = {
        "service_id": portal.service["system_name"],
        "cinstance[name]": "x",
        "cinstance[plan_id]": portal.plan["id"],
    }
    assert s.post(portal.portal_url + "/admin/applications", data=data, timeout=10).status_code == 422
    bad = {**data, "authenticity_token": token[:-2] + "xx"}
    assert s.post(portal.portal_url + "/admin/applications", data=bad, timeout=10).status_code == 422
    other = requests.Session()  # a token from another session is worthless here
    other_token = csrf(other.get(portal.portal_url + "/", timeout=10).text)
    assert (
        s.post(portal.portal_url + "/logout", data={"authenticity_token": other_token}, timeout=10).status_code == 422
    )


def test_session_cookie_is_httponly_samesite(portal) -> None:
    resp = requests.get(portal.portal_url + "/", timeout=10)
    cookie = resp.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_application_on_published_plan_key_show_regenerate_and_privacy(portal) -> None:
    alice, token = signed_up(portal, "alice")
    url, key = create_app(portal, alice, token, "alice-app")
    page = alice.get(url, timeout=10).text
    assert key in page and "markov-chat-small" in page and f"{portal.gateway_url}/v1" in page
    # hidden plans are refused
    hidden = alice.post(
        portal.portal_url + "/admin/applications",
        timeout=10,
        data={"authenticity_token": csrf(page), "cinstance[name]": "h", "cinstance[plan_id]": portal.hidden_plan["id"]},
    )
    assert "Choose a published plan" in hidden.text
    # another account never sees alice's key
    bob, bob_token = signed_up(portal, "bob")
    assert bob.get(url, timeout=10).status_code == 404
    assert key not in bob.get(portal.portal_url + "/admin/applications", timeout=10).text
    assert key not in bob.get(portal.portal_url + "/", timeout=10).text
    app_id = url.rsplit("/", 1)[1]
    assert bob.post(f"{url}/change_user_key", data={"authenticity_token": bob_token}, timeout=10).status_code == 404
    assert bob.get(f"{portal.portal_url}/stats/api/applications/{app_id}/usage.json", timeout=10).status_code == 404
    # regenerate changes the key
    again = alice.post(f"{url}/change_user_key", data={"authenticity_token": csrf(page), "_method": "put"}, timeout=10)
    assert again.status_code == 200 and key not in again.text and "regenerated" in again.text


def test_login_requires_password_and_pages_require_login(portal) -> None:
    signed_up(portal, "carol")
    s = requests.Session()
    resp = s.get(portal.portal_url + "/admin/applications", timeout=10, allow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"].startswith("/login")
    token = csrf(s.get(portal.portal_url + "/login", timeout=10).text)
    bad = s.post(
        portal.portal_url + "/login",
        data={"authenticity_token": token, "username": "carol", "password": "wrong"},
        timeout=10,
    )
    assert "Incorrect email or password" in bad.text
    good = s.post(
        portal.portal_url + "/login",
        data={"authenticity_token": csrf(bad.text), "username": "carol", "password": "s3cret-pass"},
        timeout=10,
    )
    assert "carol" in good.text and "Signed in" in good.text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "http:/x"])
def test_no_open_redirect_after_login(portal, target: str) -> None:
    signed_up(portal, f"dave{abs(hash(target)) % 10000}")
    s = requests.Session()
    page = s.get(portal.portal_url + "/login", params={"return_to": target}, timeout=10).text
    resp = s.post(
        portal.portal_url + "/login",
        allow_redirects=False,
        timeout=10,
        data={
            "authenticity_token": csrf(page),
            "username": f"dave{abs(hash(target)) % 10000}",
            "password": "s3cret-pass",
        },
    )
    assert resp.status_code == 303 and resp.headers["location"] == "/"


def sso_begin(portal) -> tuple[requests.Session, dict[str, list[str]], str]:
    s = requests.Session()
    resp = s.get(portal.portal_url + "/auth/keycloak/authorize", allow_redirects=False, timeout=10)
    assert resp.status_code == 303, resp.text
    location = resp.headers["location"]
    return s, parse_qs(urlparse(location).query), location


def sso_login_form(s: requests.Session, location: str, username: str, password: str) -> requests.Response:
    form = s.get(location, timeout=10)
    assert form.status_code == 200, form.text
    request_token = re.search(r'name="request" value="([^"]+)"', form.text).group(1)
    action = re.search(r'id="kc-form-login" action="([^"]+)"', form.text).group(1)
    return s.post(
        action,
        data={"request": request_token, "username": username, "password": password},
        allow_redirects=False,
        timeout=10,
    )


def test_sso_sign_in_creates_approved_account_from_org_name_claim(portal) -> None:
    s, query, location = sso_begin(portal)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    assert query["redirect_uri"] == [f"{portal.portal_url}/auth/keycloak/callback"]
    wrong = sso_login_form(s, location, "demo", "not-the-password")
    assert wrong.status_code == 200 and "Invalid username or password" in wrong.text
    ok = sso_login_form(s, location, "demo", portal.demo_password)
    assert ok.status_code == 302
    home = s.get(ok.headers["location"], timeout=10)
    assert home.status_code == 200 and "Signed in" in home.text and ">demo<" in home.text


def test_sso_callback_with_wrong_state_is_rejected(portal) -> None:
    s, query, location = sso_begin(portal)
    ok = sso_login_form(s, location, "demo", portal.demo_password)
    code_url = urlparse(ok.headers["location"])
    params = parse_qs(code_url.query)
    forged = f"{portal.portal_url}{code_url.path}?code={params['code'][0]}&state=forged"
    resp = s.get(forged, timeout=10)
    assert resp.status_code == 403 and "state" in resp.text
    assert "Signed in" not in s.get(portal.portal_url + "/", timeout=10).text


def test_sso_id_token_with_another_nonce_is_rejected(portal) -> None:
    s, query, location = sso_begin(portal)
    tampered = location.replace(f"nonce={query['nonce'][0]}", "nonce=forged-nonce")
    assert tampered != location
    ok = sso_login_form(s, tampered, "demo", portal.demo_password)
    resp = s.get(ok.headers["location"], timeout=10)
    assert resp.status_code == 403 and "nonce" in resp.text
    assert "Signed in" not in s.get(portal.portal_url + "/", timeout=10).text
