"""The gateway's Prometheus metrics at the admin port's `/metrics`, as APIcast exports them on port 9421.

Chat (JSON and streaming) and embeddings calls go through a product's production gateway to the model
server; the llm-metrics counters must then equal the usage the responses reported, by model. A second
upstream on loopback answers any status with a usage body, so a non-200 response that carries usage can
be seen to count nothing. Every scrape is parsed with `prometheus_client.parser`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from maas_sandbox.control import SandboxInfo

from harness import loopback as lb
from harness.admin import Admin
from harness.ports import serve_http
from harness.sandbox import running

MANIFEST = Path(__file__).resolve().parents[2] / "policies" / "llm-metrics" / "1.0.0" / "apicast-policy.json"
FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")
COUNTERS = {f: f"llm_{f}_total" for f in FIELDS}
STATUS_USAGE = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


# -- an upstream answering the status named in the path (/status/<code>/...) with a usage body ---------------
class _StatusHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = self.path.split("/")
        status = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 200
        body = json.dumps({"model": "scripted", "usage": STATUS_USAGE}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


@pytest.fixture(scope="module")
def status_upstream() -> Iterator[str]:
    with serve_http(_StatusHandler) as url:
        yield url


# -- sandbox and products ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    with running(tmp_path_factory.mktemp("metrics") / "state", test_clock=False) as info:
        _call(
            info,
            "POST",
            "/admin/api/registry/policies.json",
            json={"name": "llm-metrics", "version": "1.0.0", "schema": json.loads(MANIFEST.read_text())},
        )
        yield info


def _call(info: SandboxInfo, method: str, path: str, **kw: Any) -> Any:
    return Admin(info).call(method, path, **kw)


@dataclass
class Product:
    id: int
    system_name: str
    url: str  # production gateway
    key: str


def make_product(info: SandboxInfo, upstream: str, llm_config: dict[str, Any] | None = None) -> Product:
    name = f"m{random.randrange(1 << 30)}"
    sid = _call(info, "POST", "/admin/api/services.json", data={"name": name, "system_name": name})["service"]["id"]
    backend = _call(info, "POST", "/admin/api/backend_apis.json", data={"name": name, "private_endpoint": upstream})
    _call(
        info,
        "POST",
        f"/admin/api/services/{sid}/backend_usages.json",
        data={"backend_api_id": backend["backend_api"]["id"], "path": "/"},
    )
    metrics = _call(info, "GET", f"/admin/api/services/{sid}/metrics.json")["metrics"]
    hits = next(m["metric"]["id"] for m in metrics if m["metric"]["system_name"] == "hits")
    for token in FIELDS:
        _call(
            info,
            "POST",
            f"/admin/api/services/{sid}/metrics.json",
            data={"friendly_name": token, "system_name": token, "unit": "token"},
        )
    _call(
        info,
        "POST",
        f"/admin/api/services/{sid}/proxy/mapping_rules.json",
        data={"http_method": "POST", "pattern": "/", "metric_id": hits, "delta": 1},
    )
    _call(info, "PUT", f"/admin/api/services/{sid}/proxy.json", data={"credentials_location": "authorization"})
    chain = [
        {"name": "llm-metrics", "version": "1.0.0", "configuration": llm_config or {}, "enabled": True},
        {"name": "apicast", "version": "builtin", "configuration": {}, "enabled": True},
    ]
    _call(info, "PUT", f"/admin/api/services/{sid}/proxy/policies.json", data={"policies_config": json.dumps(chain)})
    _call(info, "POST", f"/admin/api/services/{sid}/proxy/deploy.json")
    plan = _call(
        info,
        "POST",
        f"/admin/api/services/{sid}/application_plans.json",
        data={"name": "Basic", "system_name": f"basic{sid}", "state_event": "publish"},
    )["application_plan"]
    account = _call(
        info,
        "POST",
        "/admin/api/signup.json",
        data={"org_name": name, "username": name, "email": f"{name}@example.com", "password": "pw123456!"},
    )
    app = _call(
        info,
        "POST",
        f"/admin/api/accounts/{account['account']['id']}/applications.json",
        data={"plan_id": plan["id"], "name": name},
    )["application"]
    latest = _call(info, "GET", f"/admin/api/services/{sid}/proxy/configs/sandbox/latest.json")
    _call(
        info,
        "POST",
        f"/admin/api/services/{sid}/proxy/configs/sandbox/{latest['proxy_config']['version']}/promote.json",
        data={"to": "production"},
    )
    endpoint = _call(info, "GET", f"/admin/api/services/{sid}/proxy.json")["proxy"]["endpoint"]
    return Product(sid, name, endpoint, app["user_key"])


@pytest.fixture(scope="module")
def models(sb: SandboxInfo) -> tuple[str, str]:
    ids = lb.served_model_ids(sb)
    return next(i for i in ids if "embed" not in i), next(i for i in ids if "embed" in i)


# -- scraping ------------------------------------------------------------------------------------------------
def scrape(info: SandboxInfo) -> Series:
    resp = requests.get(info.admin_url + "/metrics", timeout=10)  # no credentials, like APIcast's metrics port
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    series: Series = {}
    for family in text_string_to_metric_families(resp.text):
        for sample in family.samples:
            series[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return series


def of_service(series: Series, name: str, product: Product) -> dict[frozenset[tuple[str, str]], float]:
    """Samples of one metric for one product (by service_id label)."""
    return {labels: v for (n, labels), v in series.items() if n == name and ("service_id", str(product.id)) in labels}


def token_labels(product: Product, model: str) -> frozenset[tuple[str, str]]:
    return frozenset(
        {
            ("service_id", str(product.id)),
            ("service_system_name", product.system_name),
            ("application_id", ""),
            ("model", model),
        }
    )


def chat(product: Product, model: str, **extra: Any) -> requests.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "Hello there"}], "max_tokens": 8, **extra}
    return requests.post(
        product.url + "/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {product.key}"},
        timeout=30,
        stream=bool(extra.get("stream")),
    )


def streamed_usage(resp: requests.Response) -> tuple[dict[str, int], str]:
    usage, model = None, ""
    for line in resp.iter_lines():
        if line.startswith(b"data: ") and line != b"data: [DONE]":
            event = json.loads(line[6:])
            if event.get("usage"):
                usage, model = event["usage"], event["model"]
    assert usage is not None
    return usage, model


def add(expected: dict[str, dict[str, int]], model: str, usage: dict[str, int]) -> None:
    for f in FIELDS:
        if usage.get(f, 0) > 0:  # only values > 0 count, as in the Lua policy
            expected.setdefault(f, {})
            expected[f][model] = expected[f].get(model, 0) + usage[f]


# -- tests ---------------------------------------------------------------------------------------------------
def test_token_counters_equal_the_usage_of_chat_streaming_and_embeddings(
    sb: SandboxInfo, models: tuple[str, str]
) -> None:
    chat_model, embed_model = models
    product = make_product(sb, sb.models_url)
    expected: dict[str, dict[str, int]] = {}
    for _ in range(2):
        resp = chat(product, chat_model)
        assert resp.status_code == 200
        add(expected, resp.json()["model"], resp.json()["usage"])
    with chat(product, chat_model, stream=True) as resp:
        assert resp.status_code == 200
        usage, model = streamed_usage(resp)
        add(expected, model, usage)
    resp = requests.post(
        product.url + "/v1/embeddings",
        json={"model": embed_model, "input": "hello tokens"},
        headers={"Authorization": f"Bearer {product.key}"},
        timeout=30,
    )
    assert resp.status_code == 200
    add(expected, resp.json()["model"], resp.json()["usage"])
    assert expected["prompt_tokens"] and expected["total_tokens"]

    series = scrape(sb)
    for f in FIELDS:
        want = {token_labels(product, model): float(v) for model, v in expected.get(f, {}).items()}
        assert of_service(series, COUNTERS[f], product) == want, f
    assert of_service(series, "upstream_status", product) == {
        frozenset(
            {("status", "200"), ("service_id", str(product.id)), ("service_system_name", product.system_name)}
        ): 4.0
    }


def test_model_label_false_gives_an_empty_model(sb: SandboxInfo, models: tuple[str, str]) -> None:
    product = make_product(sb, sb.models_url, {"model_label": False})
    resp = chat(product, models[0])
    assert resp.status_code == 200
    usage = resp.json()["usage"]
    series = scrape(sb)
    for f in FIELDS:
        assert of_service(series, COUNTERS[f], product) == {token_labels(product, ""): float(usage[f])}


def test_non_200_and_gateway_rejections_count_no_tokens(sb: SandboxInfo, status_upstream: str) -> None:
    product = make_product(sb, status_upstream)
    headers = {"Authorization": f"Bearer {product.key}"}
    assert requests.post(product.url + "/status/500/x", json={}, headers=headers, timeout=10).status_code == 500
    assert requests.post(product.url + "/status/400/x", json={}, headers=headers, timeout=10).status_code == 400
    assert requests.post(product.url + "/status/200/x", json={}).status_code == 403  # no credentials
    series = scrape(sb)
    for f in FIELDS:
        assert of_service(series, COUNTERS[f], product) == {}
    statuses = {dict(labels)["status"]: v for labels, v in of_service(series, "upstream_status", product).items()}
    assert statuses == {"500": 1.0, "400": 1.0}  # the gateway's own 403 never reached an upstream

    # the same upstream's 200 does count: the usage body above was ignored for its status alone
    assert requests.post(product.url + "/status/200/x", json={}, headers=headers, timeout=10).status_code == 200
    series = scrape(sb)
    for f in FIELDS:
        assert of_service(series, COUNTERS[f], product) == {token_labels(product, "scripted"): float(STATUS_USAGE[f])}
