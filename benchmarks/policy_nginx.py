"""The llm-metrics policy's cost in real nginx: requests/s and CPU per request with the policy vs without.

    .venv/bin/python benchmarks/policy_nginx.py [--seconds 5] [--connections 16] [--rounds 2]

Two gateways side by side in one run, both Debian's nginx + lua module with our executor stand-in
(tests/policy_nginx/lua/harness.lua) on one worker: chain [llm-metrics] and the plain chain [] (the
same Lua phases with nothing in them). Both proxy to one upstream nginx that answers like an
OpenAI-compatible server (a JSON chat completion, an SSE stream of 24 deltas each carrying
`"usage":null` plus the usage event, `GET /v1/models`); token reports go to the harness's fake 3scale
backend (batched, so rarely). Load: `wrk` (Debian) on loopback, `--connections` keep-alive connections,
each workload on each gateway in alternation for `--rounds`, best round kept. CPU per request is the
gateway worker's utime+stime (from /proc) over the requests it served. Not a test: prints figures (kept in
docs/performance.md). Targets (issue 19): >= 0.9 of the plain chain's throughput on JSON, >= 0.85 on SSE.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace

HARNESS_PATH = Path(__file__).resolve().parents[1] / "tests" / "policy_nginx" / "nginx_harness.py"
sys.path.insert(0, str(HARNESS_PATH.parents[1]))  # the shared harness (tests/harness/) nginx_harness uses

USAGE = {"prompt_tokens": 12, "completion_tokens": 24, "total_tokens": 36}
COMPLETION = json.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "granite-3-8b-instruct",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello! " * 24}, "finish_reason": "stop"}],
        "usage": USAGE,
    },
    separators=(",", ":"),
)
DELTA = json.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "granite-3-8b-instruct",
        "choices": [{"index": 0, "delta": {"content": "Hello "}, "finish_reason": None}],
        "usage": None,
    },
    separators=(",", ":"),
)
USAGE_EVENT = json.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "granite-3-8b-instruct",
        "choices": [],
        "usage": USAGE,
    },
    separators=(",", ":"),
)
MODELS = '{"object":"list","data":[{"id":"granite-3-8b-instruct","object":"model","owned_by":"maas"}]}'
CHAT_BODY = '{"model":"granite-3-8b-instruct","messages":[{"role":"user","content":"Say hello"}]}'
STREAM_BODY = '{"model":"granite-3-8b-instruct","messages":[{"role":"user","content":"Say hello"}],"stream":true}'

UPSTREAM_CONF = """\
load_module {modules}/ndk_http_module.so;
load_module {modules}/ngx_http_lua_module.so;
{user}
worker_processes 1;
daemon off;
error_log {prefix}/error.log warn;
pid {prefix}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/client_body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  init_by_lua_block {{
    EVENTS = {{}}
    for i = 1, 24 do EVENTS[i] = 'data: ' .. {delta} .. '\\n\\n' end
    EVENTS[25] = 'data: ' .. {usage_event} .. '\\n\\n'
    EVENTS[26] = 'data: [DONE]\\n\\n'
  }}
  server {{
    listen 127.0.0.1:{port};
    location = /v1/chat/completions {{
      default_type application/json;
      content_by_lua_block {{
        ngx.req.read_body()
        local body = ngx.req.get_body_data() or ''
        if not body:find('"stream":true', 1, true) then return ngx.print({completion}) end
        ngx.header.content_type = 'text/event-stream'
        -- two writes per stream: deltas, then the usage event and [DONE] (a chunk boundary mid-stream)
        ngx.print(table.concat(EVENTS, '', 1, 24))
        ngx.flush(true)
        ngx.print(EVENTS[25], EVENTS[26])
      }}
    }}
    location = /v1/models {{
      default_type application/json;
      return 200 '{models}';
    }}
  }}
}}
"""

WRK_SCRIPT = """\
wrk.method = "{method}"
wrk.headers["X-User-Key"] = "bench-key"
{body}
"""


def load_harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("llm_nginx_harness", HARNESS_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string of ASCII text is a valid Lua string literal


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(port: int, path: str, script: Path, seconds: int, connections: int) -> tuple[float, int]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), f"http://127.0.0.1:{port}{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw errors on {path}:\n{out}")
    return rps, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    harness = load_harness()
    reason = harness.missing() or (None if shutil.which("wrk") else "wrk not installed (apt-get install wrk)")
    if reason:
        print(f"skipped: {reason}")
        return 0

    backend = harness.FakeServers().start()
    prefix = Path(tempfile.mkdtemp(prefix="llm-upstream-"))
    upstream_port = harness.free_port()
    (prefix / "nginx.conf").write_text(
        UPSTREAM_CONF.format(
            modules=harness.MODULES,
            user="user root;" if os.geteuid() == 0 else "",
            prefix=prefix,
            port=upstream_port,
            delta=lua_string(DELTA),
            usage_event=lua_string(USAGE_EVENT),
            completion=lua_string(COMPLETION),
            models=MODELS,
        )
    )
    upstream = subprocess.Popen(
        [harness.NGINX, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(prefix / "nginx.conf")]
    )
    ports = SimpleNamespace(backend_port=backend.backend_port, upstream_port=upstream_port)
    gateways = {
        "plain": harness.Nginx(ports, chain="plain", log_level="warn").start(),
        "llm-metrics": harness.Nginx(ports, chain="policy", log_level="warn").start(),
    }
    work = Path(tempfile.mkdtemp(prefix="llm-wrk-"))
    workloads = {
        "JSON chat completion": ("/v1/chat/completions", "POST", CHAT_BODY),
        "SSE stream (24 deltas)": ("/v1/chat/completions", "POST", STREAM_BODY),
        "GET /v1/models": ("/v1/models", "GET", None),
    }
    results: dict[str, dict[str, tuple[float, float]]] = {}
    try:
        time.sleep(0.3)
        for name, (path, method, body) in workloads.items():
            script = work / f"{abs(hash(name))}.lua"
            body_line = (
                f"wrk.body = {lua_string(body)}\nwrk.headers['Content-Type'] = 'application/json'" if body else ""
            )
            script.write_text(WRK_SCRIPT.format(method=method, body=body_line))
            best: dict[str, tuple[float, float]] = {}
            for _ in range(args.rounds):
                for chain, gateway in gateways.items():
                    pid = worker_pid(gateway.process.pid)
                    cpu_before = cpu_seconds(pid)
                    rps, total = run_wrk(gateway.port, path, script, args.seconds, args.connections)
                    cpu_us = (cpu_seconds(pid) - cpu_before) / max(total, 1) * 1e6
                    if chain not in best or rps > best[chain][0]:
                        best[chain] = (rps, cpu_us)
            results[name] = best
        reported = backend.recorder.reported_usage().get("total_tokens", 0)
    finally:
        for gateway in gateways.values():
            gateway.stop()
        upstream.terminate()
        upstream.wait(10)
        backend.stop()
        shutil.rmtree(prefix, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"llm-metrics in real nginx: 1 worker each, loopback, wrk -c{args.connections}, "
        f"{args.seconds}s x {args.rounds} rounds (best)"
    )
    print(
        f"{'workload':<26}{'plain req/s':>12}{'policy req/s':>14}{'ratio':>7}{'plain CPU':>11}"
        f"{'policy CPU':>12}{'+CPU/req':>10}"
    )
    for name, best in results.items():
        (p_rps, p_cpu), (l_rps, l_cpu) = best["plain"], best["llm-metrics"]
        print(
            f"{name:<26}{p_rps:>12.0f}{l_rps:>14.0f}{l_rps / p_rps:>7.2f}{p_cpu:>9.0f}µs{l_cpu:>10.0f}µs"
            f"{l_cpu - p_cpu:>8.0f}µs"
        )
    print(
        f"tokens reported to the fake 3scale backend (batched): total_tokens={reported}, "
        f"report calls={len(backend.recorder.reports)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
