"""The gateway against a scripted upstream on loopback that can misbehave on request: token-quota
reservations are released on every way an exchange ends, and upstream timeouts behave as nginx's under
APIcast (issues 3 and 8).

The upstream is a plain-socket HTTP/1.1 server; the header `X-Script` picks its behaviour: `ok` (JSON with
usage), `error404`, `drop` (close without answering), `drop-reused` (close without answering unless it is
the connection's first request, else `ok`), `cut` (a stream cut mid-way), `hang` (answer nothing
until the gateway goes away), `hang-mid` (a stream that stops mid-way and stays open), `slow` (a stream with
one event every 0.2 s). A chat request with `max_tokens` 600 is admitted alone against the app's 1000-token
quota (its bound, body bytes + 600, fits: issue 28) and reserves that bound while in flight, so while one is in
flight — or if one leaked — every other request gets 429.

The timeout tests run their own sandbox with a 0.5 s read timeout and a 0.3 s connect timeout, set in the
environment the sandbox process inherits.
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

from maas_sandbox import control
from maas_sandbox.control import SandboxInfo
from maas_sandbox.gateway.config import (
    CONNECT_TIMEOUT_ENV,
    DEFAULT_UPSTREAM_TIMEOUT,
    READ_TIMEOUT_ENV,
    compile_content,
)

from harness.admin import Admin
from harness.sandbox import start

MANIFEST = Path(__file__).resolve().parents[2] / "policies" / "llm-metrics" / "1.0.0" / "apicast-policy.json"
USAGE = {"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10}
CHAT = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 600}).encode()
READ_TIMEOUT = 0.5
CONNECT_TIMEOUT = 0.3
SLOW_EVENTS, SLOW_EVERY = 6, 0.2  # 1.2 s of stream, never silent for READ_TIMEOUT


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


STREAM_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


def _event(payload: dict[str, Any]) -> bytes:
    return _chunk(b"data: " + json.dumps(payload).encode() + b"\n\n")


def _wait_for_close(upstream: Upstream, sock: socket.socket) -> None:
    """Hold the request open, answering nothing more, until the gateway closes its side."""
    try:
        while sock.recv(1):
            pass
    except OSError:
        pass
    upstream.released.set()


class _Handler(socketserver.BaseRequestHandler):
    upstream: Upstream

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(10)
        buffer = b""
        served = 0  # requests received on this connection
        while True:
            while b"\r\n\r\n" not in buffer:
                try:
                    data = sock.recv(65536)
                except TimeoutError:  # a pooled keep-alive connection the gateway left idle: end it quietly
                    return
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
            served += 1
            script = headers.get("x-script", "ok")
            if script == "drop-reused":  # closed unanswered on a kept-alive connection, answered on a new one
                if served > 1:
                    return
                script = "ok"
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
                _wait_for_close(self.upstream, sock)
                return
            elif script == "hang-mid":
                sock.sendall(STREAM_HEAD + _event({"choices": [{"delta": {"content": "he"}}]}))
                self.upstream.hanging.set()
                _wait_for_close(self.upstream, sock)
                return
            elif script == "slow":
                sock.sendall(STREAM_HEAD)
                for i in range(SLOW_EVENTS):
                    time.sleep(SLOW_EVERY)  # the pace under test: each gap well inside the read timeout
                    last = i == SLOW_EVENTS - 1
                    sock.sendall(
                        _event({"choices": [{"delta": {"content": str(i)}}], "usage": USAGE if last else None})
                    )
                sock.sendall(_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
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
        body = self.admin.call(  # monthly buckets over a wide range, wherever other tests put the clock
            "GET",
            f"/stats/applications/{self.app_id}/usage.json",
            params={"metric_name": "total_tokens", "granularity": "month", "since": "2000-01-01",
                    "until": "2099-12-31"},
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


def _register_llm_metrics(admin: Admin) -> None:
    registry = admin.call("GET", "/admin/api/registry/policies.json")
    if "llm-metrics" not in {p["policy"]["name"] for p in registry.get("policies", [])}:
        admin.call(
            "POST",
            "/admin/api/registry/policies.json",
            json={"name": "llm-metrics", "version": "1.0.0", "schema": json.loads(MANIFEST.read_text())},
        )


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
    _register_llm_metrics(admin)
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
        refused = gateway.send("ok")  # 10 used + 600+ reserved + 600+ asked > 1000
        assert refused.status_code == 429
        assert refused.json()["error"]["message"].startswith("Token quota of your plan reached: 1000 total_tokens "
                                                             "in total. Retry after 1 second.")
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


def test_a_pooled_connection_closed_by_the_upstream_is_retried_once_on_a_new_one(
    gateway: Gateway, upstream: Upstream
) -> None:
    """A kept-alive upstream connection closed before any byte of the response (gateway/upstream.py `Stale`)
    is retried on a new connection: the client gets the one answer, counted once. nginx, which APIcast runs
    on, does the same: src/http/ngx_http_upstream.c `ngx_http_upstream_next` gives a request whose cached
    (keepalive) connection failed one more try (`u->peer.tries++`)."""
    assert gateway.send("ok").status_code == 200  # leaves a kept-alive connection in the gateway's pool
    before, tokens = len(upstream.targets), gateway.tokens_recorded()
    retried = gateway.send("drop-reused")
    assert retried.status_code == 200
    assert upstream.targets[before:] == ["/v1/chat/completions"] * 2  # dropped on the pooled one, then answered
    assert gateway.tokens_recorded() == tokens + USAGE["total_tokens"]
    assert gateway.send("ok").status_code == 200  # nothing left reserved


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
    assert gateway.send("ok").status_code == 200  # the cut stream's reservation was released
    # The cut stream carried no usage, so it is counted by llm-metrics' documented estimate (policies/llm-metrics
    # README): request bytes / 4 rounded up, plus one completion token per SSE data event (one was sent).
    estimate = -(-len(CHAT) // 4) + 1
    assert gateway.tokens_recorded() == before + estimate + USAGE["total_tokens"]


def test_pipelined_requests_are_answered_in_order_and_garbage_after_them_last(gateway: Gateway) -> None:
    # Reading stays on while a request is served (to notice clients that leave), so pipelined requests
    # and unparseable bytes arrive early; the answers must still come one by one, in order.
    one = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {gateway.key}\r\n"
        "Content-Type: application/json\r\nX-Script: SCRIPT\r\nContent-Length: 16\r\n\r\n{\"max_tokens\":8}"
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


# -- upstream timeouts (nginx's proxy_connect_timeout / proxy_read_timeout) ------------------------------------
@pytest.fixture(scope="module")
def timeout_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    """A sandbox of its own whose gateway compiles configs with small upstream timeouts."""
    with pytest.MonkeyPatch.context() as env:  # control.up hands its environment to the sandbox process
        env.setenv(READ_TIMEOUT_ENV, str(READ_TIMEOUT))
        env.setenv(CONNECT_TIMEOUT_ENV, str(CONNECT_TIMEOUT))
        info = start(tmp_path_factory.mktemp("timeouts") / "state")
    try:
        admin = Admin(info)
        _register_llm_metrics(admin)
        yield admin
    finally:
        control.down(info.state_dir)


@pytest.fixture(scope="module")
def timeout_product(timeout_admin: Admin, upstream: Upstream) -> Product:
    return _build(timeout_admin, upstream.url)


@pytest.fixture
def timed(timeout_product: Product) -> Gateway:
    return timeout_product.new_app()


@pytest.fixture
def unanswering_upstream() -> Iterator[str]:
    """A loopback listener whose accept queue is full: the kernel drops further SYNs, so connecting hangs."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    fillers: list[socket.socket] = []
    try:
        for _ in range(4):  # more than the queue holds; the ones beyond it stay in SYN-SENT
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex(address)
            fillers.append(filler)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(CONNECT_TIMEOUT)
            try:
                probe.connect(address)
            except TimeoutError:
                pass
            else:
                pytest.skip("this kernel completes connections beyond a full accept queue")
        yield f"http://{address[0]}:{address[1]}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def _read_until(sock: socket.socket, marker: bytes) -> bytes:
    received = b""
    while marker not in received:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before {marker!r}: {received!r}"
        received += chunk
    return received


def test_an_upstream_silent_before_its_headers_gets_504_after_the_read_timeout_and_the_reservation_back(
    timed: Gateway, upstream: Upstream
) -> None:
    before = timed.tokens_recorded()
    upstream.released.clear()
    started = time.monotonic()
    resp = timed.send("hang")
    elapsed = time.monotonic() - started
    assert resp.status_code == 504
    assert resp.headers["Content-Type"] == "text/html"  # nginx's own error page, as APIcast sends it
    assert "<title>504 Gateway Time-out</title>" in resp.text and "openresty" in resp.text
    assert READ_TIMEOUT <= elapsed < READ_TIMEOUT + 2, elapsed
    assert upstream.released.wait(5), "the gateway kept the timed-out upstream connection open"
    assert timed.send("ok").status_code == 200  # at once: a leaked 600-token reservation would make it 429
    assert timed.tokens_recorded() == before + USAGE["total_tokens"]


def test_an_upstream_silent_mid_stream_has_the_client_connection_closed(timed: Gateway, upstream: Upstream) -> None:
    upstream.released.clear()
    sock = timed.raw("hang-mid")
    try:
        received = _read_until(sock, b'"he"')
        first_event = time.monotonic()
        assert received.startswith(b"HTTP/1.1 200 OK")
        while chunk := sock.recv(65536):
            received += chunk
        silent = time.monotonic() - first_event
    finally:
        sock.close()
    assert not received.endswith(b"0\r\n\r\n")  # cut, not a clean end the client could mistake for complete
    assert READ_TIMEOUT * 0.8 <= silent < READ_TIMEOUT + 2, silent
    assert upstream.released.wait(5)
    assert timed.send("ok").status_code == 200


def test_a_slow_but_steady_stream_is_not_cut(timed: Gateway) -> None:
    before = timed.tokens_recorded()
    started = time.monotonic()
    resp = timed.send("slow")
    elapsed = time.monotonic() - started
    assert resp.status_code == 200
    assert elapsed >= SLOW_EVENTS * SLOW_EVERY > 2 * READ_TIMEOUT  # the whole stream outlasts the timeout twice
    contents = [json.loads(line[6:])["choices"][0]["delta"]["content"] for line in resp.text.split("\n\n")[:-2]]
    assert contents == [str(i) for i in range(SLOW_EVENTS)]
    assert resp.text.endswith("data: [DONE]\n\n")
    assert timed.tokens_recorded() == before + USAGE["total_tokens"]  # the usage on the last event counted


def test_an_upstream_that_cannot_be_connected_to_in_time_gets_502_and_the_reservation_back(
    timeout_admin: Admin, unanswering_upstream: str
) -> None:
    gateway = _build(timeout_admin, unanswering_upstream).new_app()
    for _ in range(2):  # the second one proves the first gave its 600-token reservation back (else 429)
        started = time.monotonic()
        resp = gateway.send("ok")
        elapsed = time.monotonic() - started
        assert resp.status_code == 502
        assert resp.headers["Content-Type"] == "text/html"
        assert "<title>502 Bad Gateway</title>" in resp.text
        assert CONNECT_TIMEOUT <= elapsed < CONNECT_TIMEOUT + 2, elapsed


@pytest.mark.parametrize(
    ("read", "connect", "expected"),
    [
        (None, None, (DEFAULT_UPSTREAM_TIMEOUT, DEFAULT_UPSTREAM_TIMEOUT)),
        ("0.25", "3", (0.25, 3.0)),
        ("soon", "-1", (DEFAULT_UPSTREAM_TIMEOUT, DEFAULT_UPSTREAM_TIMEOUT)),  # unusable values: the default
        ("0", "nan", (DEFAULT_UPSTREAM_TIMEOUT, DEFAULT_UPSTREAM_TIMEOUT)),
    ],
)
def test_upstream_timeouts_are_read_from_the_environment_when_a_config_is_compiled(
    monkeypatch: pytest.MonkeyPatch, read: str | None, connect: str | None, expected: tuple[float, float]
) -> None:
    for name, value in ((READ_TIMEOUT_ENV, read), (CONNECT_TIMEOUT_ENV, connect)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    product = compile_content({"id": 7, "proxy": {"api_backend": "http://127.0.0.1:9"}}, "sandbox", 1)
    assert (product.read_timeout, product.connect_timeout) == expected
