"""The gateway against a scripted upstream on loopback that can misbehave on request: token-quota
reservations are released on every way an exchange ends (issues 3 and 8).

The upstream is a plain-socket HTTP/1.1 server; the header `X-Script` picks its behaviour: `ok` (JSON with
usage), `error404`, `drop` (close without answering), `cut` (a stream cut mid-way), `hang` (answer nothing
until the gateway goes away). A chat request with `max_tokens` 1000 reserves more than the app's whole
1000-token quota, so while one is in flight — or if one leaked — every other request gets 429.
"""

from __future__ import annotations

import json
import random
import re
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from maas_sandbox.control import SandboxInfo

MANIFEST = Path(__file__).resolve().parents[2] / "policies" / "llm-metrics" / "1.0.0" / "apicast-policy.json"
USAGE = {"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10}
CHAT = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1000}).encode()


# -- the scripted upstream ------------------------------------------------------------------------------
@dataclass
class Upstream:
    url: str
    targets: list[str] = field(default_factory=list)  # request targets as received, in order
    hanging: threading.Event = field(default_factory=threading.Event)  # a `hang` request arrived
    released: threading.Event = field(default_factory=threading.Event)  # the gateway closed a hung request


def _answer(status: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers), f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class _Handler(socketserver.BaseRequestHandler):
    upstream: Upstream

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(10)
        buffer = b""
        while True:
            while b"\r\n\r\n" not in buffer:
                data = sock.recv(65536)
                if not data:
                    return
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
            length = int(headers.get("content-length", "0"))
            while len(buffer) < length:
                buffer += sock.recv(65536)
            buffer = buffer[length:]
            self.upstream.targets.append(lines[0].split(" ")[1])
            script = headers.get("x-script", "ok")
            if script == "ok":
                body = json.dumps({"object": "chat.completion", "choices": [], "usage": USAGE}).encode()
                sock.sendall(_answer("200 OK", [("Content-Type", "application/json")], body))
            elif script == "error404":
                body = b'{"error": {"message": "no such model", "code": 404}}'
                sock.sendall(_answer("404 Not Found", [("Content-Type", "application/json")], body))
            elif script == "cut":
                event = b'data: {"choices": [{"delta": {"content": "he"}}]}\n\n'
                sock.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + b"%x\r\n%b\r\n" % (len(event), event)
                )
                return  # closed mid-stream: no usage event, no last chunk
            elif script == "hang":
                self.upstream.hanging.set()
                try:
                    while sock.recv(1):  # until the gateway closes its side
                        pass
                except OSError:
                    pass
                self.upstream.released.set()
                return
            else:  # drop
                return


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    scripted = Upstream(f"http://127.0.0.1:{server.server_address[1]}")
    _Handler.upstream = scripted
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield scripted
    finally:
        server.shutdown()
        server.server_close()


# -- a product in front of it ------------------------------------------------------------------------------
class Admin:
    def __init__(self, info: SandboxInfo) -> None:
        self.info = info
        self.session = requests.Session()

    def call(self, method: str, path: str, **kw: Any) -> Any:
        params = {"access_token": self.info.admin_token, **kw.pop("params", {})}
        resp = self.session.request(method, self.info.admin_url + path, params=params, timeout=30, **kw)
        assert resp.status_code in (200, 201), f"{method} {path}: {resp.status_code} {resp.text[:300]}"
        return resp.json() if resp.content else None


@dataclass
class Gateway:
    url: str
    key: str
    app_id: int
    admin: Admin

    def send(self, script: str, path: str = "/v1/chat/completions", body: bytes = CHAT) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json", "X-Script": script}
        return requests.post(self.url + path, data=body, headers=headers, timeout=30)

    def raw(self, script: str, target: str = "/v1/chat/completions") -> socket.socket:
        """Send a chat request on a plain socket and return it unread (for cuts and disconnects)."""
        host, port = self.url.removeprefix("http://").split(":")
        sock = socket.create_connection((host, int(port)), timeout=10)
        sock.sendall(
            f"POST {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {self.key}\r\n"
            f"Content-Type: application/json\r\nX-Script: {script}\r\nContent-Length: {len(CHAT)}\r\n\r\n".encode()
            + CHAT
        )
        return sock

    def tokens_recorded(self) -> int:
        body = self.admin.call(  # eternity: from 1970 to now, wherever other tests put the clock
            "GET",
            f"/stats/applications/{self.app_id}/usage.json",
            params={"metric_name": "total_tokens", "period": "eternity"},
        )
        return int(body["total"])


@dataclass
class Product:
    admin: Admin
    staging: str
    plan_id: int
    account_id: int

    def new_app(self) -> Gateway:
        app = self.admin.call(
            "POST",
            f"/admin/api/accounts/{self.account_id}/applications.json",
            data={"plan_id": self.plan_id, "name": f"app{random.randrange(1 << 30)}"},
        )["application"]
        return Gateway(self.staging, app["user_key"], app["id"], self.admin)


def _build(admin: Admin, upstream_url: str) -> Product:
    name = f"scripted{random.randrange(1 << 30)}"
    sid = admin.call("POST", "/admin/api/services.json", data={"name": name, "system_name": name})["service"]["id"]
    backend = admin.call("POST", "/admin/api/backend_apis.json", data={"name": name, "private_endpoint": upstream_url})
    admin.call(
        "POST",
        f"/admin/api/services/{sid}/backend_usages.json",
        data={"backend_api_id": backend["backend_api"]["id"], "path": "/"},
    )
    metric = admin.call(
        "POST",
        f"/admin/api/services/{sid}/metrics.json",
        data={"friendly_name": "Total tokens", "system_name": "total_tokens", "unit": "token"},
    )["metric"]
    metrics = admin.call("GET", f"/admin/api/services/{sid}/metrics.json")["metrics"]
    hits = next(m["metric"]["id"] for m in metrics if m["metric"]["system_name"] == "hits")
    admin.call(
        "POST",
        f"/admin/api/services/{sid}/proxy/mapping_rules.json",
        data={"http_method": "POST", "pattern": "/", "metric_id": hits, "delta": 1},
    )
    admin.call("PUT", f"/admin/api/services/{sid}/proxy.json", data={"credentials_location": "authorization"})
    quota = {
        "name": "llm-metrics",
        "version": "1.0.0",
        "enabled": True,
        "configuration": {
            "rules": [{"metric": "total_tokens", "usage": "total_tokens"}],
            "quota": {"enabled": True, "metrics": ["total_tokens"]},
        },
    }
    apicast = {"name": "apicast", "version": "builtin", "enabled": True, "configuration": {}}
    admin.call(
        "PUT", f"/admin/api/services/{sid}/proxy/policies.json", data={"policies_config": json.dumps([quota, apicast])}
    )
    admin.call("POST", f"/admin/api/services/{sid}/proxy/deploy.json")
    plan = admin.call(
        "POST",
        f"/admin/api/services/{sid}/application_plans.json",
        data={"name": name, "system_name": name, "state_event": "publish"},
    )["application_plan"]
    admin.call(
        "POST",
        f"/admin/api/application_plans/{plan['id']}/metrics/{metric['id']}/limits.json",
        data={"period": "eternity", "value": 1000},
    )
    account = admin.call(
        "POST",
        "/admin/api/signup.json",
        data={"org_name": name, "username": name, "email": f"{name}@example.com", "password": "pw-Scripted-1"},
    )["account"]
    staging = admin.call("GET", f"/admin/api/services/{sid}/proxy.json")["proxy"]["sandbox_endpoint"]
    return Product(admin, staging, plan["id"], account["id"])


@pytest.fixture(scope="module")
def product(sandbox: SandboxInfo, upstream: Upstream) -> Product:
    admin = Admin(sandbox)
    registry = admin.call("GET", "/admin/api/registry/policies.json")
    if "llm-metrics" not in {p["policy"]["name"] for p in registry.get("policies", [])}:
        admin.call(
            "POST",
            "/admin/api/registry/policies.json",
            json={"name": "llm-metrics", "version": "1.0.0", "schema": json.loads(MANIFEST.read_text())},
        )
    return _build(admin, upstream.url)


@pytest.fixture
def gateway(product: Product) -> Gateway:
    """A fresh application per test: a reservation leaked by one test cannot fail the next."""
    return product.new_app()


def _admitted_again(gateway: Gateway) -> requests.Response:
    """A normal request, retried briefly while the gateway finishes tearing down the previous exchange."""
    deadline = time.monotonic() + 5
    while True:
        resp = gateway.send("ok")
        if resp.status_code != 429 or time.monotonic() > deadline:
            return resp
        time.sleep(0.02)


# -- tests ---------------------------------------------------------------------------------------------
def test_a_request_in_flight_holds_its_reservation_and_a_client_disconnect_releases_it(
    gateway: Gateway, upstream: Upstream
) -> None:
    assert gateway.send("ok").status_code == 200
    upstream.hanging.clear()
    upstream.released.clear()
    hung = gateway.raw("hang")
    try:
        assert upstream.hanging.wait(10)
        refused = gateway.send("ok")  # 10 used + 1000+ reserved ≥ 1000
        assert (refused.status_code, refused.text) == (429, "Usage limit exceeded")
        assert refused.headers["Retry-After"] == "1"  # only in-flight tokens stand in the way
    finally:
        hung.close()  # the client goes away while the upstream is still working
    assert upstream.released.wait(10), "the gateway did not close the upstream of a vanished client"
    assert _admitted_again(gateway).status_code == 200


@pytest.mark.parametrize("script", ["error404", "drop"])
def test_non_200_and_upstream_failure_release_the_reservation(gateway: Gateway, script: str) -> None:
    before = gateway.tokens_recorded()
    failed = gateway.send(script)
    assert failed.status_code == (404 if script == "error404" else 502)
    assert gateway.send("ok").status_code == 200  # at once: released before the answer was written
    assert gateway.tokens_recorded() == before + USAGE["total_tokens"]  # the failure reported nothing


def test_a_stream_cut_mid_way_releases_the_reservation(gateway: Gateway) -> None:
    before = gateway.tokens_recorded()
    sock = gateway.raw("cut")
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    finally:
        sock.close()
    assert received.startswith(b"HTTP/1.1 200 OK") and b"data: " in received
    assert not received.endswith(b"0\r\n\r\n")  # the client saw the cut, not a clean end
    assert gateway.send("ok").status_code == 200
    assert gateway.tokens_recorded() == before + USAGE["total_tokens"]


def test_pipelined_requests_are_answered_in_order_and_garbage_after_them_last(gateway: Gateway) -> None:
    # Reading stays on while a request is served (to notice clients that leave), so pipelined requests
    # and unparseable bytes arrive early; the answers must still come one by one, in order.
    one = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {gateway.key}\r\n"
        "Content-Type: application/json\r\nX-Script: SCRIPT\r\nContent-Length: 2\r\n\r\n{}"
    )
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        pipeline = one.replace("SCRIPT", "ok") + one.replace("SCRIPT", "error404") + "NOT HTTP AT ALL\r\n\r\n"
        sock.sendall(pipeline.encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", received)
    assert statuses == [b"200", b"404", b"400"]


# -- the path forwarded is the path matched ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("sent", "forwarded"),
    [
        ("/x/../v1/chat/completions?a=1", "/v1/chat/completions?a=1"),
        ("/v1//chat/./completions", "/v1/chat/completions"),
        ("/v1/chat/%63ompletions", "/v1/chat/completions"),
        ("/%2e%2e/v1/chat/completions", "/v1/chat/completions"),
        # normal paths travel byte for byte, query untouched
        ("/v1/chat/completions", "/v1/chat/completions"),
        ("/v1/chat/completions;v=2/x-y_z~?q=%2F&q=a+b&empty", "/v1/chat/completions;v=2/x-y_z~?q=%2F&q=a+b&empty"),
        ("/v1/chat/completions/caf%C3%A9/%FF%20x", "/v1/chat/completions/caf%C3%A9/%FF%20x"),
    ],
)
def test_the_upstream_receives_the_normalised_path_it_was_counted_for(
    gateway: Gateway, upstream: Upstream, sent: str, forwarded: str
) -> None:
    sock = gateway.raw("ok", target=sent)
    try:
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")
    finally:
        sock.close()
    assert upstream.targets[-1] == forwarded
