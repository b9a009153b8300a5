"""Issue 13: hostile input to the Admin API and the gateway, each case one finding that used to be a 500, a
poisoned row or a forwarded forgery. All on the package's private loopback sandbox.

Upstream judges: porta app/models/plan.rb and usage_limit.rb (`numericality` → "is not a number"; Ruby's
Float() refuses NaN/Infinity), Rack's nested query parser (ParameterTypeError → 400 Bad Request), APIcast's
nginx.conf (`proxy_set_header X-3scale-proxy-secret-token $secret_token`, which replaces a client's header).
"""

from __future__ import annotations

import json
import re
import socket
import sqlite3
from pathlib import Path

import pytest
import requests

from maas_sandbox.control import SandboxInfo

from harness import loopback as lb

NONFINITE = ["NaN", "Infinity", "-Infinity", "inf", "1e999", "nan"]


@pytest.fixture(scope="module")
def admin(secured: SandboxInfo) -> lb.Admin:
    return lb.Admin(secured)


@pytest.fixture(scope="module")
def product(admin: lb.Admin) -> lb.Product:
    return lb.build_product(admin)


def _stored_rows_are_json(info: SandboxInfo) -> int:
    conn = sqlite3.connect(f"file:{Path(info.state_dir) / 'sandbox.db'}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT data FROM objects").fetchall()
    finally:
        conn.close()
    for (data,) in rows:
        json.loads(data, parse_constant=lambda c: pytest.fail(f"stored non-JSON constant {c}"))
    return len(rows)


@pytest.mark.parametrize("value", NONFINITE)
def test_nonfinite_plan_prices_are_not_a_number(secured: SandboxInfo, product: lb.Product, value: str) -> None:
    url = f"{secured.admin_url}/admin/api/services/{product.id}/application_plans.json"
    token = {"access_token": secured.admin_token}
    for field in ("cost_per_month", "setup_fee", "trial_period_days"):
        form = requests.post(url, params=token, data={"name": f"n-{field}", field: value}, timeout=10)
        assert form.status_code == 422, form.text
        assert form.json() == {"errors": {field: ["is not a number"]}}
    # a JSON body with a bare NaN/Infinity literal (what json.dumps of a pandas NaN sends) is refused too
    if value in ("NaN", "Infinity", "-Infinity", "1e999"):
        raw = f'{{"name": "json-{value}", "cost_per_month": {value}}}'
        resp = requests.post(url, params=token, data=raw, headers={"Content-Type": "application/json"}, timeout=10)
        assert resp.status_code == 422 and resp.json() == {"errors": {"cost_per_month": ["is not a number"]}}
    # and afterwards every listing and signup still works: nothing poisoned was stored
    assert requests.get(url, params=token, timeout=10).status_code == 200
    assert _stored_rows_are_json(secured) > 10


@pytest.mark.parametrize("value", ["Infinity", "1e999", "NaN"])
def test_nonfinite_limit_and_pricing_values_are_422(admin: lb.Admin, product: lb.Product, value: str) -> None:
    info = admin.info
    plan = product.plan("basic")
    metric = product.metrics["hits"]
    base = f"{info.admin_url}/admin/api/application_plans/{plan}/metrics/{metric}"
    token = {"access_token": info.admin_token}
    body = f'{{"period": "day", "value": {value}}}'
    resp = requests.post(base + "/limits.json", params=token, data=body,
                         headers={"Content-Type": "application/json"}, timeout=10)
    assert resp.status_code == 422 and resp.json() == {"errors": {"value": ["is not a number"]}}, resp.text
    form = requests.post(base + "/pricing_rules.json", params=token, data={"cost_per_unit": value}, timeout=10)
    assert form.status_code == 422 and form.json() == {"errors": {"cost_per_unit": ["is not a number"]}}


def test_finite_numbers_still_accepted(secured: SandboxInfo, product: lb.Product) -> None:
    url = f"{secured.admin_url}/admin/api/services/{product.id}/application_plans.json"
    resp = requests.post(url, params={"access_token": secured.admin_token},
                         data={"name": "priced", "cost_per_month": "12.5", "trial_period_days": "7"}, timeout=10)
    assert resp.status_code == 201, resp.text
    plan = resp.json()["application_plan"]
    assert plan["cost_per_month"] == 12.5 and plan["trial_period_days"] == 7


@pytest.mark.parametrize("query", ["a[b]=1&a[]=2", "a[]=1&a[b]=2", "a=1&a[b]=2"])
def test_conflicting_nested_parameters_are_400_before_the_token(secured: SandboxInfo, query: str) -> None:
    for token in ("", f"&access_token={secured.admin_token}"):
        resp = requests.get(f"{secured.admin_url}/admin/api/services.json?{query}{token}", timeout=10)
        assert resp.status_code == 400, resp.text
        assert resp.text.startswith("Invalid query parameters: expected ")


def test_analytics_far_past_since_is_400(admin: lb.Admin, product: lb.Product) -> None:
    info = admin.info
    resp = requests.get(
        f"{info.admin_url}/stats/services/{product.id}/usage.json",
        params={"access_token": info.admin_token, "metric_name": "hits", "since": "0001-01-01",
                "granularity": "hour", "until": "0001-01-02", "timezone": "Pacific/Auckland"},
        timeout=10,
    )
    assert resp.status_code == 400 and resp.text.startswith("Invalid since"), resp.text


def test_client_sent_proxy_secret_token_is_replaced(secured: SandboxInfo, admin: lb.Admin,
                                                    product: lb.Product) -> None:
    app = product.apps[0] if product.apps else product.new_app()
    forged = "forged-by-the-client"
    resp = requests.get(product.production + "/v1/models", timeout=10, headers={
        "Authorization": f"Bearer {app.key}", "X-3scale-proxy-secret-token": forged})
    assert resp.status_code == 200
    last = lb.last_model_request(secured)
    sent = [v for k, v in last["raw_headers"] if k.lower() == "x-3scale-proxy-secret-token"]
    proxy = admin.call("GET", f"/admin/api/services/{product.id}/proxy.json")["proxy"]
    assert sent == [proxy["secret_token"]]


def _raw_admin(info: SandboxInfo, head: bytes) -> bytes:
    port = int(info.admin_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)  # the headers only: a server that waits for the 300 MB body times out here
        received = b""
        while b"\r\n\r\n" not in received or len(received.split(b"\r\n\r\n", 1)[1]) < _length(received):
            chunk = sock.recv(65536)  # the answer's head and body may come in separate segments
            if not chunk:
                break
            received += chunk
        return received


def _length(received: bytes) -> int:
    found = re.search(rb"(?im)^content-length:\s*(\d+)", received.split(b"\r\n\r\n", 1)[0])
    return int(found.group(1)) if found else 0


def test_admin_api_refuses_a_huge_body_before_reading_it(secured: SandboxInfo) -> None:
    head = ("POST /admin/api/services.json{q} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded"
            "\r\nContent-Length: 300000000\r\n\r\n")
    without = _raw_admin(secured, head.format(q="").encode())
    assert without.startswith(b"HTTP/1.1 403 ") and b'{"error":"Access denied"}' in without
    with_token = _raw_admin(secured, head.format(q=f"?access_token={secured.admin_token}").encode())
    assert with_token.startswith(b"HTTP/1.1 413 ")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("org_name", "o" * 200_000, "is too long (maximum is 255 characters)"),
    ("username", "u" * 41, "is too long (maximum is 40 characters)"),
    ("email", "e" * 250 + "@x.example", "is too long (maximum is 255 characters)"),
])
def test_signup_fields_have_porta_length_limits(secured: SandboxInfo, field: str, value: str, message: str) -> None:
    """porta app/models/account.rb (org_name ≤ 255) and user.rb (username 3..40, email ≤ 255)."""
    data = {"org_name": "Len Org", "username": "lenuser", "email": "len@example.com", "password": "pw-Length-1"}
    data[field] = value
    resp = requests.post(secured.admin_url + "/admin/api/signup.json", params={"access_token": secured.admin_token},
                         data=data, timeout=10)
    assert resp.status_code == 422 and message in resp.json()["errors"][field], resp.text[:300]
