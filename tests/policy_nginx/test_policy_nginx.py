"""The llm-metrics policy in a real nginx (Debian's nginx + lua module, LuaJIT 2.1 OpenResty branch).

Our harness (lua/harness.lua) runs the policy's phases as APIcast's executor does
(3scale/APIcast gateway/src/apicast/executor.lua, policy_chain.lua, policy.lua): rewrite and access
before proxy_pass, header_filter/body_filter on the real upstream response, post_action in a named
location after the response. Token reports go over HTTP to a fake 3scale backend. Every case of
policies/llm-metrics/cases.json runs here, plus what only real nginx shows: request bodies nginx
spools to a file (64 KiB, 1 MiB), chunks as they really arrive, client disconnects, upstream errors,
batched reports flushed at worker exit.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

CASES = json.loads((Path(__file__).resolve().parents[2] / "policies" / "llm-metrics" / "cases.json").read_text())[
    "cases"
]
CHAT_USAGE = b'{"choices":[],"model":"m1","usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}'


def _bytes(value: str, encoding: str | None) -> bytes:
    return base64.b64decode(value) if encoding == "base64" else value.encode()


def _get(port: int, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path)
    body = conn.getresponse().read()
    conn.close()
    return body


def _post_actions(port: int) -> int:
    return json.loads(_get(port, "/__state"))["post_actions"]


def _settle(port: int, before: int, count: int = 1) -> None:
    """Wait until `count` more post_actions ran, then flush the batched reports to the fake backend."""
    deadline = time.monotonic() + 5
    while _post_actions(port) < before + count:
        assert time.monotonic() < deadline, "post_action did not run"
        time.sleep(0.01)
    _get(port, "/__flush")


def _script(harness: Any, case: dict[str, Any]) -> Any:
    response = case["response"]
    encoding = response.get("body_encoding")
    chunked = "chunks" in response
    chunks = [_bytes(c, encoding) for c in response["chunks"]] if chunked else [_bytes(response["body"], encoding)]
    abort = response.get("client_abort_after")
    return harness.Script(
        response["status"],
        response["headers"],
        chunks,
        chunked=chunked or abort is not None,
        pause_after=abort,
        pause=0.5 if abort is not None else 0.0,
        delay=0.005 if chunked else 0.0,
    )


def _request_bytes(case_id: str, case: dict[str, Any], harness: Any) -> bytes:
    request = case["request"]
    body = request["body"].encode()
    lines = [f"{request['method']} {request['path']} HTTP/1.1", "Host: gateway", "X-User-Key: secret-key"]
    lines += [f"X-Harness-Case: {case_id}", f"X-Harness-Config: {harness.encode_config(case['config'])}"]
    lines += [f"{k}: {v}" for k, v in request["headers"].items()]
    if body or request["method"] in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _exchange(port: int, raw: bytes, abort_after: bytes | None = None) -> bytes:
    """Send one request; read the whole response, or hang up once `abort_after` has arrived."""
    with socket.create_connection(("127.0.0.1", port), 5) as sock:
        sock.sendall(raw)
        received = b""
        while True:
            data = sock.recv(65536)
            if not data:
                return received
            received += data
            if abort_after is not None and abort_after in received:
                return received  # closing the socket: the client is gone mid-stream


def _dechunk(raw: bytes) -> bytes:
    head, _, body = raw.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" not in head.lower():
        return body
    out, rest = b"", body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, rest = out + rest[:size], rest[size + 2 :]
    return out


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_shared_case_in_real_nginx(nginx: Any, fake_servers: Any, nginx_harness: Any, case: dict[str, Any]) -> None:
    recorder = fake_servers.recorder
    case_id = str(CASES.index(case))
    script = _script(nginx_harness, case)
    recorder.scripts[case_id] = script
    reports_before = len(recorder.reports)
    before = _post_actions(nginx.port)

    abort = case["response"].get("client_abort_after")
    marker = script.chunks[abort - 1] if abort else None  # the whole last chunk the client waits for
    if "quota" in case:
        recorder.quota = {**case["quota"], "base": recorder.reported_usage()}
    try:
        raw = _exchange(nginx.port, _request_bytes(case_id, case, nginx_harness), marker)
        _settle(nginx.port, before)
    finally:
        recorder.quota = None

    expect = case["expect"]
    if "quota_requested" in expect:
        asked = recorder.authorizations[-1]
        assert {m: int(asked[f"usage[{m}]"]) for m in expect["quota_requested"]} == expect["quota_requested"]
    if expect.get("status") == 429:
        assert raw.startswith(b"HTTP/1.1 429")
        head = raw.partition(b"\r\n\r\n")[0].decode("latin-1").lower()
        metric, requested = next(iter(expect["quota_requested"].items()))
        limit, used = case["quota"]["limits"][metric], case["quota"]["used"].get(metric, 0)
        assert f"x-llm-quota: limit={limit}; remaining={limit - used}; requested={requested}" in head
        assert "content-type: application/json" in head  # OpenAI's error shape, naming the limit (issue 29)
        assert f"Token quota of your plan reached: a limit of {limit} ".encode() in raw
        assert case_id not in recorder.upstream_bodies  # never reached the model
        assert recorder.reports[reports_before:] == []
        return
    upstream_body = recorder.upstream_bodies[case_id]
    if "upstream_request_json" in expect:
        assert json.loads(upstream_body) == expect["upstream_request_json"]
    else:
        assert upstream_body == expect.get("upstream_request_body", case["request"]["body"]).encode()
    if abort is None:
        assert _dechunk(raw) == b"".join(script.chunks)  # every byte reaches the client unchanged
    usage: dict[str, int] = {}
    for report in recorder.reports[reports_before:]:
        assert report["service_id"] == "42"
        assert report["transactions[0][user_key]"] == "secret-key"
        for key, value in report.items():
            if "[usage][" in key:
                metric = key.rsplit("[usage][", 1)[1].rstrip("]")
                usage[metric] = usage.get(metric, 0) + int(value)
    assert usage == expect["usage"]
    assert _errors(nginx) == ""  # never an error-level log line, whatever the input


def _errors(nginx: Any) -> str:
    return "\n".join(line for line in nginx.error_log.splitlines() if "[error]" in line or "[crit]" in line)


def _stream_case(prompt_bytes: int, usage: bool) -> dict[str, Any]:
    content = "x" * prompt_bytes
    body = json.dumps({"model": "m1", "stream": True, "messages": [{"role": "user", "content": content}]})
    events = ['data: {"choices":[{"delta":{"content":"Hi"}}],"usage":null}\n\n'] * 3
    if usage:
        events.append("data: " + CHAT_USAGE.decode() + "\n\n")
    events.append("data: [DONE]\n\n")
    return {
        "config": {},
        "request": {"method": "POST", "path": "/v1/chat/completions", "headers": {}, "body": body},
        "response": {"status": 200, "headers": {"Content-Type": "text/event-stream"}, "chunks": events},
    }


@pytest.mark.parametrize("size", [64 * 1024, 1024 * 1024], ids=["64KiB", "1MiB"])
@pytest.mark.parametrize("usage", [True, False], ids=["usage", "no-usage"])
def test_long_streaming_prompt_is_rewritten_and_counted(
    nginx: Any, fake_servers: Any, nginx_harness: Any, size: int, usage: bool
) -> None:
    """nginx spools a body over client_body_buffer_size (8/16 KiB) to a file: the policy reads it (issue 19)."""
    case = _stream_case(size, usage)
    case_id = f"long-{size}-{usage}"
    recorder = fake_servers.recorder
    recorder.scripts[case_id] = _script(nginx_harness, case)
    reports_before = len(recorder.reports)
    before = _post_actions(nginx.port)
    _exchange(nginx.port, _request_bytes(case_id, case, nginx_harness))
    _settle(nginx.port, before)

    assert "buffered to a temporary file" in nginx.error_log  # nginx's own warning: the body was on disk
    sent = json.loads(recorder.upstream_bodies[case_id])
    assert sent["stream_options"] == {"include_usage": True}
    assert len(sent["messages"][0]["content"]) == size
    reported = recorder.reports[reports_before:]
    assert len(reported) == 1
    if usage:
        assert reported[0]["transactions[0][usage][total_tokens]"] == "11"
    else:  # the estimate: the whole prompt by bytes / 4, one token per streamed event
        prompt = -(-len(case["request"]["body"]) // 4)
        assert reported[0]["transactions[0][usage][prompt_tokens]"] == str(prompt)
        assert reported[0]["transactions[0][usage][completion_tokens]"] == "3"
        assert (
            'llm_estimated_reports_total{service_id="42",service_system_name="granite"}'
            in _get(nginx.port, "/__metrics").decode()
        )


def test_upstream_down_is_a_502_and_reports_nothing(nginx_harness: Any, fake_servers: Any) -> None:
    dead = SimpleNamespace(backend_port=fake_servers.backend_port, upstream_port=nginx_harness.free_port())
    server = nginx_harness.Nginx(dead).start()
    try:
        reports_before = len(fake_servers.recorder.reports)
        case = _stream_case(10, True)
        raw = _exchange(server.port, _request_bytes("down", case, nginx_harness))
        assert raw.startswith(b"HTTP/1.1 502")
        _settle(server.port, 0)
        assert fake_servers.recorder.reports[reports_before:] == []
        assert "lua entry thread aborted" not in server.error_log
    finally:
        server.stop()


def test_quota_admission_adds_tokens_not_flushed_yet(nginx_harness: Any, fake_servers: Any) -> None:
    """Batching must not let a second request in on tokens the first one used but has not reported."""
    recorder = fake_servers.recorder
    server = nginx_harness.Nginx(
        fake_servers, config={"quota": {"enabled": True, "metrics": ["total_tokens"]}}, report_interval=30
    ).start()
    try:
        case = _stream_case(10, True)  # usage: 11 total tokens
        case["config"] = {"quota": {"enabled": True, "metrics": ["total_tokens"]}}
        bound = len(case["request"]["body"]) + 4096  # its body bytes + the default completion bound
        recorder.limits["total_tokens"] = recorder.reported_usage().get("total_tokens", 0) + bound + 10
        recorder.scripts["quota"] = _script(nginx_harness, case)
        first = _exchange(server.port, _request_bytes("quota", case, nginx_harness))
        assert first.startswith(b"HTTP/1.1 200")
        deadline = time.monotonic() + 5
        while _post_actions(server.port) < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        second = _exchange(server.port, _request_bytes("quota", case, nginx_harness))
        assert second.startswith(b"HTTP/1.1 429")  # 11 pending + its bound > bound + 10, none reported yet
        assert recorder.authorizations[-1]["usage[total_tokens]"] == str(bound + 11)
    finally:
        recorder.limits = {}
        server.stop()


def test_pending_reports_are_flushed_when_nginx_stops(nginx_harness: Any, fake_servers: Any) -> None:
    recorder = fake_servers.recorder
    server = nginx_harness.Nginx(fake_servers, report_interval=60).start()
    try:
        case = _stream_case(10, True)
        recorder.scripts["exit"] = _script(nginx_harness, case)
        reports_before = len(recorder.reports)
        _exchange(server.port, _request_bytes("exit", case, nginx_harness))
        deadline = time.monotonic() + 5
        while _post_actions(server.port) < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert recorder.reports[reports_before:] == []  # a 60 s timer: nothing sent yet
        server.quit()
        assert [r["transactions[0][usage][total_tokens]"] for r in recorder.reports[reports_before:]] == ["11"]
    finally:
        server.stop()


def test_per_rule_carries_the_remainder_between_requests(nginx: Any, fake_servers: Any, nginx_harness: Any) -> None:
    """A `per: 1000` rule (the priced thousand-token metric) in one nginx worker: 700 + 700 + 700 prompt tokens
    report 0, 1 and 1 thousands (floor of the running total), the token metric 700 each time."""
    recorder = fake_servers.recorder
    config = {"rules": [{"metric": "prompt_tokens", "usage": "prompt_tokens"},
                        {"metric": "prompt_tokens_k", "usage": "prompt_tokens", "per": 1000}]}
    body = b'{"choices":[],"model":"m1","usage":{"prompt_tokens":700,"completion_tokens":1,"total_tokens":701}}'
    seen: list[dict[str, int]] = []
    for i in range(3):
        case_id = f"carry-{i}"
        recorder.scripts[case_id] = nginx_harness.Script(200, {"Content-Type": "application/json"}, [body])
        before_reports, before = len(recorder.reports), _post_actions(nginx.port)
        request = {"method": "POST", "path": "/v1/chat/completions", "headers": {"Content-Type": "application/json"},
                   "body": '{"model":"m1","messages":[]}'}
        raw = _request_bytes(case_id, {"request": request, "config": config}, nginx_harness)
        raw = raw.replace(b"X-User-Key: secret-key", b"X-User-Key: carry-key")
        _exchange(nginx.port, raw)
        _settle(nginx.port, before)
        usage: dict[str, int] = {}
        for report in recorder.reports[before_reports:]:
            assert report["transactions[0][user_key]"] == "carry-key"
            for key, value in report.items():
                if "[usage][" in key:
                    metric = key.rsplit("[usage][", 1)[1].rstrip("]")
                    usage[metric] = usage.get(metric, 0) + int(value)
        seen.append(usage)
    assert seen == [{"prompt_tokens": 700}, {"prompt_tokens": 700, "prompt_tokens_k": 1},
                    {"prompt_tokens": 700, "prompt_tokens_k": 1}]
    assert _errors(nginx) == ""


def _case(name: str) -> dict[str, Any]:
    return next(c for c in CASES if c["name"] == name)


def _billed(server: Any, fake_servers: Any, nginx_harness: Any, case_id: str, case: dict[str, Any]) -> dict[str, int]:
    """Send one request of `case`; the usage the fake 3scale backend received for it."""
    recorder = fake_servers.recorder
    recorder.scripts[case_id] = _script(nginx_harness, case)
    reports_before, before = len(recorder.reports), _post_actions(server.port)
    raw = _exchange(server.port, _request_bytes(case_id, case, nginx_harness))
    assert raw.startswith(b"HTTP/1.1 200")
    _settle(server.port, before)
    usage: dict[str, int] = {}
    for report in recorder.reports[reports_before:]:
        for key, value in report.items():
            if "[usage][" in key:
                metric = key.rsplit("[usage][", 1)[1].rstrip("]")
                usage[metric] = usage.get(metric, 0) + int(value)
    return usage


@pytest.mark.parametrize(
    "name",
    ["sse whole stream in one chunk", "sse with usage in the final chunk and [DONE]", "json chat completion"],
)
def test_byte_identical_responses_are_each_billed_with_their_usage(
    nginx: Any, fake_servers: Any, nginx_harness: Any, name: str
) -> None:
    """Issue 27, bug 1: one worker, the same response three times in a row. nginx hands the body filter a Lua
    string per chunk, and identical strings are one object in LuaJIT: nothing remembered from the previous
    response may make the next one skip its usage (it was billed by the estimate, 33/4/37, instead)."""
    case = _case(name)
    seen = [_billed(nginx, fake_servers, nginx_harness, f"same-{name}", case) for _ in range(3)]
    assert seen == [case["expect"]["usage"]] * 3


def test_without_a_metrics_listener_every_response_is_still_reported(nginx_harness: Any, fake_servers: Any) -> None:
    """Issue 27, bug 2: with no `prometheus_metrics` dict (APIcast without its metrics listener) the policy's
    counters are nil; a response that needs an estimate must still be reported. Our chain swallows a policy
    error as APIcast's does, so only the usage reaching 3scale tells."""
    server = nginx_harness.Nginx(fake_servers, metrics=False).start()
    try:
        assert _get(server.port, "/__metrics") == b""  # really no metrics
        names = [
            "json chat completion",
            "sse whole stream in one chunk",
            "sse without usage is estimated from its events",
            "usage missing: estimated from request and response bytes",
        ]
        for name in names:
            case = _case(name)
            assert case["expect"]["usage"], name
            assert _billed(server, fake_servers, nginx_harness, f"bare-{name}", case) == case["expect"]["usage"], name
    finally:
        server.stop()
