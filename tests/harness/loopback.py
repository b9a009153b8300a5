"""Products built through the Admin API the way a tenant would, a raw HTTP/1.1 client for odd requests, and
the benchmarks' figure lines. The sandbox start and the Admin client are `harness.sandbox` / `harness.admin`,
re-exported here so `lb.start_sandbox` / `lb.Admin` read as before.

The raw client writes request bytes exactly as given (odd methods, undecoded paths, duplicate headers),
so the gateway sees what a hostile client would send; `requests`/`httpx` would normalise them first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from maas_sandbox.control import SandboxInfo

from harness.admin import LLM_MANIFEST, T0, Admin  # noqa: F401 - lb.T0, lb.Admin, … as before
from harness.sandbox import start

CORS = {
    "name": "cors",
    "version": "builtin",
    "enabled": True,
    "configuration": {"allow_headers": ["Authorization", "Content-type", "Accept"], "allow_origin": "*"},
}
APICAST = {"name": "apicast", "version": "builtin", "configuration": {}, "enabled": True}


def llm_metrics(quota_metrics: list[str] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if quota_metrics:
        config["quota"] = {"enabled": True, "metrics": quota_metrics}
    return {"name": "llm-metrics", "version": "1.0.0", "configuration": config, "enabled": True}


# -- sandbox ---------------------------------------------------------------------------------------------
def start_sandbox(state_dir: Path, port: int | None = None) -> SandboxInfo:
    return start(state_dir, port)


@dataclass
class App:
    id: int
    key: str
    plan_id: int


@dataclass
class Product:
    admin: Admin
    id: int
    name: str
    staging: str
    production: str
    account_id: int = 0
    metrics: dict[str, int] = field(default_factory=dict)
    plans: dict[str, int] = field(default_factory=dict)
    apps: list[App] = field(default_factory=list)

    def plan(self, name: str) -> int:
        if name not in self.plans:
            plan = self.admin.call(
                "POST", f"/admin/api/services/{self.id}/application_plans.json",
                data={"name": name, "system_name": f"{name}-{self.id}", "state_event": "publish"},
            )["application_plan"]
            self.plans[name] = plan["id"]
        return self.plans[name]

    def limit(self, plan: str, metric: str, period: str, value: int) -> None:
        self.admin.call(
            "POST", f"/admin/api/application_plans/{self.plan(plan)}/metrics/{self.metrics[metric]}/limits.json",
            data={"period": period, "value": value},
        )

    def new_app(self, plan: str = "basic") -> App:
        body = self.admin.call(
            "POST", f"/admin/api/accounts/{self.account_id}/applications.json",
            data={"plan_id": self.plan(plan), "name": f"app-{random.randrange(1 << 30)}"},
        )["application"]
        app = App(body["id"], body["user_key"], self.plan(plan))
        self.apps.append(app)
        return app

    def suspend(self, app: App) -> None:
        self.admin.call("PUT", f"/admin/api/accounts/{self.account_id}/applications/{app.id}/suspend.json")

    def delete(self, app: App) -> None:
        self.admin.call("DELETE", f"/admin/api/accounts/{self.account_id}/applications/{app.id}.json")

    def promote(self) -> None:
        latest = self.admin.call("GET", f"/admin/api/services/{self.id}/proxy/configs/sandbox/latest.json")
        version = latest["proxy_config"]["version"]
        self.admin.call(
            "POST", f"/admin/api/services/{self.id}/proxy/configs/sandbox/{version}/promote.json",
            data={"to": "production"},
        )


def build_product(
    admin: Admin,
    *,
    credentials: str = "authorization",
    auth_user_key: str = "user_key",
    chain: list[dict[str, Any]] | None = None,
    promote: bool = True,
    keep_default_rule: bool = False,
) -> Product:
    """An OpenAI-shaped product: GET /v1/models → models, POST /v1/chat/completions → chat (both under hits),
    token metrics, one published plan `basic`, one developer account, deployed (and promoted)."""
    name = f"p{random.randrange(1 << 30)}"
    svc = admin.call("POST", "/admin/api/services.json", data={"name": name, "system_name": name})["service"]
    sid = svc["id"]
    proxy = admin.call("GET", f"/admin/api/services/{sid}/proxy.json")["proxy"]
    product = Product(admin, sid, name, proxy["sandbox_endpoint"], proxy["endpoint"])
    backend = admin.call(
        "POST", "/admin/api/backend_apis.json",
        data={"name": name + "-b", "private_endpoint": admin.info.models_url},
    )["backend_api"]
    admin.call(
        "POST", f"/admin/api/services/{sid}/backend_usages.json", data={"backend_api_id": backend["id"], "path": "/"}
    )
    for metric in admin.call("GET", f"/admin/api/services/{sid}/metrics.json")["metrics"]:
        product.metrics[metric["metric"]["system_name"]] = metric["metric"]["id"]
    for token in ("prompt_tokens", "completion_tokens", "total_tokens"):
        created = admin.call(
            "POST", f"/admin/api/services/{sid}/metrics.json",
            data={"friendly_name": token, "system_name": token, "unit": "token"},
        )["metric"]
        product.metrics[token] = created["id"]
    for friendly, system in (("Chat", "chat"), ("Models", "models")):
        created = admin.call(
            "POST", f"/admin/api/services/{sid}/metrics/{product.metrics['hits']}/methods.json",
            data={"friendly_name": friendly, "system_name": system},
        )["method"]
        product.metrics[system] = created["id"]
    if not keep_default_rule:  # 3scale gives a new product `GET /` → hits, which matches every GET
        for rule in admin.call("GET", f"/admin/api/services/{sid}/proxy/mapping_rules.json")["mapping_rules"]:
            admin.call("DELETE", f"/admin/api/services/{sid}/proxy/mapping_rules/{rule['mapping_rule']['id']}.json")
    for verb, pattern, metric in (("POST", "/v1/chat/completions", "chat"), ("GET", "/v1/models", "models")):
        admin.call(
            "POST", f"/admin/api/services/{sid}/proxy/mapping_rules.json",
            data={"http_method": verb, "pattern": pattern, "metric_id": product.metrics[metric], "delta": 1},
        )
    admin.call(
        "PUT", f"/admin/api/services/{sid}/proxy.json",
        data={"credentials_location": credentials, "auth_user_key": auth_user_key},
    )
    admin.call(
        "PUT", f"/admin/api/services/{sid}/proxy/policies.json",
        data={"policies_config": json.dumps(chain if chain is not None else [CORS, APICAST])},
    )
    admin.call("POST", f"/admin/api/services/{sid}/proxy/deploy.json")
    product.plan("basic")
    account = admin.call(
        "POST", "/admin/api/signup.json",
        data={"org_name": name, "username": name, "email": f"{name}@example.com", "password": "pw-Loopback-1"},
    )["account"]
    product.account_id = account["id"]
    if promote:
        product.promote()
    return product


def model_server_log(info: SandboxInfo, path: str, method: str = "GET") -> requests.Response:
    """The model server's /sandbox/* request log; it needs the sandbox admin token (maas_sandbox/models/access.py)."""
    return requests.request(method, info.models_url + path, timeout=10,
                            headers={"Authorization": f"Bearer {info.admin_token}"})


def last_model_request(info: SandboxInfo) -> dict[str, Any]:
    """What the gateway forwarded last (method, path, headers, body) as the model server received it."""
    return dict(model_server_log(info, "/sandbox/last-request").json())


def served_model_ids(info: SandboxInfo) -> list[str]:
    """The model server's models (a direct GET /v1/models is refused: only the gateway reaches a model)."""
    return [m["id"] for m in model_server_log(info, "/sandbox/models").json()["data"]]


def model_requests(info: SandboxInfo) -> int:
    """How many requests the model server has received (its own counter, excluding /sandbox/*)."""
    return int(model_server_log(info, "/sandbox/requests").json()["total"])


def chat_model(info: SandboxInfo) -> str:
    return next(m for m in served_model_ids(info) if "embed" not in m)


# -- raw HTTP/1.1 ------------------------------------------------------------------------------------------
@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-cased names, first occurrence
    body: bytes
    extra: bytes = b""  # bytes after a response that must not have a body (HEAD): a protocol error


class RawConnection:
    """One keep-alive client connection that sends bytes as given and reads one response per request."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def exchange(self, raw: bytes, *, head: bool = False) -> Reply:
        """Send one request; HEAD requests and `Connection: close` replies end the connection."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(raw)
        await self.writer.drain()
        try:
            head_block = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            return Reply(0, {}, b"")  # closed without an answer
        status_line, _, header_block = head_block.partition(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        headers: dict[str, str] = {}
        for line in header_block.split(b"\r\n"):
            if b":" in line:
                name, _, value = line.partition(b":")
                headers.setdefault(name.decode("latin-1").strip().lower(), value.decode("latin-1").strip())
        body = b""
        extra = b""
        if head or status in (204, 304):
            if head:
                extra = await self.reader.read()  # we sent Connection: close; anything left is a stray body
                await self.close()
                return Reply(status, headers, b"", extra)
        elif "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                parts.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    break
            body = b"".join(p[:-2] for p in parts)
        else:
            body = await self.reader.read()
            await self.close()
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Reply(status, headers, body, extra)


def request_bytes(method: str, target: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    if method == "HEAD":
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start


def bench_line(name: str, value: float | int | str, unit: str = "", *, target: str = "", ok: bool | None = None) -> str:
    """One machine-readable figure for benchmarks/run_all.py's summary table (a `BENCH {json}` line)."""
    return "BENCH " + json.dumps({"name": name, "value": value, "unit": unit, "target": target, "ok": ok})
