"""The data plane end to end: a real sandbox process, products built through the Admin API, the model
server as upstream, requests through the staging and production gateways over real HTTP.

The module runs its own sandbox with a frozen test clock, so limit periods never roll over by accident
and moving time cannot disturb other test modules.
"""

from __future__ import annotations

import base64
import json
import random
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from maas_sandbox import control
from maas_sandbox.control import SandboxInfo

from harness import loopback as lb
from harness.admin import Admin as HarnessAdmin
from harness.sandbox import restart, running, start

T0 = "2025-06-04T10:30:30Z"  # a Wednesday
MANIFEST = Path(__file__).resolve().parents[2] / "policies" / "llm-metrics" / "1.0.0" / "apicast-policy.json"


class Admin(HarnessAdmin):
    """The harness Admin, plus unchecked GETs and a clock that stays frozen where it is set."""

    def raw(self, path: str, **params: Any) -> requests.Response:
        return self.get(path, params=params)

    def set_clock(self, now: str | None = None, *, advance: float | None = None, freeze: bool = True) -> Any:
        return super().set_clock(now or None, advance=advance, freeze=freeze)


@dataclass
class Product:
    admin: Admin
    id: int
    staging: str
    production: str
    metrics: dict[str, int] = field(default_factory=dict)
    plan_id: int = 0
    account_id: int = 0
    keys: list[str] = field(default_factory=list)
    app_ids: list[int] = field(default_factory=list)

    def limit(self, metric: str, period: str, value: int) -> None:
        self.admin.call(
            "POST",
            f"/admin/api/application_plans/{self.plan_id}/metrics/{self.metrics[metric]}/limits.json",
            data={"period": period, "value": value},
        )

    def new_app(self) -> str:
        app = self.admin.call(
            "POST",
            f"/admin/api/accounts/{self.account_id}/applications.json",
            data={"plan_id": self.plan_id, "name": f"app-{random.randrange(1 << 30)}"},
        )["application"]
        self.keys.append(app["user_key"])
        self.app_ids.append(app["id"])
        return app["user_key"]

    def deploy(self) -> None:
        self.admin.call("POST", f"/admin/api/services/{self.id}/proxy/deploy.json")

    def promote(self) -> None:
        latest = self.admin.call("GET", f"/admin/api/services/{self.id}/proxy/configs/sandbox/latest.json")
        version = latest["proxy_config"]["version"]
        self.admin.call(
            "POST",
            f"/admin/api/services/{self.id}/proxy/configs/sandbox/{version}/promote.json",
            data={"to": "production"},
        )


LLM = {"name": "llm-metrics", "version": "1.0.0", "configuration": {}, "enabled": True}
CORS = {
    "name": "cors",
    "version": "builtin",
    "enabled": True,
    "configuration": {
        "allow_headers": ["Authorization", "Content-type", "Accept"],
        "allow_origin": "*",
        "allow_credentials": True,
    },
}
APICAST = {"name": "apicast", "version": "builtin", "configuration": {}, "enabled": True}


def register_llm_metrics(admin: Admin) -> None:
    """A custom policy must be in the tenant's registry before a chain can use it (as in 3scale)."""
    admin.call(
        "POST",
        "/admin/api/registry/policies.json",
        json={"name": "llm-metrics", "version": "1.0.0", "schema": json.loads(MANIFEST.read_text())},
    )


def make_product(
    admin: Admin,
    upstream: str,
    *,
    credentials: str = "authorization",
    auth_user_key: str = "user_key",
    chain: list[dict[str, Any]] | None = None,
    proxy: dict[str, Any] | None = None,
    promote: bool = True,
) -> Product:
    name = f"p{random.randrange(1 << 30)}"
    svc = admin.call("POST", "/admin/api/services.json", data={"name": name, "system_name": name})["service"]
    sid = svc["id"]
    settings = admin.call("GET", f"/admin/api/services/{sid}/proxy.json")["proxy"]
    product = Product(admin, sid, settings["sandbox_endpoint"], settings["endpoint"])
    backend = admin.call(
        "POST", "/admin/api/backend_apis.json", data={"name": name + "-b", "private_endpoint": upstream}
    )["backend_api"]
    admin.call(
        "POST", f"/admin/api/services/{sid}/backend_usages.json", data={"backend_api_id": backend["id"], "path": "/"}
    )
    for metric in admin.call("GET", f"/admin/api/services/{sid}/metrics.json")["metrics"]:
        product.metrics[metric["metric"]["system_name"]] = metric["metric"]["id"]
    for token in ("prompt_tokens", "completion_tokens", "total_tokens"):
        created = admin.call(
            "POST",
            f"/admin/api/services/{sid}/metrics.json",
            data={"friendly_name": token, "system_name": token, "unit": "token"},
        )["metric"]
        product.metrics[token] = created["id"]
    for method, system in (("Chat", "chat"), ("Models", "models")):
        created = admin.call(
            "POST",
            f"/admin/api/services/{sid}/metrics/{product.metrics['hits']}/methods.json",
            data={"friendly_name": method, "system_name": system},
        )["method"]
        product.metrics[system] = created["id"]
    for verb, pattern, metric, delta in (
        ("POST", "/v1/chat/completions", "chat", 1),
        ("GET", "/v1/models", "models", 1),
    ):
        admin.call(
            "POST",
            f"/admin/api/services/{sid}/proxy/mapping_rules.json",
            data={"http_method": verb, "pattern": pattern, "metric_id": product.metrics[metric], "delta": delta},
        )
    admin.call(
        "PUT",
        f"/admin/api/services/{sid}/proxy.json",
        data={"credentials_location": credentials, "auth_user_key": auth_user_key, **(proxy or {})},
    )
    admin.call(
        "PUT",
        f"/admin/api/services/{sid}/proxy/policies.json",
        data={"policies_config": json.dumps(chain if chain is not None else [CORS, LLM, APICAST])},
    )
    product.deploy()
    plan = admin.call(
        "POST",
        f"/admin/api/services/{sid}/application_plans.json",
        data={"name": "Basic", "system_name": f"basic{sid}", "state_event": "publish"},
    )["application_plan"]
    product.plan_id = plan["id"]
    account = admin.call(
        "POST",
        "/admin/api/signup.json",
        data={"org_name": name, "username": name, "email": f"{name}@example.com", "password": "pw123456!"},
    )["account"]
    product.account_id = account["id"]
    product.new_app()
    if promote:
        product.promote()
    return product


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    with running(tmp_path_factory.mktemp("dataplane") / "state") as info:
        Admin(info).set_clock(T0)
        register_llm_metrics(Admin(info))
        yield info


@pytest.fixture(scope="module")
def admin(sb: SandboxInfo) -> Admin:
    return Admin(sb)


@pytest.fixture(scope="module")
def chat_model(sb: SandboxInfo) -> str:
    return lb.chat_model(sb)


@pytest.fixture(scope="module")
def product(admin: Admin, sb: SandboxInfo) -> Product:
    return make_product(admin, sb.models_url)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def chat_body(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8, **extra}


def last_upstream_request(sb: SandboxInfo) -> dict[str, Any]:
    return lb.last_model_request(sb)


# -- routing, staging vs production ------------------------------------------------------------------
def test_endpoints_are_distinct_loopback_urls(product: Product) -> None:
    assert product.staging != product.production
    assert product.staging.startswith("http://127.0.0.1:") and product.production.startswith("http://127.0.0.1:")


def test_proxies_to_the_model_server_with_path_and_body_unchanged(
    product: Product, sb: SandboxInfo, chat_model: str
) -> None:
    body = json.dumps(chat_body(chat_model)).encode()
    resp = requests.post(
        product.production + "/v1/chat/completions",
        data=body,
        headers={**bearer(product.keys[0]), "Content-Type": "application/json"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["object"] == "chat.completion"
    seen = last_upstream_request(sb)
    assert seen["path"] == "/v1/chat/completions"
    assert seen["body"] == body.decode()
    assert "authorization" not in {k.lower() for k in seen["headers"]}


def test_staging_serves_latest_production_only_promoted(admin: Admin, sb: SandboxInfo) -> None:
    p = make_product(admin, sb.models_url)
    key = p.keys[0]
    # a new rule deployed to staging only
    admin.call(
        "POST",
        f"/admin/api/services/{p.id}/proxy/mapping_rules.json",
        data={"http_method": "GET", "pattern": "/v1/models/{model}$", "metric_id": p.metrics["models"], "delta": 1},
    )
    admin.call(
        "DELETE",
        f"/admin/api/services/{p.id}/proxy/mapping_rules/"
        + str(
            next(
                r["mapping_rule"]["id"]
                for r in admin.call("GET", f"/admin/api/services/{p.id}/proxy/mapping_rules.json")["mapping_rules"]
                if r["mapping_rule"]["pattern"] == "/"
            )
        )
        + ".json",
    )
    p.deploy()
    # GET / matches in production (the upstream answers it), not in staging any more
    assert requests.get(p.staging + "/", headers=bearer(key), timeout=10).text == "No Mapping Rule matched"
    assert requests.get(p.production + "/", headers=bearer(key), timeout=10).text != "No Mapping Rule matched"
    p.promote()
    resp = requests.get(p.production + "/", headers=bearer(key), timeout=10)
    assert resp.status_code == 404 and resp.text == "No Mapping Rule matched"


def test_never_promoted_production_is_404_empty(admin: Admin, sb: SandboxInfo) -> None:
    p = make_product(admin, sb.models_url, promote=False)
    resp = requests.get(p.production + "/v1/models", headers=bearer(p.keys[0]), timeout=10)
    assert resp.status_code == 404 and resp.content == b""
    assert requests.get(p.staging + "/v1/models", headers=bearer(p.keys[0]), timeout=10).status_code == 200


# -- credentials --------------------------------------------------------------------------------------
def test_authorization_basic_user_password_and_bearer(product: Product) -> None:
    key = product.keys[0]
    url = product.production + "/v1/models"
    basic_user = base64.b64encode(f"{key}:".encode()).decode()
    basic_pass = base64.b64encode(f":{key}".encode()).decode()
    for header in (f"Basic {basic_user}", f"Basic {basic_pass}", f"Bearer {key}"):
        assert requests.get(url, headers={"Authorization": header}, timeout=10).status_code == 200, header
    assert requests.get(url, headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 403
    assert requests.get(url, auth=(key, "x"), timeout=10).status_code == 200


def test_query_credentials_stripped_before_upstream(admin: Admin, sb: SandboxInfo) -> None:
    p = make_product(admin, sb.models_url, credentials="query")
    resp = requests.get(p.production + "/v1/models", params={"user_key": p.keys[0], "keep": "1"}, timeout=10)
    assert resp.status_code == 200
    seen = last_upstream_request(sb)
    assert seen["query_string"] == "keep=1"
    assert requests.get(p.production + "/v1/models", headers=bearer(p.keys[0]), timeout=10).status_code == 403


def test_header_credentials_dash_underscore_equivalent(admin: Admin, sb: SandboxInfo) -> None:
    p = make_product(admin, sb.models_url, credentials="headers", auth_user_key="X_Api_Key")
    ok = requests.get(p.production + "/v1/models", headers={"x-api-key": p.keys[0]}, timeout=10)
    assert ok.status_code == 200
    assert "x-api-key" not in {k.lower() for k in last_upstream_request(sb)["headers"]}
    assert requests.get(p.production + "/v1/models", params={"user_key": p.keys[0]}, timeout=10).status_code == 403


# -- error responses ------------------------------------------------------------------------------------
def test_default_error_responses(product: Product) -> None:
    url = product.production
    missing = requests.get(url + "/nowhere", timeout=10)
    assert (missing.status_code, missing.text) == (403, "Authentication parameters missing")
    assert missing.headers["Content-Type"] == "text/plain; charset=us-ascii"
    no_match = requests.post(url + "/v1/completions", headers=bearer(product.keys[0]), timeout=10)
    assert (no_match.status_code, no_match.text) == (404, "No Mapping Rule matched")
    assert "X-3scale-matched-rules" in no_match.headers and no_match.headers["X-3scale-matched-rules"] == ""
    failed = requests.get(url + "/v1/models", headers=bearer("nope"), timeout=10)
    assert (failed.status_code, failed.text) == (403, "Authentication failed")


def test_configured_error_overrides(admin: Admin, sb: SandboxInfo) -> None:
    overrides = {
        "error_auth_missing": '{"error":"no key"}',
        "error_status_auth_missing": 401,
        "error_headers_auth_missing": "application/json",
        "error_auth_failed": "bad key",
        "error_status_auth_failed": 401,
        "error_no_match": "nothing here",
        "error_status_no_match": 418,
        "error_limits_exceeded": "slow down",
        "error_status_limits_exceeded": 503,
    }
    p = make_product(admin, sb.models_url, proxy=overrides)
    p.limit("models", "day", 1)
    url = p.production + "/v1/models"
    r = requests.get(url, timeout=10)
    assert (r.status_code, r.text, r.headers["Content-Type"]) == (401, '{"error":"no key"}', "application/json")
    r = requests.get(url, headers=bearer("x"), timeout=10)
    assert (r.status_code, r.text) == (401, "bad key")
    r = requests.post(p.production + "/v1/embeddings", headers=bearer(p.keys[0]), timeout=10)
    assert (r.status_code, r.text) == (418, "nothing here")
    assert requests.get(url, headers=bearer(p.keys[0]), timeout=10).status_code == 200
    r = requests.get(url, headers=bearer(p.keys[0]), timeout=10)
    assert (r.status_code, r.text) == (503, "slow down") and "Retry-After" in r.headers


# -- limits -------------------------------------------------------------------------------------------------
def test_limit_429_retry_after_and_method_hierarchy(admin: Admin, sb: SandboxInfo) -> None:
    p = make_product(admin, sb.models_url)
    p.limit("hits", "minute", 6)  # GET /v1/models matches `GET /` (hits) and the `models` method: hits +2
    key = p.keys[0]
    statuses = [
        requests.get(p.production + "/v1/models", headers=bearer(key), timeout=10).status_code for _ in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]
    r = requests.get(p.production + "/v1/models", headers=bearer(key), timeout=10)
    assert r.text == "Usage limit exceeded" and r.headers["Retry-After"] == "30"  # clock frozen at hh:mm:30
    # another app on the same plan has its own counters
    assert requests.get(p.production + "/v1/models", headers=bearer(p.new_app()), timeout=10).status_code == 200
    admin.set_clock(advance=30)
    try:
        assert requests.get(p.production + "/v1/models", headers=bearer(key), timeout=10).status_code == 200
    finally:
        admin.set_clock(T0)


def test_disabled_metric_is_403(admin: Admin, sb: SandboxInfo) -> None:
    p = make_product(admin, sb.models_url)
    p.limit("models", "month", 0)
    r = requests.get(p.production + "/v1/models", headers=bearer(p.keys[0]), timeout=10)
    assert (r.status_code, r.text) == (403, "Authentication failed")


def test_week_starts_monday(admin: Admin, sb: SandboxInfo) -> None:
    p = make_product(admin, sb.models_url)
    p.limit("models", "week", 1)
    key = p.keys[0]
    try:
        admin.set_clock("2025-06-08T23:59:00Z")  # Sunday
        assert requests.get(p.production + "/v1/models", headers=bearer(key), timeout=10).status_code == 200
        r = requests.get(p.production + "/v1/models", headers=bearer(key), timeout=10)
        assert r.status_code == 429 and r.headers["Retry-After"] == "60"
        admin.set_clock("2025-06-09T00:00:00Z")  # Monday
        assert requests.get(p.production + "/v1/models", headers=bearer(key), timeout=10).status_code == 200
    finally:
        admin.set_clock(T0)


def test_exactly_limit_pass_under_200_concurrent_requests(admin: Admin, sb: SandboxInfo) -> None:
    p = make_product(admin, sb.models_url)
    limit = 37
    p.limit("models", "day", limit)
    key = p.keys[0]
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(50)

    def worker() -> None:
        session = requests.Session()
        barrier.wait()
        for _ in range(4):
            code = session.get(p.production + "/v1/models", headers=bearer(key), timeout=30).status_code
            with lock:
                statuses.append(code)

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(statuses) == 200
    assert statuses.count(200) == limit and statuses.count(429) == 200 - limit


# -- CORS -------------------------------------------------------------------------------------------------
def test_cors_preflight_answered_without_auth_and_headers_on_errors(product: Product) -> None:
    pre = requests.options(
        product.production + "/v1/chat/completions",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert pre.status_code == 204 and pre.content == b""
    assert pre.headers["Access-Control-Allow-Origin"] == "*"
    assert pre.headers["Access-Control-Allow-Headers"] == "Authorization, Content-type, Accept"
    assert pre.headers["Access-Control-Allow-Methods"] == "POST"
    assert pre.headers["Access-Control-Max-Age"] == "600"
    err = requests.get(product.production + "/v1/models", headers={"Origin": "https://app.example"}, timeout=10)
    assert err.status_code == 403 and err.headers["Access-Control-Allow-Origin"] == "*"
    plain = requests.get(product.production + "/v1/models", timeout=10)
    assert "Access-Control-Allow-Origin" not in plain.headers


# -- llm-metrics: tokens and quotas ------------------------------------------------------------------------
def usage_total(admin: Admin, p: Product, metric: str, app_index: int = 0) -> int:
    body = admin.call(
        "GET",
        f"/stats/applications/{p.app_ids[app_index]}/usage.json",
        params={"metric_name": metric, "period": "day", "since": T0[:10]},
    )
    return body["total"]


def test_token_metrics_counted_for_json_and_streaming(admin: Admin, sb: SandboxInfo, chat_model: str) -> None:
    p = make_product(admin, sb.models_url)
    key = p.keys[0]
    r = requests.post(
        p.production + "/v1/chat/completions", json=chat_body(chat_model), headers=bearer(key), timeout=30
    )
    usage = r.json()["usage"]
    with requests.post(
        p.production + "/v1/chat/completions",
        json=chat_body(chat_model, stream=True),
        headers=bearer(key),
        stream=True,
        timeout=30,
    ) as s:
        assert s.headers["Content-Type"].startswith("text/event-stream")
        events = [line for line in s.iter_lines() if line.startswith(b"data: ")]
    assert events[-1] == b"data: [DONE]"
    streamed = json.loads(events[-2][6:])["usage"]  # forced include_usage puts it in the last event
    assert streamed is not None
    assert json.loads(last_upstream_request(sb)["body"])["stream_options"] == {"include_usage": True}
    for field_ in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert usage_total(admin, p, field_) == usage[field_] + streamed[field_]
    assert usage_total(admin, p, "chat") == 2 and usage_total(admin, p, "hits") == 2


def test_streaming_passes_chunk_by_chunk(admin: Admin, sb: SandboxInfo, chat_model: str) -> None:
    import time

    p = make_product(admin, sb.models_url)
    with requests.post(
        p.production + "/v1/chat/completions",
        json=chat_body(chat_model, stream=True, max_tokens=6),
        headers={**bearer(p.keys[0]), "X-Sandbox-Token-Delay-Ms": "150"},
        stream=True,
        timeout=30,
    ) as s:
        arrivals = []
        for line in s.iter_lines():
            if line.startswith(b"data: "):
                arrivals.append(time.monotonic())
    # a buffering proxy would deliver every event at once; pass-through spreads them over the delays
    assert len(arrivals) >= 4 and arrivals[-1] - arrivals[0] >= 0.3


def test_streaming_json_sent_as_a_form_is_still_counted(admin: Admin, sb: SandboxInfo, chat_model: str) -> None:
    """Issue 13 (1a): `curl -d` sends a form Content-Type; the rewrite keys on the body, not the type."""
    p = make_product(admin, sb.models_url)
    raw = json.dumps(chat_body(chat_model, stream=True, max_tokens=4)).encode()
    headers = {**bearer(p.keys[0]), "Content-Type": "application/x-www-form-urlencoded"}
    with requests.post(p.production + "/v1/chat/completions", data=raw, headers=headers, stream=True, timeout=30) as s:
        events = [line for line in s.iter_lines() if line.startswith(b"data: ")]
    streamed = json.loads(events[-2][6:])["usage"]
    assert json.loads(last_upstream_request(sb)["body"])["stream_options"] == {"include_usage": True}
    assert usage_total(admin, p, "total_tokens") == streamed["total_tokens"] > 0


def test_client_hanging_up_mid_stream_is_counted(admin: Admin, sb: SandboxInfo, chat_model: str) -> None:
    """Issue 13 (1b) / 19: the tokens streamed before the client left are reported (the estimate: no usage
    event had passed), in the same step that frees the reservation."""
    import time

    p = make_product(admin, sb.models_url)
    raw = json.dumps(chat_body(chat_model, stream=True, max_tokens=40)).encode()
    host, port = p.production.removeprefix("http://").split(":")
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {p.keys[0]}\r\n"
        f"Content-Type: application/json\r\nX-Sandbox-Token-Delay-Ms: 100\r\nContent-Length: {len(raw)}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), 10) as sock:
        sock.sendall(head.encode() + raw)
        received = b""
        while received.count(b"data: ") < 3:
            received += sock.recv(65536)
    deadline = time.monotonic() + 5
    while usage_total(admin, p, "prompt_tokens") == 0:
        assert time.monotonic() < deadline, "nothing counted for the abandoned stream"
        time.sleep(0.05)
    assert usage_total(admin, p, "prompt_tokens") == -(-len(raw) // 4)
    completion = usage_total(admin, p, "completion_tokens")
    assert 3 <= completion < 40  # the events that passed the gateway before it noticed, not the whole answer
    exposition = requests.get(sb.admin_url + "/metrics", timeout=10).text
    assert f'llm_estimated_reports_total{{service_id="{p.id}"' in exposition


def test_token_quota_admits_while_the_request_bound_fits_and_is_never_passed(
    admin: Admin, sb: SandboxInfo, chat_model: str
) -> None:
    """Issue 28 item 8: admission asks for usage + this request's upper bound (body bytes + max_tokens), so
    sequential requests are admitted while their bound fits what is left, and the recorded total never
    passes the limit; the refusal names the limit and its period (X-LLM-Quota)."""
    quota = {**LLM, "configuration": {"quota": {"enabled": True, "metrics": ["total_tokens"]}}}
    p = make_product(admin, sb.models_url, chain=[CORS, quota, APICAST])
    limit = 400
    p.limit("total_tokens", "day", limit)
    key = p.keys[0]
    body = json.dumps(chat_body(chat_model, stream=True)).encode()
    bound = len(body) + 8  # prompt <= body bytes, completion <= max_tokens
    spent, admitted, refused = 0, 0, None
    for _ in range(40):
        r = requests.post(
            p.production + "/v1/chat/completions",
            data=body,
            headers={**bearer(key), "Content-Type": "application/json"},
            timeout=30,
        )
        if r.status_code == 429:
            refused = r
            break
        assert r.status_code == 200
        admitted += 1
        for line in r.text.splitlines():
            if line.startswith("data: {") and '"usage": {' in line.replace('"usage":{', '"usage": {'):
                spent = spent + json.loads(line[6:])["usage"]["total_tokens"]
    assert refused is not None and admitted >= 2
    error = refused.json()["error"]  # llm-metrics' own answer names the limit and its period (issue 29)
    assert error["code"] == "rate_limit_exceeded" and "Retry-After" in refused.headers
    assert f"reached: {limit} total_tokens per day" in error["message"]
    assert refused.headers["Content-Type"] == "application/json"
    assert refused.headers["X-LLM-Quota"] == (
        f"metric=total_tokens; limit={limit}; period=day; remaining={limit - spent}; requested={bound}"
    )
    recorded = usage_total(admin, p, "total_tokens")
    assert recorded == spent
    assert limit - bound < recorded <= limit  # never over; refused only once the next bound no longer fit
    # the quota does not count the check itself: hits equals admitted requests
    assert usage_total(admin, p, "hits") == admitted


# -- analytics ---------------------------------------------------------------------------------------------
def test_analytics_numbers_equal_traffic_sent(admin: Admin, sb: SandboxInfo) -> None:
    p = make_product(admin, sb.models_url)
    second = p.new_app()
    for _ in range(3):
        assert requests.get(p.production + "/v1/models", headers=bearer(p.keys[0]), timeout=10).status_code == 200
    admin.set_clock("2025-06-04T12:10:00Z")
    try:
        for _ in range(2):
            assert requests.get(p.production + "/v1/models", headers=bearer(second), timeout=10).status_code == 200
        requests.get(p.production + "/v1/models", headers=bearer("bad"), timeout=10)  # rejected: not counted
        day = admin.call(
            "GET",
            f"/stats/services/{p.id}/usage.json",
            params={"metric_name": "hits", "period": "day", "since": "2025-06-04"},
        )
        # each GET /v1/models adds hits 1 (rule `GET /`) + 1 (method `models`, a child of hits)
        assert day["total"] == 10 and len(day["values"]) == 24
        assert day["values"][10] == 6 and day["values"][12] == 4
        assert day["period"] == {
            "name": "day",
            "since": "2025-06-04T00:00:00Z",
            "until": "2025-06-04T23:59:59Z",
            "timezone": "Etc/UTC",
            "granularity": "hour",
        }
        assert day["metric"]["system_name"] == "hits"
        method = admin.call(
            "GET",
            f"/stats/services/{p.id}/usage.json",
            params={"metric_name": "models", "period": "day", "since": "2025-06-04"},
        )
        assert method["total"] == 5 and method["values"][10] == 3
        app = admin.call(
            "GET",
            f"/stats/applications/{p.app_ids[1]}/usage.json",
            params={"metric_name": "hits", "period": "day", "since": "2025-06-04"},
        )
        assert app["total"] == 4 and app["application"]["id"] == p.app_ids[1]
        assert app["application"]["plan"]["id"] == p.plan_id
        madrid = admin.call(
            "GET",
            f"/stats/services/{p.id}/usage.json",
            params={"metric_name": "hits", "period": "day", "since": "2025-06-04", "timezone": "Europe/Madrid"},
        )
        assert madrid["values"][12] == 6 and madrid["values"][14] == 4  # UTC+2 in June
        assert madrid["period"]["since"] == "2025-06-04T00:00:00+02:00"
        custom = admin.call(
            "GET",
            f"/stats/services/{p.id}/usage.json",
            params={"metric_name": "hits", "granularity": "day", "since": "2025-06-01", "until": "2025-06-07"},
        )
        assert custom["values"] == [0, 0, 0, 10, 0, 0, 0]
        top = admin.call(
            "GET",
            f"/stats/services/{p.id}/top_applications.json",
            params={"metric_name": "hits", "period": "day", "since": "2025-06-04"},
        )
        # stats/service.rb top_clients (services_test.rb 'top_clients as json'): values as strings, plan and
        # service with each item, the period as name/since/until only
        assert [(a["id"], a["value"]) for a in top["applications"]] == [(p.app_ids[0], "6"), (p.app_ids[1], "4")]
        assert set(top["applications"][0]) == {"name", "id", "value", "account", "plan", "service"}
        assert top["period"] == {"name": "day", "since": "2025-06-04T00:00:00Z", "until": "2025-06-04T23:59:59Z"}
        noon = admin.call("GET", f"/stats/services/{p.id}/top_applications.json",
                          params={"metric_name": "hits", "period": "day", "since": "2025-06-04T13:30:00"})
        assert noon["period"]["since"] == "2025-06-04T00:00:00Z"  # extract_since: the beginning of the period
        for missing in ("since", "period"):
            params = {"metric_name": "hits", "period": "day", "since": "2025-06-04"}
            params.pop(missing)
            resp = admin.request("GET", f"/stats/services/{p.id}/top_applications.json", params=params)
            assert resp.status_code == 400  # data/service_controller_test.rb 'missing params'
        # no `since`: porta's day window (stats/views/usage.rb): 25 hours from the hour holding now - 24 h to the
        # end of the current hour, so fresh traffic shows at once
        recent = admin.call(
            "GET", f"/stats/services/{p.id}/usage.json", params={"metric_name": "hits", "period": "day"}
        )
        assert recent["values"][-1] == 4 and recent["total"] == 10 and len(recent["values"]) == 25
        assert recent["period"]["until"] == "2025-06-04T12:59:59Z"
        change = admin.call(
            "GET",
            f"/stats/services/{p.id}/usage.json",
            params={"metric_name": "hits", "period": "day", "since": "2025-06-04", "skip_change": "false"},
        )
        assert change["previous_total"] == 0 and "change" in change
    finally:
        admin.set_clock(T0)


def test_analytics_errors(admin: Admin, product: Product) -> None:
    r = admin.raw(f"/stats/services/{product.id}/usage.json", metric_name="hits")
    assert (r.status_code, r.text) == (400, "Required parameter missing: granularity")
    r = admin.raw(f"/stats/services/{product.id}/usage.json", metric_name="nope", period="day")
    assert (r.status_code, r.json()) == (400, {"error": "metric nope not found"})  # porta render_error, JSON
    r = admin.raw("/stats/services/999999/usage.json", metric_name="hits", period="day")
    assert r.status_code == 404
    r = requests.get(admin.info.admin_url + f"/stats/services/{product.id}/usage.json", timeout=10)
    assert r.status_code == 403


def test_backend_api_usage(admin: Admin, sb: SandboxInfo) -> None:
    p = make_product(admin, sb.models_url)
    usages = admin.call("GET", f"/admin/api/services/{p.id}/backend_usages.json")
    backend_id = usages[0]["backend_usage"]["backend_id"]
    rule_metric = next(
        m["metric"] for m in admin.call("GET", f"/admin/api/backend_apis/{backend_id}/metrics.json")["metrics"]
    )
    admin.call(
        "POST",
        f"/admin/api/backend_apis/{backend_id}/mapping_rules.json",
        data={"http_method": "GET", "pattern": "/health", "metric_id": rule_metric["id"], "delta": 1},
    )
    p.deploy()
    p.promote()
    assert requests.get(p.production + "/health", headers=bearer(p.keys[0]), timeout=10).status_code == 200
    body = admin.call(
        "GET",
        f"/stats/backend_apis/{backend_id}/usage.json",
        params={"metric_name": "hits", "period": "day", "since": T0[:10]},
    )
    assert body["total"] == 1
    # the backend's hits roll up into the product's hits
    assert usage_total(admin, p, "hits") == 2  # GET / rule of the product + the backend rule


# -- persistence -----------------------------------------------------------------------------------------------
def test_usage_survives_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    info = start(state)
    try:
        admin = Admin(info)
        admin.set_clock(T0)
        register_llm_metrics(admin)
        p = make_product(admin, info.models_url)
        p.limit("models", "day", 2)
        for _ in range(2):
            assert requests.get(p.production + "/v1/models", headers=bearer(p.keys[0]), timeout=10).status_code == 200
    finally:
        control.down(state)
    info = restart(state)
    try:
        admin = Admin(info)
        admin.set_clock(T0)
        assert requests.get(p.production + "/v1/models", headers=bearer(p.keys[0]), timeout=10).status_code == 429
        assert usage_total(admin, p, "models") == 2
    finally:
        control.down(state)


# -- the OpenAI Python SDK against a production endpoint ----------------------------------------------------
def test_openai_sdk_chat_streaming_and_models(admin: Admin, product: Product, chat_model: str) -> None:
    from openai import OpenAI, PermissionDeniedError

    key = product.new_app()
    client = OpenAI(base_url=product.production + "/v1", api_key=key, max_retries=0, timeout=30)
    assert chat_model in [m.id for m in client.models.list()]
    reply = client.chat.completions.create(
        model=chat_model, messages=[{"role": "user", "content": "Hello"}], max_tokens=8
    )
    assert reply.usage is not None and reply.usage.total_tokens > 0
    pieces, usage = [], None
    stream = client.chat.completions.create(
        model=chat_model, messages=[{"role": "user", "content": "Hello"}], max_tokens=8, stream=True
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.usage is not None:
            usage = chunk.usage
    assert pieces and usage is not None  # the gateway forced include_usage on the SDK's stream
    app_index = product.keys.index(key)
    assert usage_total(admin, product, "total_tokens", app_index) == reply.usage.total_tokens + usage.total_tokens
    bad = OpenAI(base_url=product.production + "/v1", api_key="wrong", max_retries=0, timeout=30)
    with pytest.raises(PermissionDeniedError):
        bad.models.list()


def test_a_changed_key_already_authorised_is_served_once_then_refused(admin: Admin, sb: SandboxInfo) -> None:
    """APIcast's default strict auth cache (gateway/src/apicast/proxy.lua `authorize`: a cache hit is proxied and
    reported in `post_action`; backend/cache_handler.lua `strict`: a non-200 report deletes the entry). After a
    key changes, the old key's first request for a usage it was authorised for is served; the next is refused."""
    p = make_product(admin, sb.models_url)
    old, url = p.keys[0], p.production + "/v1/models"
    assert requests.get(url, headers=bearer(old), timeout=10).status_code == 200  # authorised: cached
    new = "b" * 32
    admin.call("PUT", f"/admin/api/accounts/{p.account_id}/applications/{p.app_ids[0]}.json", json={"user_key": new})
    served = requests.get(url, headers=bearer(old), timeout=10)
    assert served.status_code == 200  # the cache hit
    for _ in range(2):
        refused = requests.get(url, headers=bearer(old), timeout=10)
        assert (refused.status_code, refused.text) == (403, "Authentication failed")
    # never authorised for this usage (another mapping rule): no cache entry, refused at once
    other = requests.post(p.production + "/v1/chat/completions", headers=bearer(old), timeout=10,
                          json={"model": "x", "messages": []})
    assert other.status_code == 403
    assert requests.get(url, headers=bearer(new), timeout=10).status_code == 200
