"""Issue 28 items 7 and 11: the admin portal and the Admin API's Swagger page.

7. Before: the signed cookie replayed after `POST /p/logout` still opened `/p/admin/dashboard` for its 8 hours;
   30 wrong passwords were answered in 0.06 s; no nosniff, CSP or Referrer-Policy. Now the cookie names a
   server-side session that sign-out ends (porta's user_sessions, revoked at logout), sign-in goes through the
   login guard of the portal and the SSO (Keycloak's brute-force arithmetic, each refusal after a second), and
   the admin app sends nosniff, a CSP without inline scripts and Referrer-Policy.
11. Before: `/docs?access_token=…` with Swagger UI's JS/CSS from a CDN in the admin portal's origin. Now the page
   holds no token, loads Swagger UI from the installed package (swagger-ui-bundle) and takes the token in its
   token box; the spec and "Try it out" calls carry it in a header.
Figures: replayed cookie → 302 to sign-in; 10 concurrent wrong tokens take ≥ 1 s and lock the next right one
out; 0 external scripts or styles on /docs.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from maas_sandbox.control import SandboxInfo

from harness.sandbox import running


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    with running(tmp_path_factory.mktemp("adminportal") / "state") as info:
        yield info


def _csrf(session: requests.Session, url: str) -> str:
    return re.search(r'name="authenticity_token" value="([^"]+)"', session.get(url, timeout=10).text).group(1)


def _sign_in(info: SandboxInfo, token: str) -> tuple[requests.Session, requests.Response]:
    session = requests.Session()
    csrf = _csrf(session, info.admin_url + "/p/login")
    resp = session.post(info.admin_url + "/p/sessions", data={"authenticity_token": csrf, "access_token": token},
                        allow_redirects=False, timeout=10)
    return session, resp


def test_a_cookie_replayed_after_logout_opens_nothing(admin: SandboxInfo) -> None:
    session, resp = _sign_in(admin, admin.admin_token)
    assert resp.status_code == 303 and resp.headers["location"] == "/p/admin/dashboard"
    stolen = session.cookies.get("maas_admin_portal_session")
    page = session.get(admin.admin_url + "/p/admin/dashboard", timeout=10)
    assert page.status_code == 200
    csrf = re.search(r'name="authenticity_token" value="([^"]+)"', page.text).group(1)
    out = session.post(admin.admin_url + "/p/logout", data={"authenticity_token": csrf}, allow_redirects=False,
                       timeout=10)
    assert out.status_code == 303
    replay = requests.get(admin.admin_url + "/p/admin/dashboard", cookies={"maas_admin_portal_session": stolen},
                          allow_redirects=False, timeout=10)
    assert replay.status_code == 302 and replay.headers["location"].startswith("/p/login")


def test_admin_pages_send_nosniff_a_csp_and_a_referrer_policy(admin: SandboxInfo) -> None:
    session, _ = _sign_in(admin, admin.admin_token)
    for path in ("/p/login", "/p/admin/dashboard", "/docs"):
        headers = session.get(admin.admin_url + path, timeout=10).headers
        assert headers.get("x-content-type-options") == "nosniff", path
        assert headers.get("referrer-policy") == "strict-origin-when-cross-origin", path
        csp = headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline'; img" in csp, csp


def test_swagger_page_has_no_token_in_its_url_and_no_cdn_assets(admin: SandboxInfo) -> None:
    page = requests.get(admin.admin_url + "/docs", timeout=10)
    assert page.status_code == 200 and 'id="token"' in page.text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/docs/assets/") for s in sources), sources
    assert "<script>" not in page.text  # no inline script: the CSP allows this origin's files only
    for source in sources:
        asset = requests.get(admin.admin_url + source, timeout=10)
        assert asset.status_code == 200 and len(asset.content) > 100, source
    assert requests.get(admin.admin_url + "/openapi.json", timeout=10).status_code in (401, 403)
    spec = requests.get(admin.admin_url + "/openapi.json", auth=("", admin.admin_token), timeout=10)
    assert spec.status_code == 200 and spec.json()["paths"]


def test_sign_in_is_throttled(admin: SandboxInfo) -> None:
    """Last in this module: it locks the `admin` sign-in of this sandbox for a minute, as Keycloak would."""
    answers: list[requests.Response] = []

    def wrong() -> None:
        answers.append(_sign_in(admin, "wrong-token-value")[1])

    began = time.perf_counter()
    threads = [threading.Thread(target=wrong) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    assert all(a.headers.get("location") == "/p/login?error=1" for a in answers)
    assert elapsed >= 1.0, f"10 wrong sign-ins answered in {elapsed:.2f} s"
    _session, right = _sign_in(admin, admin.admin_token)  # locked now: refused without a check
    assert right.headers.get("location") == "/p/login?error=1"
