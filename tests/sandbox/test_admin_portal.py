"""The sandbox's read-only admin portal (maas_sandbox/admin_portal), at the paths of porta 3scale-2.16-stable
config/routes.rb: sign-in (token or the generated `admin` password), CSRF on the only POSTs, keys masked, pages
for the seeded objects, traffic charts with the recorded hits, and nothing written."""

from __future__ import annotations

import json
import re

import pytest
import requests

from maas_sandbox.control import SandboxInfo


def _csrf(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=10)
    assert page.status_code == 200
    match = re.search(r'name="authenticity_token" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def _signed_in(sb: SandboxInfo, **creds: str) -> requests.Session:
    session = requests.Session()
    token = _csrf(session, sb.admin_url + "/p/login")
    resp = session.post(sb.admin_url + "/p/sessions", data={"authenticity_token": token, **creds},
                        allow_redirects=False, timeout=10)
    assert resp.status_code == 303
    return session


def _admin_password(sb: SandboxInfo) -> str:
    return json.loads((sb.state_dir / "credentials.json").read_text())["admin_password"]


def test_pages_need_sign_in_and_sign_in_needs_csrf(sandbox: SandboxInfo) -> None:
    resp = requests.get(sandbox.admin_url + "/apiconfig/services", allow_redirects=False, timeout=10)
    assert resp.status_code == 302 and resp.headers["location"] == "/p/login?return_to=/apiconfig/services"
    forged = requests.post(sandbox.admin_url + "/p/sessions", data={"access_token": sandbox.admin_token},
                           allow_redirects=False, timeout=10)
    assert forged.status_code == 422 and "set-cookie" not in forged.headers
    session = requests.Session()
    token = _csrf(session, sandbox.admin_url + "/p/login")
    wrong = session.post(sandbox.admin_url + "/p/sessions", timeout=10, allow_redirects=False,
                         data={"authenticity_token": token, "username": "admin", "password": "not-it"})
    assert wrong.headers["location"] == "/p/login?error=1"
    assert session.get(sandbox.admin_url + "/p/admin/dashboard", allow_redirects=False, timeout=10).status_code == 302


@pytest.mark.parametrize("how", ["token", "password"])
def test_sign_in_with_token_or_generated_password(sandbox: SandboxInfo, how: str) -> None:
    creds = ({"access_token": sandbox.admin_token} if how == "token"
             else {"username": "admin", "password": _admin_password(sandbox)})
    session = _signed_in(sandbox, **creds)
    page = session.get(sandbox.admin_url + "/p/admin/dashboard", timeout=10)
    assert page.status_code == 200 and "Dashboard" in page.text
    assert sandbox.admin_token not in page.text
    token = re.search(r'name="authenticity_token" value="([^"]+)"', page.text).group(1)
    assert session.post(sandbox.admin_url + "/p/logout", timeout=10, allow_redirects=False).status_code == 422
    out = session.post(sandbox.admin_url + "/p/logout", data={"authenticity_token": token}, timeout=10,
                       allow_redirects=False)
    assert out.status_code == 303
    assert session.get(sandbox.admin_url + "/p/admin/dashboard", allow_redirects=False, timeout=10).status_code == 302


def _seed(sb: SandboxInfo) -> dict:
    def get(path: str) -> dict:
        resp = requests.get(sb.admin_url + path, params={"access_token": sb.admin_token}, timeout=10)
        resp.raise_for_status()
        return resp.json()

    service = next(s["service"] for s in get("/admin/api/services.json")["services"]
                   if s["service"]["system_name"] == "api")
    account = next(a["account"] for a in get("/admin/api/accounts.json")["accounts"]
                   if a["account"]["org_name"] == "Developer")
    app = get(f"/admin/api/accounts/{account['id']}/applications.json")["applications"][0]["application"]
    plan = get(f"/admin/api/services/{service['id']}/application_plans.json")["plans"][0]["application_plan"]
    return {"service": service, "account": account, "app": app, "plan": plan}


def test_every_page_shows_its_object_and_masks_keys(sandbox: SandboxInfo) -> None:
    seed = _seed(sandbox)
    sid, app = seed["service"]["id"], seed["app"]
    session = _signed_in(sandbox, access_token=sandbox.admin_token)
    expect = {
        "/apiconfig/services": "API", f"/apiconfig/services/{sid}": "Product: API",
        f"/apiconfig/services/{sid}/metrics": "hits", f"/apiconfig/services/{sid}/proxy_rules": "Mapping rules: API",
        f"/apiconfig/services/{sid}/policies/edit": "apicast",
        f"/apiconfig/services/{sid}/integration": "Configuration",
        f"/apiconfig/services/{sid}/application_plans": seed["plan"]["name"],
        f"/apiconfig/application_plans/{seed['plan']['id']}/edit": f"Application plan: {seed['plan']['name']}",
        f"/apiconfig/services/{sid}/api_docs": "ActiveDocs: API",
        f"/apiconfig/services/{sid}/backend_usages": "API Backend",
        "/buyers/accounts": "Developer", f"/buyers/accounts/{seed['account']['id']}": "john",
        f"/p/admin/applications/{app['id']}": f"Application: {app['name']}".replace("'", "&#x27;"),
        "/p/admin/cms": "Developer Portal content", "/p/admin/account/edit": "Account settings",
        "/p/admin/backend_apis": "API Backend", f"/services/{sid}/stats/usage": "Hits per method",
    }
    for path, text in expect.items():
        page = session.get(sandbox.admin_url + path, timeout=10)
        assert page.status_code == 200, path
        assert text in page.text, (path, text)
        assert app["user_key"] not in page.text, f"{path} shows a key"
    assert "****" + app["user_key"][-4:] in session.get(sandbox.admin_url + f"/p/admin/applications/{app['id']}",
                                                        timeout=10).text
    assert session.get(sandbox.admin_url + "/apiconfig/services/999999", timeout=10).status_code == 404


def test_nothing_in_the_portal_writes(sandbox: SandboxInfo) -> None:
    session = _signed_in(sandbox, access_token=sandbox.admin_token)
    for path in ("/apiconfig/services", "/p/admin/account/edit", "/buyers/accounts"):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            resp = session.request(method, sandbox.admin_url + path, timeout=10)
            assert resp.status_code == 405, (method, path, resp.status_code)
