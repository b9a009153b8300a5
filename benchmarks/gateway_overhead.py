"""Gateway overhead: the same bounded loopback load, direct to the model server and through a product's
production gateway, in one run. Not a test: prints figures (recorded in docs/performance.md).

    .venv/bin/python benchmarks/gateway_overhead.py [--seconds 5] [--connections 16]

Starts its own sandbox in a temporary state dir, builds a product through the Admin API (authorization
credentials, the kit's chain cors → llm-metrics → apicast), then for each target runs `--connections`
keep-alive connections, each sending `GET /v1/models` back to back for `--seconds`, in a separate process
(so the load generator does not share the sandbox's CPU budget unfairly with itself). Streaming TTFB is
measured with sequential `stream: true` chat requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the shared harness, tests/harness/

from maas_sandbox import control  # noqa: E402

from harness.admin import Admin  # noqa: E402
from harness.ports import find_free_base_port  # noqa: E402
from harness.sandbox import start  # noqa: E402

MANIFEST = Path(__file__).resolve().parents[1] / "policies" / "llm-metrics" / "1.0.0" / "apicast-policy.json"


def admin_call(info: Any, method: str, path: str, **kw: Any) -> Any:
    return Admin(info).call(method, path, **kw)


def secret_token(info: Any) -> str:
    """The bench product's proxy secret token: what the gateway sends upstream, the model server's only key."""
    services = admin_call(info, "GET", "/admin/api/services.json")["services"]
    sid = next(s["service"]["id"] for s in services if s["service"]["system_name"] == "bench")
    return str(admin_call(info, "GET", f"/admin/api/services/{sid}/proxy.json")["proxy"]["secret_token"])


def build_product(info: Any) -> tuple[str, str]:
    """A production endpoint for the model server with the kit's policy chain, and an app key."""
    admin_call(
        info,
        "POST",
        "/admin/api/registry/policies.json",
        json={"name": "llm-metrics", "version": "1.0.0", "schema": json.loads(MANIFEST.read_text())},
    )
    svc = admin_call(info, "POST", "/admin/api/services.json", data={"name": "bench", "system_name": "bench"})[
        "service"
    ]
    sid = svc["id"]
    backend = admin_call(
        info, "POST", "/admin/api/backend_apis.json", data={"name": "models", "private_endpoint": info.models_url}
    )["backend_api"]
    admin_call(info, "POST", f"/admin/api/services/{sid}/backend_usages.json", data={"backend_api_id": backend["id"]})
    for token in ("prompt_tokens", "completion_tokens", "total_tokens"):
        admin_call(
            info, "POST", f"/admin/api/services/{sid}/metrics.json", data={"friendly_name": token, "unit": "token"}
        )
    hits = next(
        m["metric"]["id"]
        for m in admin_call(info, "GET", f"/admin/api/services/{sid}/metrics.json")["metrics"]
        if m["metric"]["system_name"] == "hits"
    )
    admin_call(
        info,
        "POST",
        f"/admin/api/services/{sid}/proxy/mapping_rules.json",
        data={"http_method": "POST", "pattern": "/v1/chat/completions", "metric_id": hits, "delta": 1},
    )
    admin_call(info, "PUT", f"/admin/api/services/{sid}/proxy.json", data={"credentials_location": "authorization"})
    chain = [
        {"name": "cors", "version": "builtin", "configuration": {"allow_origin": "*"}, "enabled": True},
        {"name": "llm-metrics", "version": "1.0.0", "configuration": {}, "enabled": True},
        {"name": "apicast", "version": "builtin", "configuration": {}, "enabled": True},
    ]
    admin_call(
        info, "PUT", f"/admin/api/services/{sid}/proxy/policies.json", data={"policies_config": json.dumps(chain)}
    )
    admin_call(info, "POST", f"/admin/api/services/{sid}/proxy/deploy.json")
    version = admin_call(info, "GET", f"/admin/api/services/{sid}/proxy/configs/sandbox/latest.json")["proxy_config"][
        "version"
    ]
    admin_call(
        info,
        "POST",
        f"/admin/api/services/{sid}/proxy/configs/sandbox/{version}/promote.json",
        data={"to": "production"},
    )
    plan = admin_call(
        info,
        "POST",
        f"/admin/api/services/{sid}/application_plans.json",
        data={"name": "bench", "state_event": "publish"},
    )["application_plan"]
    account = admin_call(
        info,
        "POST",
        "/admin/api/signup.json",
        data={"org_name": "bench", "username": "bench", "email": "bench@example.com", "password": "bench-pw-1!"},
    )["account"]
    app = admin_call(
        info,
        "POST",
        f"/admin/api/accounts/{account['id']}/applications.json",
        data={"plan_id": plan["id"], "name": "b"},
    )["application"]
    production = admin_call(info, "GET", f"/admin/api/services/{sid}/proxy.json")["proxy"]["endpoint"]
    return production, app["user_key"]


# -- load generator (runs in a child process) ---------------------------------------------------------------
class _Client(asyncio.Protocol):
    def __init__(self, request: bytes, deadline: float, latencies: list[float], done: asyncio.Future[None]) -> None:
        import httptools

        self.request, self.deadline, self.latencies, self.done = request, deadline, latencies, done
        self.parser = httptools.HttpResponseParser(self)
        self.errors = 0
        self.sent = 0.0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self._send()

    def _send(self) -> None:
        self.sent = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        now = time.perf_counter()
        if self.parser.get_status_code() != 200:
            self.errors += 1
        self.latencies.append(now - self.sent)
        if now < self.deadline:
            self._send()
        elif not self.done.done():
            self.transport.close()
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def _load(url: str, headers: dict[str, str], connections: int, seconds: float) -> dict[str, Any]:
    parts = urlsplit(url)
    head = f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()
    )
    request = (head + "\r\n").encode()
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    # warm-up: open connections and let pools fill
    deadline = time.perf_counter() + 0.5
    futs, protos = [], []
    for _ in range(connections):
        fut = loop.create_future()
        _, proto = await loop.create_connection(
            lambda f=fut: _Client(request, deadline, [], f), parts.hostname, parts.port
        )
        futs.append(fut)
    await asyncio.gather(*futs)
    start = time.perf_counter()
    deadline = start + seconds
    futs = []
    for _ in range(connections):
        fut = loop.create_future()
        _, proto = await loop.create_connection(
            lambda f=fut: _Client(request, deadline, latencies, f), parts.hostname, parts.port
        )
        protos.append(proto)
        futs.append(fut)
    await asyncio.gather(*futs)
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": sum(p.errors for p in protos),
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def _child(url: str, headers: dict[str, str], connections: int, seconds: float, out: Any) -> None:
    try:
        import uvloop

        out.put(uvloop.run(_load(url, headers, connections, seconds)))
    except ImportError:
        out.put(asyncio.run(_load(url, headers, connections, seconds)))


def run_load(url: str, headers: dict[str, str], connections: int, seconds: float) -> dict[str, Any]:
    queue: Any = multiprocessing.Queue()
    proc = multiprocessing.Process(target=_child, args=(url, headers, connections, seconds, queue))
    proc.start()
    result = queue.get(timeout=seconds + 60)
    proc.join()
    return result


def ttfb(url: str, headers: dict[str, str], model: str, samples: int) -> float:
    """Median time to the first body byte of a streamed chat completion, in ms."""
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "stream": True}
    session = requests.Session()
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        with session.post(url + "/v1/chat/completions", json=body, headers=headers, stream=True, timeout=30) as resp:
            resp.raise_for_status()
            next(resp.iter_content(chunk_size=1))
            times.append(time.perf_counter() - start)
            for _ in resp.iter_content(chunk_size=None):
                pass
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--ttfb-samples", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        info = start(Path(tmp) / "state", find_free_base_port(20), test_clock=False)
        try:
            production, key = build_product(info)
            auth = {"Authorization": f"Bearer {key}"}
            assert requests.get(production + "/v1/models", headers=auth, timeout=10).status_code == 200
            # the model server answers only the gateway (its secret token): "direct" sends that token too
            direct_auth = {"X-3scale-proxy-secret-token": secret_token(info)}
            model = next(
                m["id"]
                for m in requests.get(info.models_url + "/v1/models", headers=direct_auth, timeout=10).json()["data"]
                if "embed" not in m["id"]
            )
            direct = run_load(info.models_url + "/v1/models", direct_auth, args.connections, args.seconds)
            gateway = run_load(production + "/v1/models", auth, args.connections, args.seconds)
            ttfb_direct = ttfb(info.models_url, direct_auth, model, args.ttfb_samples)
            ttfb_gateway = ttfb(production, auth, model, args.ttfb_samples)
        finally:
            control.down(Path(tmp) / "state")
    print(f"load: GET /v1/models, {args.connections} keep-alive connections, {args.seconds:.0f} s per target, loopback")
    for name, r in (("direct", direct), ("gateway", gateway)):
        print(
            f"  {name:8s} {r['rps']:9.0f} req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms  "
            f"({r['requests']} requests, {r['errors']} non-200)"
        )
    added_p50 = gateway["p50_ms"] - direct["p50_ms"]
    added_p99 = gateway["p99_ms"] - direct["p99_ms"]
    print(f"added latency: p50 {added_p50:.2f} ms, p99 {added_p99:.2f} ms")
    print(f"throughput ratio: {gateway['rps'] / direct['rps'] * 100:.0f} % of direct")
    print(
        f"streaming TTFB (median of {args.ttfb_samples}): direct {ttfb_direct:.2f} ms, gateway {ttfb_gateway:.2f} ms, "
        f"added {ttfb_gateway - ttfb_direct:.2f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
