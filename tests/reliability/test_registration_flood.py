"""Issue 28 item 1: self-registration must not stall the gateways. Four threads register on the SSO's
registration page (Keycloak's /protocol/openid-connect/registrations, no credential needed) and complete the
first developer-portal sign-in (which creates the 3scale account, porta's Users::FindOAuth2UserService path),
at most 80 users or 30 s, while a probe measures the gateway's latency on loopback.

Before the fix both steps hashed a password with argon2 on the event loop that also serves the gateways
(gateway p50 2.3 ms → 110 ms). Now the hash runs in the hashing thread (maas_sandbox/login_guard.py) and the
SSO-created portal user has no password at all (porta: an SSO signup leaves it blank).
Figure: gateway p50 during the flood ≤ 2 × idle p50 + 5 ms.
"""

from __future__ import annotations

import importlib.util
import re
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from maas_sandbox.control import SandboxInfo

from harness import loopback as lb
from harness.admin import AdminHTTP
from harness.sandbox import running

_spec = importlib.util.spec_from_file_location(
    "portal_setup", Path(__file__).resolve().parents[1] / "browser" / "portal_setup.py"
)
portal_setup = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
sys.modules.setdefault("portal_setup", portal_setup)
_spec.loader.exec_module(portal_setup)  # type: ignore[union-attr]

THREADS, MAX_USERS, MAX_SECONDS = 4, 80, 30.0


@pytest.fixture(scope="module")
def flooded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxInfo, object]]:
    with running(tmp_path_factory.mktemp("registration") / "state", test_clock=False) as info:
        portal = portal_setup.setup_portal(info, AdminHTTP(info))
        resp = requests.put(f"{info.sso_url}/admin/realms/maas", json={"registrationAllowed": True}, timeout=10,
                            headers={"Authorization": f"Bearer {info.master_token}"})
        assert resp.status_code == 204, resp.text
        yield info, portal


def register_and_sign_in(portal_url: str, name: str) -> bool:
    """One attacker-free visitor: portal → SSO login page → Register → form post → portal callback."""
    s = requests.Session()
    start = s.get(portal_url + "/auth/keycloak/authorize", allow_redirects=False, timeout=30)
    login = s.get(start.headers["location"], timeout=30)
    link = re.search(r'<a href="([^"]+)">Register</a>', login.text)
    assert link, login.text[:300]
    form = s.get(link.group(1).replace("&amp;", "&"), timeout=30)
    token = re.search(r'name="request" value="([^"]+)"', form.text)
    action = re.search(r'id="kc-register-form"[^>]*action="([^"]+)"', form.text) or re.search(
        r'action="([^"]+login-actions/registration[^"]*)"', form.text)
    assert token and action, form.text[:300]
    done = s.post(action.group(1).replace("&amp;", "&"), allow_redirects=False, timeout=30, data={
        "request": token.group(1), "firstName": "Flood", "lastName": name, "email": f"{name}@example.com",
        "username": name, "password": "long-enough-1", "password-confirm": "long-enough-1"})
    if done.status_code != 302:
        return False
    home = s.get(done.headers["location"], timeout=30)  # the first sign-in: the 3scale account is created here
    return home.status_code == 200 and "Signed in" in home.text


def gateway_probe(url: str, headers: dict[str, str], stop: threading.Event, samples: list[float]) -> None:
    with requests.Session() as s:
        while not stop.is_set():
            began = time.perf_counter()
            resp = s.get(url, headers=headers, timeout=30)
            samples.append((time.perf_counter() - began) * 1000)
            assert resp.status_code == 200, resp.text[:200]


def test_registration_flood_does_not_stall_the_gateway(flooded) -> None:
    info, portal = flooded
    product = lb.build_product(lb.Admin(info))
    app = product.new_app()
    url, headers = product.production + "/v1/models", {"Authorization": f"Bearer {app.key}"}
    assert urlsplit(url).hostname in ("127.0.0.1", "localhost")

    idle: list[float] = []
    with requests.Session() as s:
        for _ in range(200):
            began = time.perf_counter()
            assert s.get(url, headers=headers, timeout=30).status_code == 200
            idle.append((time.perf_counter() - began) * 1000)

    counter, lock, results = iter(range(MAX_USERS)), threading.Lock(), []
    deadline = time.monotonic() + MAX_SECONDS

    def registrar() -> None:
        while time.monotonic() < deadline:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            results.append(register_and_sign_in(portal.portal_url, f"flood{n}"))

    stop, during = threading.Event(), []
    probe = threading.Thread(target=gateway_probe, args=(url, headers, stop, during))
    workers = [threading.Thread(target=registrar) for _ in range(THREADS)]
    probe.start()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    probe.join()

    idle_p50, flood_p50 = statistics.median(idle), statistics.median(during)
    print(f"\nregistrations {sum(results)}/{len(results)}; gateway p50 idle {idle_p50:.2f} ms, during flood "
          f"{flood_p50:.2f} ms (p95 {statistics.quantiles(during, n=20)[-1]:.2f} ms, {len(during)} samples)")
    assert len(results) >= 20 and all(results), "the flood did not register and sign in"
    accounts = AdminHTTP(info).get("/admin/api/accounts.json", params={"per_page": 500}).json()["accounts"]
    assert sum(a["account"]["org_name"].startswith("flood") for a in accounts) == sum(results)
    assert flood_p50 <= 2 * idle_p50 + 5, f"gateway p50 {flood_p50:.1f} ms during registration vs {idle_p50:.1f} idle"
