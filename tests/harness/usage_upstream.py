"""A model server on loopback that answers any POST with the usage the test asks for (the raw JSON text of the
`X-Usage` request header, so `1e300` or 2^63−1 arrive exactly as a misbehaving model would send them), and a
product in front of it with the kit's llm-metrics rules: `total_tokens` and `total_tokens_k` (per 1000)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

import requests

from harness.admin import Admin
from harness.ports import serve_http


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        usage = self.headers.get("X-Usage") or '{"total_tokens": 1}'
        body = ('{"id": "c1", "object": "chat.completion", "model": "m", "choices": [{"index": 0, '
                '"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}], '
                f'"usage": {usage}}}').encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@contextmanager
def usage_upstream() -> Iterator[str]:
    with serve_http(_Handler) as url:
        yield url


@dataclass
class UsageProduct:
    admin: Admin
    service_id: int
    endpoint: str
    plan_id: int
    account_id: int

    def new_app(self) -> tuple[int, str]:
        app = self.admin.call("POST", f"/admin/api/accounts/{self.account_id}/applications.json",
                              data={"plan_id": self.plan_id, "name": f"app{random.randrange(1 << 30)}"})["application"]
        return app["id"], app["user_key"]

    def call(self, key: str, usage: str) -> requests.Response:
        return requests.post(self.endpoint + "/v1/chat/completions", timeout=30,
                             headers={"Authorization": f"Bearer {key}", "X-Usage": usage},
                             json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})

    def with_endpoint(self, endpoint: str) -> UsageProduct:
        return UsageProduct(self.admin, self.service_id, endpoint, self.plan_id, self.account_id)


def build_usage_product(admin: Admin, upstream_url: str) -> UsageProduct:
    admin.register_llm_metrics()
    name = f"usage{random.randrange(1 << 30)}"
    sid = admin.call("POST", "/admin/api/services.json", data={"name": name, "system_name": name})["service"]["id"]
    backend = admin.call("POST", "/admin/api/backend_apis.json", data={"name": name, "private_endpoint": upstream_url})
    admin.call("POST", f"/admin/api/services/{sid}/backend_usages.json",
               data={"backend_api_id": backend["backend_api"]["id"], "path": "/"})
    for system_name in ("total_tokens", "total_tokens_k"):
        admin.call("POST", f"/admin/api/services/{sid}/metrics.json",
                   data={"friendly_name": system_name, "system_name": system_name, "unit": "token"})
    hits = next(m["metric"]["id"] for m in admin.call("GET", f"/admin/api/services/{sid}/metrics.json")["metrics"]
                if m["metric"]["system_name"] == "hits")
    admin.call("POST", f"/admin/api/services/{sid}/proxy/mapping_rules.json",
               data={"http_method": "POST", "pattern": "/", "metric_id": hits, "delta": 1})
    admin.call("PUT", f"/admin/api/services/{sid}/proxy.json", data={"credentials_location": "authorization"})
    rules = [{"metric": "total_tokens", "usage": "total_tokens"},
             {"metric": "total_tokens_k", "usage": "total_tokens", "per": 1000}]
    chain = [{"name": "llm-metrics", "version": "1.0.0", "enabled": True, "configuration": {"rules": rules}},
             {"name": "apicast", "version": "builtin", "enabled": True, "configuration": {}}]
    admin.call("PUT", f"/admin/api/services/{sid}/proxy/policies.json", data={"policies_config": json.dumps(chain)})
    admin.call("POST", f"/admin/api/services/{sid}/proxy/deploy.json")
    plan = admin.call("POST", f"/admin/api/services/{sid}/application_plans.json",
                      data={"name": name, "system_name": name, "state_event": "publish"})["application_plan"]
    account = admin.call("POST", "/admin/api/signup.json", data={
        "org_name": name, "username": name, "email": f"{name}@example.com", "password": "pw-Usage-1"})["account"]
    staging = admin.call("GET", f"/admin/api/services/{sid}/proxy.json")["proxy"]["sandbox_endpoint"]
    return UsageProduct(admin, sid, staging, plan["id"], account["id"])
