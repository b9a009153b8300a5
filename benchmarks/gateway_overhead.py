"""Gateway overhead: the same bounded loopback load, direct to the model server and through a product's
production gateway, for this tree and a base commit side by side in one run. Not a test: prints figures
(recorded in docs/performance.md).

    .venv/bin/python benchmarks/gateway_overhead.py [--rounds 3] [--seconds 5] [--connections 16]
    .venv/bin/python benchmarks/gateway_overhead.py --base none      # this tree only
    .venv/bin/python benchmarks/gateway_overhead.py --base f523914^  # another base (default a8fe21f)

The base commit is checked out into a temporary git worktree (removed after). Each tree's sandbox is started by
that tree's own code (its interpreter has PYTHONPATH pointing at the tree, with this venv's packages) in a
temporary state dir on free loopback ports; then a product is built through its Admin API the same way for
both (credentials in `Authorization`, the kit's chain cors → llm-metrics → apicast, the tree's own llm-metrics
manifest). Both sandboxes stay up (idle between loads) and are measured in alternation, round after round, the
order flipped each round (A/B, B/A, …) so the machine's noise hits both: per tree and round, `--connections`
keep-alive connections each send `GET /v1/models` back to back for `--seconds`, first to the model server
directly, then through the gateway, from a separate process (uvloop + httptools). Streaming TTFB is measured
with sequential `stream: true` chat requests. The figures per round and the medians per tree are printed,
with the machine's load average at the start and the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the shared harness, tests/harness/

from harness.admin import Admin  # noqa: E402
from harness.loopback import bench_line  # noqa: E402
from harness.ports import find_free_base_port  # noqa: E402
from harness.trees import commit_tree, load_average, tree_env  # noqa: E402

DEFAULT_BASE = "a8fe21f"  # the first build's gateway, before the hardening of issues 27/28 (issue 30)
MANIFEST = Path("policies") / "llm-metrics" / "1.0.0" / "apicast-policy.json"

# Started by the tree's own control.up (its serve command line and start checks); prints the info as JSON.
_UP = """
import dataclasses, json, sys
from maas_sandbox import control
info = control.up(sys.argv[1], int(sys.argv[2]), timeout=90)
print(json.dumps({k: str(v) for k, v in dataclasses.asdict(info).items()}))
"""
_DOWN = "import sys\nfrom maas_sandbox import control\ncontrol.down(sys.argv[1])\n"


def sandbox_up(tree: Path, state: Path) -> Any:
    done = subprocess.run([sys.executable, "-c", _UP, str(state), str(find_free_base_port(20))], env=tree_env(tree),
                          cwd=tree, check=True, capture_output=True, text=True, timeout=180)
    return SimpleNamespace(**json.loads(done.stdout.strip().splitlines()[-1]))


def sandbox_down(tree: Path, state: Path) -> None:
    subprocess.run([sys.executable, "-c", _DOWN, str(state)], env=tree_env(tree), cwd=tree, check=False,
                   timeout=60)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process so far (/proc/<pid>/stat), 0 when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def admin_call(info: Any, method: str, path: str, **kw: Any) -> Any:
    return Admin(info).call(method, path, **kw)


def secret_token(info: Any) -> str:
    """The bench product's proxy secret token: what the gateway sends upstream, the model server's only key."""
    services = admin_call(info, "GET", "/admin/api/services.json")["services"]
    sid = next(s["service"]["id"] for s in services if s["service"]["system_name"] == "bench")
    return str(admin_call(info, "GET", f"/admin/api/services/{sid}/proxy.json")["proxy"]["secret_token"])


def build_product(info: Any, tree: Path) -> tuple[str, str]:
    """A production endpoint for the model server with the kit's policy chain, and an app key."""
    admin_call(
        info,
        "POST",
        "/admin/api/registry/policies.json",
        json={"name": "llm-metrics", "version": "1.0.0", "schema": json.loads((tree / MANIFEST).read_text())},
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
    warm: list[float] = []
    for _ in range(connections):
        fut = loop.create_future()
        _, proto = await loop.create_connection(
            lambda f=fut: _Client(request, deadline, warm, f), parts.hostname, parts.port
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
        "all_requests": len(latencies) + len(warm),  # the warm-up's too: CPU per request is over the whole load
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


class Target:
    """One tree's sandbox with the bench product built on it."""

    def __init__(self, name: str, tree: Path, state: Path) -> None:
        self.name, self.tree, self.state = name, tree, state
        self.info = sandbox_up(tree, state)
        self.production, key = build_product(self.info, tree)
        self.auth = {"Authorization": f"Bearer {key}"}
        assert requests.get(self.production + "/v1/models", headers=self.auth, timeout=10).status_code == 200
        # the model server answers only the gateway (its secret token): "direct" sends that token too (a base
        # without the check ignores it)
        self.direct_auth = {"X-3scale-proxy-secret-token": secret_token(self.info)}
        self.model = next(
            m["id"]
            for m in requests.get(self.info.models_url + "/v1/models", headers=self.direct_auth, timeout=10).json()[
                "data"
            ]
            if "embed" not in m["id"]
        )
        self.pid = int(self.info.pid)
        self.rounds: list[dict[str, float]] = []

    def measure(self, connections: int, seconds: float, ttfb_samples: int) -> dict[str, float]:
        direct = run_load(self.info.models_url + "/v1/models", self.direct_auth, connections, seconds)
        # the gateway runs in the sandbox's process: its CPU time over the requests served is the gateway's
        # cost per request (nearly all of it: the process is otherwise idle), much less noisy than req/s
        cpu_before = cpu_seconds(self.pid)
        gateway = run_load(self.production + "/v1/models", self.auth, connections, seconds)
        cpu_used = cpu_seconds(self.pid) - cpu_before
        figures = {
            "direct_rps": direct["rps"],
            "gateway_rps": gateway["rps"],
            "share": gateway["rps"] / direct["rps"] * 100,
            "direct_p50": direct["p50_ms"],
            "gateway_p50": gateway["p50_ms"],
            "p50_added": gateway["p50_ms"] - direct["p50_ms"],
            "p99_added": gateway["p99_ms"] - direct["p99_ms"],
            "gateway_cpu_us": cpu_used / gateway["all_requests"] * 1e6,
            "errors": direct["errors"] + gateway["errors"],
        }
        if ttfb_samples:
            figures["ttfb_added"] = ttfb(self.production, self.auth, self.model, ttfb_samples) - ttfb(
                self.info.models_url, self.direct_auth, self.model, ttfb_samples
            )
        self.rounds.append(figures)
        return figures


def _line(label: str, f: dict[str, float]) -> str:
    ttfb_part = f"  TTFB added {f['ttfb_added']:5.2f} ms" if "ttfb_added" in f else ""
    return (
        f"  {label:<22} direct {f['direct_rps']:7.0f} req/s  gateway {f['gateway_rps']:7.0f} req/s  "
        f"share {f['share']:5.1f} %  p50 added {f['p50_added']:5.2f} ms  p99 added {f['p99_added']:6.2f} ms"
        f"  gateway CPU {f['gateway_cpu_us']:4.0f} µs/req{ttfb_part}"
        + (f"  ({f['errors']:.0f} non-200)" if f["errors"] else "")
    )


def _median(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=DEFAULT_BASE, help="commit to compare with, or 'none'")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--ttfb-samples", type=int, default=50, help="per tree and round; 0 to skip")
    args = parser.parse_args()
    if not (1 <= args.rounds <= 20 and 0.5 <= args.seconds <= 60 and 1 <= args.connections <= 256
            and 0 <= args.ttfb_samples <= 1000):
        parser.error("bounded load: --rounds 1-20, --seconds 0.5-60, --connections 1-256, --ttfb-samples 0-1000")
    print(f"start: {load_average()} (2-core machine shared with other work: compare the trees side by side)")
    with contextlib.ExitStack() as stack:
        trees = {"this": ROOT}
        if args.base != "none":
            try:
                trees = {f"base {args.base}": stack.enter_context(commit_tree(args.base)), **trees}
            except subprocess.CalledProcessError:  # not a git checkout, or a shallow one without that commit
                print(f"base {args.base} cannot be checked out here: this tree only")
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="maas-gw-bench-")))
        targets: list[Target] = []
        for i, (name, tree) in enumerate(trees.items()):
            state = tmp / f"state{i}"
            stack.callback(sandbox_down, tree, state)
            targets.append(Target(name, tree, state))
        print(f"load: GET /v1/models, {args.connections} keep-alive connections, {args.seconds:g} s per target and "
              f"round, loopback; {args.rounds} rounds, the trees alternated")
        for n in range(args.rounds):
            order = targets if n % 2 == 0 else targets[::-1]
            print(f"round {n + 1} ({load_average()}):")
            for target in order:
                print(_line(target.name, target.measure(args.connections, args.seconds, args.ttfb_samples)),
                      flush=True)
    medians = {t.name: _median(t.rounds) for t in targets}
    print(f"medians of {args.rounds} rounds:")
    for name, figures in medians.items():
        print(_line(name, figures))
    this = medians["this"]
    if len(medians) == 2:
        base = medians[targets[0].name]
        print(f"this / base: gateway req/s {this['gateway_rps'] / base['gateway_rps']:.2f}, share "
              f"{this['share'] - base['share']:+.1f} points, "
              f"p50 added {this['p50_added'] - base['p50_added']:+.2f} ms, "
              f"gateway CPU per request {this['gateway_cpu_us'] / base['gateway_cpu_us']:.2f}")
    print(bench_line("gateway share of direct (median)", round(this["share"], 1), "%", target=">= 55",
                     ok=this["share"] >= 55))
    print(bench_line("gateway p50 added (median)", round(this["p50_added"], 2), "ms", target="<= 0.5",
                     ok=this["p50_added"] <= 0.5))
    print(f"end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
