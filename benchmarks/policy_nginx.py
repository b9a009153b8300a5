"""The llm-metrics policy's cost: requests/s and CPU per request with the policy vs without, side by side.

    .venv/bin/python benchmarks/policy_nginx.py [--seconds 5] [--connections 16] [--rounds 2]
    MAAS_APICAST_DIR=/path/to/APIcast/gateway .venv/bin/python benchmarks/policy_nginx.py ...

Always: a **bare-nginx chain**, not APIcast. Two gateways, both Debian's nginx + lua module running our small
executor stand-in (tests/policy_nginx/lua/harness.lua) on one worker: chain [llm-metrics] and the empty chain
(the same Lua phases with nothing in them). The baseline is a bare nginx proxy whose whole request costs
~15 µs of CPU, so the ratio there says little about APIcast; the added CPU per request is what it shows.

With `MAAS_APICAST_DIR` (an APIcast `gateway` directory whose `bin/apicast` starts APIcast in the caller's
environment: its Lua dependencies on the path, `APICAST_OPENRESTY_BINARY` if nginx is not `openresty`): the
same workloads on **plain APIcast** (policy chain [apicast]) and **APIcast + llm-metrics** ([llm-metrics,
apicast], this repository's policy through APICAST_POLICY_LOAD_PATH), each started by APIcast's own CLI with
one worker, its metrics listener on, a configuration file (THREESCALE_CONFIG_FILE) with one service. Nothing
of APIcast is in this repository or needed by its tests.

Both pairs proxy to one upstream nginx that answers like an OpenAI-compatible server (a JSON chat completion,
an SSE stream of 24 deltas each carrying `"usage":null` plus the usage event, `GET /v1/models`) and, for
APIcast, like the 3scale backend (authrep 200, report 202). The bare-nginx pair reports to the harness's
fake 3scale backend (batched, so rarely). Load: `wrk` (Debian) on loopback, `--connections` keep-alive
connections, each workload on each gateway of a pair in alternation for `--rounds`; the best throughput and
the least CPU per request of the rounds are kept. CPU per request is the gateway worker's utime+stime (from
/proc) over the requests it served. Not a test: prints
figures (kept in docs/performance.md). Targets (issue 27, against plain APIcast): <= +20 µs of CPU per
request and >= 0.95 of its throughput on JSON and SSE, <= +5 µs on unmetered routes (GET /v1/models).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HARNESS_PATH = REPO / "tests" / "policy_nginx" / "nginx_harness.py"
APICAST_DIR_ENV = "MAAS_APICAST_DIR"
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
    # the 3scale backend for APIcast: authrep/authorize 200, report 202 (APIcast's backend_client)
    location /transactions/ {{ return 200 ''; }}
    location = /transactions.xml {{ return 202 ''; }}
  }}
}}
"""

# APIcast's environment file (`apicast -e FILE`): ports of its servers, one worker. The backend/echo port is
# also an `upstream` server address in APIcast's template, so it stays a bare port number.
APICAST_ENV = """return {{
  worker_processes = 1,
  port = {{ apicast = '127.0.0.1:{port}', management = '127.0.0.1:{management}', backend = {echo},
           echo = {echo}, metrics = '127.0.0.1:{metrics}' }},
}}
"""

WRK_SCRIPT = """\
wrk.method = "{method}"
wrk.headers["X-User-Key"] = "bench-key"
{body}
"""

WORKLOADS = {
    "JSON chat completion": ("/v1/chat/completions", "POST", CHAT_BODY),
    "SSE stream (24 deltas)": ("/v1/chat/completions", "POST", STREAM_BODY),
    "GET /v1/models": ("/v1/models", "GET", None),
}


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


class Apicast:
    """One APIcast started by its own CLI from MAAS_APICAST_DIR, with a one-service configuration file."""

    def __init__(self, gateway_dir: Path, free_port: Any, upstream_port: int, chain: list[dict[str, Any]]) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="llm-apicast-"))
        self.port, self.metrics = free_port(), free_port()
        upstream = f"http://127.0.0.1:{upstream_port}"
        service = {
            "id": 42, "system_name": "granite", "backend_version": "1",
            "backend_authentication_type": "service_token", "backend_authentication_value": "bench-token",
            "proxy": {
                "api_backend": upstream, "hosts": ["127.0.0.1"],
                "backend": {"endpoint": upstream, "host": "backend"},
                "credentials_location": "headers", "auth_user_key": "x-user-key",
                "proxy_rules": [
                    {"http_method": method, "pattern": "/", "metric_system_name": "hits", "delta": 1}
                    for method in ("GET", "POST")
                ],
                "policy_chain": chain,
            },
        }
        (self.dir / "config.json").write_text(json.dumps({"services": [service]}))
        (self.dir / "env.lua").write_text(
            APICAST_ENV.format(port=self.port, management=free_port(), echo=free_port(), metrics=self.metrics)
        )
        env = {
            **os.environ,
            "THREESCALE_CONFIG_FILE": str(self.dir / "config.json"),
            "APICAST_POLICY_LOAD_PATH": str(REPO / "policies"),
        }
        self.pid_file = self.dir / "nginx.pid"
        self.process = subprocess.Popen(
            [str(gateway_dir / "bin" / "apicast"), "-e", str(self.dir / "env.lua"), "--log-level=warn",
             f"--log-file={self.dir / 'error.log'}", f"--pid={self.pid_file}"],
            env=env, cwd=self.dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                if self.pid_file.exists():
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"APIcast did not listen on {self.port}; see {self.dir}")

    @property
    def master(self) -> int:
        return int(self.pid_file.read_text().strip())

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            os.kill(self.master, signal.SIGQUIT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def measure(
    pair: dict[str, tuple[int, int]], work: Path, seconds: int, connections: int, rounds: int
) -> dict[str, dict[str, tuple[float, float]]]:
    """workload -> chain -> best (req/s, CPU µs per request); `pair`: chain -> (port, nginx master pid)."""
    results: dict[str, dict[str, tuple[float, float]]] = {}
    for name, (path, method, body) in WORKLOADS.items():
        script = work / f"{abs(hash(name))}.lua"
        body_line = f"wrk.body = {lua_string(body)}\nwrk.headers['Content-Type'] = 'application/json'" if body else ""
        script.write_text(WRK_SCRIPT.format(method=method, body=body_line))
        best: dict[str, tuple[float, float]] = {}
        for _ in range(rounds):
            for chain, (port, master) in pair.items():
                pid = worker_pid(master)
                cpu_before = cpu_seconds(pid)
                rps, total = run_wrk(port, path, script, seconds, connections)
                cpu_us = (cpu_seconds(pid) - cpu_before) / max(total, 1) * 1e6
                # Best throughput and least CPU per request over the rounds, each on its own: on a shared machine
                # a neighbour's burst only ever adds to either.
                if chain not in best:
                    best[chain] = (rps, cpu_us)
                else:
                    best[chain] = (max(rps, best[chain][0]), min(cpu_us, best[chain][1]))
        results[name] = best
    return results


def print_table(title: str, results: dict[str, dict[str, tuple[float, float]]], base: str, policy: str) -> None:
    print(title)
    print(
        f"{'workload':<26}{'plain req/s':>12}{'policy req/s':>14}{'ratio':>7}{'plain CPU':>11}"
        f"{'policy CPU':>12}{'+CPU/req':>10}"
    )
    for name, best in results.items():
        (p_rps, p_cpu), (l_rps, l_cpu) = best[base], best[policy]
        print(
            f"{name:<26}{p_rps:>12.0f}{l_rps:>14.0f}{l_rps / p_rps:>7.2f}{p_cpu:>9.0f}µs{l_cpu:>10.0f}µs"
            f"{l_cpu - p_cpu:>8.0f}µs"
        )


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
    apicast_dir = os.environ.get(APICAST_DIR_ENV)
    if apicast_dir and not (Path(apicast_dir) / "bin" / "apicast").exists():
        print(f"{APICAST_DIR_ENV}={apicast_dir}: no bin/apicast there (expected APIcast's gateway directory)")
        return 2

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
    apicasts: dict[str, Apicast] = {}
    work = Path(tempfile.mkdtemp(prefix="llm-wrk-"))
    try:
        if apicast_dir:
            apicast_policy = {"name": "apicast", "version": "builtin", "configuration": {}}
            llm = {"name": "llm-metrics", "version": "1.0.0", "configuration": {}}
            for chain, policies in (("APIcast", [apicast_policy]), ("APIcast + llm-metrics", [llm, apicast_policy])):
                apicasts[chain] = Apicast(Path(apicast_dir), harness.free_port, upstream_port, policies)
        time.sleep(0.3)
        bare = {chain: (g.port, g.process.pid) for chain, g in gateways.items()}
        results = measure(bare, work, args.seconds, args.connections, args.rounds)
        real = {chain: (a.port, a.master) for chain, a in apicasts.items()}
        real_results = measure(real, work, args.seconds, args.connections, args.rounds) if real else {}
        reported = backend.recorder.reported_usage().get("total_tokens", 0)
    finally:
        for gateway in gateways.values():
            gateway.stop()
        for apicast in apicasts.values():
            apicast.stop()
        upstream.terminate()
        upstream.wait(10)
        backend.stop()
        shutil.rmtree(prefix, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)

    runs = f"1 worker each, loopback, wrk -c{args.connections}, {args.seconds}s x {args.rounds} rounds (best)"
    print_table(f"bare-nginx chain (our executor stand-in, not APIcast): {runs}", results, "plain", "llm-metrics")
    print(
        f"tokens reported to the fake 3scale backend (batched): total_tokens={reported}, "
        f"report calls={len(backend.recorder.reports)}"
    )
    if real_results:
        print_table(f"APIcast ({apicast_dir}): plain [apicast] vs [llm-metrics, apicast]: {runs}",
                    real_results, "APIcast", "APIcast + llm-metrics")
    else:
        print(f"APIcast: not measured ({APICAST_DIR_ENV} not set)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
