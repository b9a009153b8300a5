"""Issue 13 §4: the gateway bounds requests as nginx does under APIcast (maas_sandbox/gateway/limits.py).

Upstream judges: APIcast's gateway/conf/nginx.conf.liquid (`large_client_header_buffers 4 8k`, no
client_max_body_size) and nginx's defaults (client_header_timeout/client_body_timeout 60s, keepalive_timeout
75s; 414 for a request line over one buffer, 400 "Request Header Or Cookie Too Large" for a header over one).
Own sandbox, with the three timeouts set to 1.5 s through the environment so they can be observed quickly,
and without the test clock (as users run it) for the pacing-header case of §9.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from maas_sandbox import control
from maas_sandbox.control import SandboxInfo

from harness import loopback as lb
from harness.sandbox import start

TIMEOUTS = {"MAAS_GATEWAY_CLIENT_HEADER_TIMEOUT": "1.5", "MAAS_GATEWAY_CLIENT_BODY_TIMEOUT": "1.5",
            "MAAS_GATEWAY_KEEPALIVE_TIMEOUT": "1.5"}
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    saved = {k: os.environ.get(k) for k in TIMEOUTS}
    os.environ.update(TIMEOUTS)
    try:
        # a sandbox as users run it (no test clock): the model server's pacing header is not for its clients
        info = start(tmp_path_factory.mktemp("limits") / "state", test_clock=False)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        yield info
    finally:
        control.down(info.state_dir)


@pytest.fixture(scope="module")
def product(limited: SandboxInfo) -> lb.Product:
    product = lb.build_product(lb.Admin(limited))
    product.new_app()
    return product


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def _rss_mb(info: SandboxInfo) -> float:
    pid = json.loads((Path(info.state_dir) / "runtime.json").read_text())["pid"]
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _stream(url: str, head: bytes, total: int, *, chunked: bool = False) -> tuple[bytes, int]:
    """Send `head` then up to `total` body bytes from one reused 1 MiB buffer; stop when the gateway answers
    or closes. Returns the answer's first bytes and how much body was sent."""
    chunk = b"x" * MIB
    piece = b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk
    sent = 0
    with socket.create_connection(("127.0.0.1", _port(url)), timeout=20) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        answer = b""
        while sent < total:
            try:
                answer += sock.recv(65536)
                if answer:
                    break
            except BlockingIOError:
                pass
            except OSError:
                break
            try:
                sock.setblocking(True)
                sock.sendall(piece)
                sent += len(chunk)
            except OSError:
                break
            finally:
                sock.setblocking(False)
        sock.setblocking(True)
        sock.settimeout(10)
        with contextlib.suppress(OSError):
            answer += sock.recv(65536)
    return answer, sent


def _model_requests(info: SandboxInfo) -> int:
    return lb.model_requests(info)


def test_1gb_body_without_a_key_is_answered_before_it_is_read(limited: SandboxInfo, product: lb.Product) -> None:
    before = _rss_mb(limited)
    # chunked: no declared length (a declared 1 GB is a 413 before anything else, as nginx checks it first)
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    answer, sent = _stream(product.production, head, 1000 * MIB, chunked=True)
    grown = _rss_mb(limited) - before
    print(f"1 GB keyless body: answered after {sent / MIB:.0f} MiB sent, RSS +{grown:.1f} MB")
    assert answer.startswith(b"HTTP/1.1 403 ") and b"Authentication parameters missing" in answer
    assert sent < 1000 * MIB and grown < 50
    # a wrong key with a declared body under the limit: 403 too, before the body
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n"
            b"Content-Length: %d\r\n\r\n" % (15 * MIB))
    answer, sent = _stream(product.production, head, 15 * MIB)
    assert answer.startswith(b"HTTP/1.1 403 ") and b"Authentication failed" in answer and sent < 15 * MIB


def test_1gb_chunked_body_with_a_key_stops_at_the_limit(limited: SandboxInfo, product: lb.Product) -> None:
    before_model = _model_requests(limited)
    before = _rss_mb(limited)
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + product.apps[0].key.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
    answer, sent = _stream(product.production, head, 1000 * MIB, chunked=True)
    grown = _rss_mb(limited) - before
    print(f"1 GB chunked body with a key: 413 after {sent / MIB:.0f} MiB sent, RSS +{grown:.1f} MB")
    assert answer.startswith(b"HTTP/1.1 413 Request Entity Too Large")
    assert sent < 1000 * MIB and grown < 50
    assert _model_requests(limited) == before_model


def test_declared_length_over_the_limit_is_413_at_once(limited: SandboxInfo, product: lb.Product) -> None:
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + product.apps[0].key.encode() + b"\r\nContent-Length: %d\r\n\r\n" % (16 * MIB + 1))
    answer, sent = _stream(product.production, head, 0)
    assert answer.startswith(b"HTTP/1.1 413 ") and sent == 0


def test_a_1mib_prompt_passes(limited: SandboxInfo, product: lb.Product) -> None:
    body = {"model": lb.chat_model(limited), "max_tokens": 1,
            "messages": [{"role": "user", "content": "word " * (MIB // 5)}]}
    before = _model_requests(limited)
    resp = requests.post(product.production + "/v1/chat/completions", json=body, timeout=60,
                         headers={"Authorization": f"Bearer {product.apps[0].key}"})
    # the model's own answer (its context is 2,048 tokens) proves the whole body reached it
    assert resp.status_code != 413 and _model_requests(limited) == before + 1, resp.text[:200]
    assert "maximum context length" in resp.text or resp.status_code == 200


@pytest.mark.parametrize(("what", "extra", "target", "status"), [
    ("16 KB header", [("X-Big", "a" * 16384)], "/v1/models", b"400"),
    ("9 KB request line", [], "/v1/models?" + "q" * 9000, b"414"),
    ("150 headers", [(f"X-H{i}", "v") for i in range(150)], "/v1/models", b"400"),
    ("40 KB header block", [(f"X-H{i}", "v" * 4000) for i in range(10)], "/v1/models", b"400"),
])
def test_oversized_headers_are_refused_and_not_forwarded(limited: SandboxInfo, product: lb.Product, what: str,
                                                        extra: list[tuple[str, str]], target: str,
                                                        status: bytes) -> None:
    before = _model_requests(limited)
    headers = [("Authorization", f"Bearer {product.apps[0].key}"), *extra]
    raw = lb.request_bytes("GET", target, headers)
    answer, _ = _stream(product.production, raw, 0)
    assert answer.startswith(b"HTTP/1.1 " + status), (what, answer[:100])
    assert _model_requests(limited) == before
    ok = requests.get(product.production + "/v1/models", headers={"Authorization": f"Bearer {product.apps[0].key}"},
                      timeout=10)
    assert ok.status_code == 200  # a normal request still passes (8 KB headers are the limit, not less)


@pytest.mark.parametrize("state", ["idle", "half-sent headers", "half-sent body"])
def test_idle_and_half_sent_connections_are_closed(limited: SandboxInfo, product: lb.Product, state: str) -> None:
    auth = b"Authorization: Bearer " + product.apps[0].key.encode() + b"\r\n"
    opening = {"idle": b"", "half-sent headers": b"GET /v1/models HTTP/1.1\r\nHost: x\r\n" + auth,
               "half-sent body": b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + auth
               + b"Content-Length: 10\r\n\r\nabc"}[state]
    with socket.create_connection(("127.0.0.1", _port(product.production)), timeout=10) as sock:
        sock.sendall(opening)
        start = time.monotonic()
        data = sock.recv(65536)  # b"" once the gateway closes
        waited = time.monotonic() - start
    assert data == b"" and 1.0 < waited < 5, (state, data, waited)


def _response(sock: socket.socket) -> bytes:
    """One whole Content-Length response from a kept-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = int(next(line.split(b":")[1] for line in lines if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_keepalive_connection_closes_after_the_idle_timeout(limited: SandboxInfo, product: lb.Product) -> None:
    raw = lb.request_bytes("GET", "/v1/models", [("Authorization", f"Bearer {product.apps[0].key}")])
    with socket.create_connection(("127.0.0.1", _port(product.production)), timeout=10) as sock:
        sock.sendall(raw)
        assert _response(sock).startswith(b"HTTP/1.1 200")
        time.sleep(0.8)
        sock.sendall(raw)  # still open within the timeout: served again
        assert _response(sock).startswith(b"HTTP/1.1 200")
        start = time.monotonic()
        while sock.recv(65536):
            pass
        assert 1.0 < time.monotonic() - start < 5


def test_clients_cannot_set_the_model_servers_pacing_header(limited: SandboxInfo, product: lb.Product) -> None:
    """§9: X-Sandbox-Token-Delay-Ms is honoured by the model server for the sandbox's own tests (a test-clock
    sandbox); through a gateway of a normal sandbox it is dropped like any hop-internal header."""
    requests.get(product.production + "/v1/models", timeout=10, headers={
        "Authorization": f"Bearer {product.apps[0].key}", "X-Sandbox-Token-Delay-Ms": "5000"}).raise_for_status()
    last = lb.last_model_request(limited)
    names = {k.lower() for k, _ in last["raw_headers"]}
    assert "x-sandbox-token-delay-ms" not in names and "authorization" not in names
