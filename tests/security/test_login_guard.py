"""Issue 13 §2: wrong passwords cannot stall the gateways, cannot be guessed at speed, and do not tell who
exists. Own sandbox: locking out 127.0.0.1 must not disturb the package's other tests.

Upstream judge for the arithmetic: Keycloak services/.../DefaultBruteForceProtector.java (failureFactor,
waitIncrementSeconds, quickLoginCheckMilliSeconds, minimumQuickLoginWaitSeconds); the portal uses the same
defaults (porta itself has no login throttling). Figures go to docs/reliability.md.
"""

from __future__ import annotations

import importlib.util
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from maas_sandbox.control import SandboxInfo
from maas_sandbox.login_guard import FAILURE_DELAY

from harness import loopback as lb
from harness.admin import AdminHTTP
from harness.sandbox import running

PASSWORD = "pw-Loopback-1"
SETUP: dict[str, Any] = {}
_spec = importlib.util.spec_from_file_location(
    "portal_setup", Path(__file__).resolve().parents[1] / "browser" / "portal_setup.py"
)
portal_setup = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
sys.modules.setdefault("portal_setup", portal_setup)
_spec.loader.exec_module(portal_setup)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    with running(tmp_path_factory.mktemp("login-guard") / "state") as info:
        SETUP["portal"] = portal_setup.setup_portal(info, AdminHTTP(info))  # pages, no access code, SSO realm
        yield info


def _csrf(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert found, html[:300]
    return found.group(1)


def _login(info: SandboxInfo, username: str, password: str) -> bool:
    s = requests.Session()
    token = _csrf(s.get(info.portal_url + "/login", timeout=10).text)
    resp = s.post(info.portal_url + "/login", timeout=30,
                  data={"authenticity_token": token, "username": username, "password": password})
    return "Signed in" in resp.text


def _advance(info: SandboxInfo, seconds: float) -> None:
    requests.put(info.admin_url + "/sandbox/api/clock.json", params={"access_token": info.master_token},
                 json={"advance": seconds}, timeout=10).raise_for_status()


def test_portal_locks_a_user_after_quick_failures_then_unlocks(guarded: SandboxInfo) -> None:
    product = lb.build_product(lb.Admin(guarded))
    name = product.name  # build_product signs up a developer with this username and PASSWORD
    assert _login(guarded, name, PASSWORD)
    # two failures within 1 s (concurrent: each refusal is answered after 1 s): Keycloak's quick-login wait, 60 s
    with ThreadPoolExecutor(2) as pool:
        assert not any(pool.map(lambda p: _login(guarded, name, p), ["wrong-1", "wrong-2"]))
    assert not _login(guarded, name, PASSWORD), "the right password must not work while the user is locked"
    _advance(guarded, 61)
    assert _login(guarded, name, PASSWORD)


def test_empty_password_never_signs_in(guarded: SandboxInfo) -> None:
    assert not _login(guarded, "nobody-at-all", "")


def test_unknown_user_costs_as_much_as_a_wrong_password(guarded: SandboxInfo) -> None:
    product = lb.build_product(lb.Admin(guarded))

    def timed(username: str) -> float:
        """Seconds the server worked on a refused login, beyond the fixed refusal delay."""
        start = time.perf_counter()
        _login(guarded, username, "definitely-wrong")
        took = time.perf_counter() - start - FAILURE_DELAY
        _advance(guarded, 120)  # past any quick-login wait, so each attempt is really checked
        return took

    known = statistics.median(timed(product.name) for _ in range(3))
    unknown = statistics.median(timed(f"ghost{i}") for i in range(3))
    print(f"refused login beyond the delay: known user {known * 1000:.0f} ms, unknown {unknown * 1000:.0f} ms")
    assert unknown > 0.5 * known, f"unknown user answered in {unknown:.3f}s, known in {known:.3f}s"


def test_gateway_p50_holds_while_8_threads_post_wrong_passwords(guarded: SandboxInfo) -> None:
    admin = lb.Admin(guarded)
    product = lb.build_product(admin)
    app = product.new_app()
    session = requests.Session()
    headers = {"Authorization": f"Bearer {app.key}"}

    def p50(seconds: float) -> float:
        samples = []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            start = time.perf_counter()
            assert session.get(product.production + "/v1/models", headers=headers, timeout=10).status_code == 200
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    idle = p50(1.5)
    # the attacker is another process (8 threads), so its GIL does not slow the measuring client
    attacker = subprocess.Popen([sys.executable, "-c", ATTACKER, guarded.portal_url, product.name],
                                stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        loaded = p50(4)
    finally:
        attacker.terminate()
        attempts = attacker.communicate(timeout=30)[0]
    print(f"gateway p50 idle {idle * 1000:.2f} ms, under 8 login threads {loaded * 1000:.2f} ms; {attempts}")
    assert loaded < 2 * idle + 0.001, f"p50 {loaded * 1000:.1f} ms vs idle {idle * 1000:.1f} ms"


ATTACKER = """
import re, signal, sys, threading, requests
url, name = sys.argv[1], sys.argv[2]
count = [0]
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
def attack(i):
    s = requests.Session()
    while not stop.is_set():
        token = re.search(r'csrf-token" content="([^"]+)"', s.get(url + "/login", timeout=30).text).group(1)
        user = name if i % 2 else f"guess{i}-{count[0]}"
        s.post(url + "/login", data={"authenticity_token": token, "username": user, "password": "x"}, timeout=30)
        count[0] += 1
threads = [threading.Thread(target=attack, args=(i,), daemon=True) for i in range(8)]
for t in threads: t.start()
stop.wait()
print(f"{count[0]} wrong logins")
"""


def _signed_in(info: SandboxInfo, username: str) -> requests.Session:
    s = requests.Session()
    token = _csrf(s.get(info.portal_url + "/login", timeout=10).text)
    resp = s.post(info.portal_url + "/login", timeout=30,
                  data={"authenticity_token": token, "username": username, "password": PASSWORD})
    assert "Signed in" in resp.text, re.findall(r"(?:Incorrect|isn't active)[^<]*", resp.text)
    return s


def test_logout_revokes_the_session_cookie(guarded: SandboxInfo) -> None:
    """§5: the cookie copied before logout no longer signs anyone in (porta's sessions are server-side)."""
    product = lb.build_product(lb.Admin(guarded))
    s = _signed_in(guarded, product.name)
    stolen = dict(s.cookies)
    page = s.get(guarded.portal_url + "/admin/applications", timeout=10, allow_redirects=False)
    assert page.status_code == 200
    s.post(guarded.portal_url + "/logout", data={"authenticity_token": _csrf(page.text)}, timeout=10)
    replay = requests.get(guarded.portal_url + "/admin/applications", cookies=stolen, timeout=10,
                          allow_redirects=False)
    assert replay.status_code == 303 and replay.headers["location"].startswith("/login")


def test_portal_sign_up_needs_a_password(guarded: SandboxInfo) -> None:
    s = requests.Session()
    token = _csrf(s.get(guarded.portal_url + "/signup", timeout=10).text)
    resp = s.post(guarded.portal_url + "/signup", timeout=10, data={
        "authenticity_token": token, "account[org_name]": "Blank Org", "account[user][username]": "blankpw",
        "account[user][email]": "blankpw@example.com", "account[user][password]": ""})
    assert "Password can&#39;t be blank" in resp.text or "Password can't be blank" in resp.text
    users = requests.get(guarded.admin_url + "/admin/api/accounts/find.json", timeout=10,
                         params={"access_token": guarded.admin_token, "username": "blankpw"})
    assert users.status_code == 404


@pytest.mark.parametrize("where", ["portal", "sso"])
def test_pages_carry_security_headers(guarded: SandboxInfo, where: str) -> None:
    sso_page = "/realms/maas/.well-known/openid-configuration"
    url = guarded.portal_url + "/login" if where == "portal" else guarded.sso_url + sso_page
    headers = requests.get(url, timeout=10).headers
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'self'" in headers["Content-Security-Policy"]


@pytest.mark.parametrize(("name", "source", "message"), [
    ("loop", "{% for i in (1..3000000) %}{{ i }}{% endfor %}", "loop iteration limit reached"),
    ("nested", "{% for i in (1..3000) %}{% for j in (1..3000) %}x{% endfor %}{% endfor %}", "loop iteration limit"),
    ("output", "{% for i in (1..20000) %}" + "x" * 100 + "{% endfor %}", "output stream limit reached"),
    ("syntax", "{% if %}", ""),
])
def test_liquid_is_bounded_and_errors_get_an_error_page(guarded: SandboxInfo, name: str, source: str,
                                                        message: str) -> None:
    """§6: python-liquid's limits stop runaway templates fast; any template error is a Liquid error page."""
    token = {"access_token": guarded.admin_token}
    api = guarded.admin_url + "/admin/api/cms/templates"
    path = f"/liquid-{name}"
    created = requests.post(api + ".json", params=token, timeout=10,
                            json={"type": "page", "title": name, "system_name": path[1:], "path": path,
                                  "draft": source})
    assert created.status_code == 201, created.text
    requests.put(f"{api}/{created.json()['id']}/publish.json", params=token, timeout=10).raise_for_status()
    start = time.perf_counter()
    resp = requests.get(guarded.portal_url + path, timeout=30)
    took = time.perf_counter() - start
    assert resp.status_code == 500 and "Liquid error" in resp.text and message in resp.text, resp.text[:300]
    assert len(resp.content) < 10_000 and took < 1.0, (len(resp.content), took)


def _switch(info: SandboxInfo, allowed: bool) -> None:
    provider = requests.get(info.admin_url + "/admin/api/provider.json", params={"access_token": info.admin_token},
                            timeout=10).json()["account"]
    requests.put(f"{info.admin_url}/master/api/providers/{provider['id']}.json", timeout=10,
                 params={"access_token": info.master_token},
                 data={"multiple_applications": str(allowed).lower()}).raise_for_status()


def test_multiple_applications_switch_off_means_one_application_per_plan(guarded: SandboxInfo) -> None:
    """§1c: porta cinstance.rb `plan_is_unique` (developer portal create): with the provider's switch off, a
    second application on the same plan is "already bought", so the per-application quota cannot multiply."""
    setup = SETUP["portal"]
    s = _signed_in(guarded, lb.build_product(lb.Admin(guarded)).name)

    def create(name: str) -> requests.Response:
        page = s.get(guarded.portal_url + "/admin/applications/new", timeout=10).text
        return s.post(guarded.portal_url + "/admin/applications", timeout=10, data={
            "authenticity_token": _csrf(page), "service_id": setup.service["system_name"],
            "cinstance[name]": name, "cinstance[plan_id]": str(setup.plan["id"])})

    _switch(guarded, False)
    try:
        first = create("first")
        assert "/admin/applications/" in first.url and "Application was created" in first.text
        second = create("second")
        assert "already bought" in second.text and second.url.endswith("/admin/applications/new")
        _switch(guarded, True)
        third = create("third")
        assert "Application was created" in third.text
    finally:
        _switch(guarded, True)
