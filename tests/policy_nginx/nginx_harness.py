"""A real nginx (Debian's, with the lua module) running the llm-metrics policy's phases on loopback.

nginx's `location` drives rewrite, access, header_filter, body_filter and post_action through our own
small executor (lua/harness.lua; APIcast's API from gateway/src/apicast/policy.lua, policy_chain.lua and
executor.lua), in front of a scripted OpenAI-compatible upstream and a fake 3scale backend, both served
here by one asyncio loop in a thread. Shared by tests/policy_nginx/ and benchmarks/policy_nginx.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.ports import free_port

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
POLICY_DIR = REPO / "policies" / "llm-metrics" / "1.0.0"
LUA_DIR = HERE / "lua"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MODULES = Path("/usr/lib/nginx/modules")
LUA_MODULE = MODULES / "ngx_http_lua_module.so"


def missing() -> str | None:
    """Why the harness cannot run here, or None."""
    if not Path(NGINX).exists():
        return "nginx not installed (apt-get install nginx libnginx-mod-http-lua lua-resty-core; .ci/run does)"
    if not LUA_MODULE.exists():
        return f"{LUA_MODULE} missing (apt-get install libnginx-mod-http-lua lua-resty-core)"
    return None


@dataclass
class Script:
    """One scripted upstream answer: status, headers, and body chunks written one by one."""

    status: int
    headers: dict[str, str]
    chunks: list[bytes]
    chunked: bool = True
    pause_after: int | None = None  # stop after this many chunks for `pause` seconds (client abort tests)
    pause: float = 0.0
    delay: float = 0.0  # between chunks, so nginx sees them as separate reads


@dataclass
class Recorder:
    scripts: dict[str, Script] = field(default_factory=dict)
    upstream_bodies: dict[str, bytes] = field(default_factory=dict)
    reports: list[dict[str, str]] = field(default_factory=list)
    authorizations: list[dict[str, str]] = field(default_factory=list)
    # metric -> limit of the fake backend's authorize (current usage = what was reported)
    limits: dict[str, int] = field(default_factory=dict)
    # a shared case's `quota` ({"limits", "used"}) plus "base": the reported usage when it was set, so
    # current usage = used + what was reported since
    quota: dict[str, Any] | None = None

    def reported_usage(self) -> dict[str, int]:
        usage: dict[str, int] = {}
        for report in self.reports:
            for key, value in report.items():
                if "[usage][" in key:
                    metric = key.rsplit("[usage][", 1)[1].rstrip("]")
                    usage[metric] = usage.get(metric, 0) + int(value)
        return usage


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = b""
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    return method, target, headers, body


class FakeServers:
    """The upstream (scripted per `X-Harness-Case`) and the 3scale backend, on one loop in a thread."""

    def __init__(self) -> None:
        self.recorder = Recorder()
        self.upstream_port = free_port()
        self.backend_port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.servers: list[asyncio.base_events.Server] = []

    def start(self) -> FakeServers:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(5)
        return self

    async def _start(self) -> None:
        self.servers.append(await asyncio.start_server(self._upstream, "127.0.0.1", self.upstream_port))
        self.servers.append(await asyncio.start_server(self._backend, "127.0.0.1", self.backend_port))

    def stop(self) -> None:
        async def close() -> None:
            for server in self.servers:
                server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    async def _upstream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                _method, _target, headers, body = request
                case = headers.get("x-harness-case", "")
                self.recorder.upstream_bodies[case] = body
                script = self.recorder.scripts.get(case) or Script(404, {"Content-Type": "text/plain"}, [b"no case"])
                if not await self._answer(writer, script):
                    break
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, script: Script) -> bool:
        head = [f"HTTP/1.1 {script.status} X\r\n"]
        head += [f"{k}: {v}\r\n" for k, v in script.headers.items()]
        if script.chunked:
            head.append("Transfer-Encoding: chunked\r\n\r\n")
        else:
            head.append(f"Content-Length: {sum(len(c) for c in script.chunks)}\r\n\r\n")
        writer.write("".join(head).encode("latin-1"))
        try:
            for i, chunk in enumerate(script.chunks):
                if script.pause_after is not None and i == script.pause_after:
                    await writer.drain()
                    await asyncio.sleep(script.pause)
                if chunk:
                    writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if script.chunked else chunk)
                if script.delay:
                    await writer.drain()
                    await asyncio.sleep(script.delay)
            if script.chunked:
                writer.write(b"0\r\n\r\n")
            await writer.drain()
        except ConnectionError:
            return False
        return True

    async def _backend(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await _read_request(reader)
        if request is not None:
            method, target, _headers, body = request
            path, _, query = target.partition("?")
            recorder = self.recorder
            if method == "POST" and path == "/transactions.xml":
                recorder.reports.append(dict(urllib.parse.parse_qsl(body.decode())))
                answer = b"HTTP/1.0 202 Accepted\r\nContent-Length: 0\r\n\r\n"
            elif path == "/transactions/authorize.xml":
                args = dict(urllib.parse.parse_qsl(query))
                recorder.authorizations.append(args)
                used = recorder.reported_usage()
                limits = recorder.limits
                if recorder.quota is not None:
                    quota, limits = recorder.quota, recorder.quota["limits"]
                    used = {m: quota["used"].get(m, 0) + used.get(m, 0) - quota["base"].get(m, 0) for m in limits}
                over = [
                    (limit, used.get(m, 0)) for m, limit in limits.items()
                    if used.get(m, 0) + int(args.get(f"usage[{m}]", 0)) > limit
                ]
                if over:
                    # As apisonator answers APIcast's client (no_body=1, limit_headers=1): headers only.
                    limit, current = over[0]
                    answer = (
                        b"HTTP/1.0 409 Conflict\r\n3scale-rejection-reason: limits_exceeded\r\n"
                        b"3scale-limit-reset: 30\r\n3scale-limit-max-value: %d\r\n3scale-limit-remaining: %d\r\n"
                        b"Content-Length: 0\r\n\r\n" % (limit, max(0, limit - current))
                    )
                else:
                    answer = b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"
            else:
                answer = b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"
            writer.write(answer)
            await writer.drain()
        writer.close()


CONF = """\
load_module {modules}/ndk_http_module.so;
load_module {modules}/ngx_http_lua_module.so;
{user}
worker_processes 1;
daemon off;
error_log {prefix}/error.log {log_level};
pid {prefix}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  # As APIcast: no request body limit (Debian's default is 1 MiB), default client_body_buffer_size.
  client_max_body_size 0;
  client_body_temp_path {prefix}/client_body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  lua_package_path '{policy}/?.lua;{lua}/?.lua;;';
  lua_shared_dict harness_metrics 1m;
  {metrics_dict}
  init_by_lua_block {{
    require('harness').init({{ backend_port = {backend_port}, chain = '{chain}', report_interval = {interval},
                              config = {config} }})
  }}
  upstream llm {{
    server 127.0.0.1:{upstream_port};
    keepalive 32;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      set $ctx_ref -1;
      rewrite_by_lua_block {{ require('harness').rewrite() }}
      access_by_lua_block {{ require('harness').access() }}
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://llm;
      header_filter_by_lua_block {{ require('harness').header_filter() }}
      body_filter_by_lua_block {{ require('harness').body_filter() }}
      post_action @post_action;
    }}
    location @post_action {{
      internal;
      content_by_lua_block {{ require('harness').post_action() }}
    }}
    location /__ {{
      content_by_lua_block {{ require('harness').admin() }}
    }}
  }}
}}
"""


class Nginx:
    """One nginx master + worker with a temporary prefix; `chain` is "policy" or "plain"; `metrics=False`:
    no metrics listener (APIcast's `apicast.prometheus(...)` returns nil then)."""

    def __init__(
        self,
        servers: FakeServers,
        chain: str = "policy",
        config: dict[str, Any] | None = None,
        report_interval: float = 0.5,
        log_level: str = "info",
        metrics: bool = True,
    ) -> None:
        self.servers = servers
        self.port = free_port()
        self.prefix = Path(tempfile.mkdtemp(prefix="llm-nginx-"))
        config_text = json.dumps(json.dumps(config or {}))  # a Lua string literal is a JSON string here
        text = CONF.format(
            modules=MODULES,
            user="user root;" if os.geteuid() == 0 else "",
            prefix=self.prefix,
            log_level=log_level,
            policy=POLICY_DIR,
            lua=LUA_DIR,
            backend_port=servers.backend_port,
            upstream_port=servers.upstream_port,
            port=self.port,
            chain=chain,
            interval=report_interval,
            config=config_text,
            # APIcast has this dict only with a metrics listener; without it apicast.prometheus(...) is nil.
            metrics_dict="lua_shared_dict prometheus_metrics 1m;" if metrics else "",
        )
        (self.prefix / "nginx.conf").write_text(text)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> Nginx:
        self.process = subprocess.Popen(
            # -e: the startup error log too, so a non-root user never touches /var/log/nginx
            [NGINX, "-p", str(self.prefix), "-e", str(self.prefix / "error.log"), "-c", "nginx.conf"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.process.stderr.read().decode()}\n{self.error_log}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not listen on {self.port}\n{self.error_log}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: fast shutdown, pending timers run early (premature)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.prefix, ignore_errors=True)

    def quit(self) -> None:
        """Graceful stop (SIGQUIT), as at a worker exit: the batched reports must be flushed."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(3)
            self.process.wait(10)


def encode_config(config: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(config).encode()).decode()
