"""Crash safety: `kill -9` the sandbox under load, restart it on the same state dir, and compare.

- Configuration: every Admin API object the kit creates (products, backends, metrics, rules, proxy
  settings and configs, policy chains, plans, limits, accounts, applications, registry) read before the
  kill and after the restart must be identical.
- Usage: the 200 answers clients received (each one counted as a hit when authorized) against the hits
  the restarted sandbox reports; the difference is usage lost, expressed in seconds of that traffic
  (goal: ≤ 1 s; the backend writes usage behind every 0.5 s).

The kill takes the whole process group (sandbox and model server), as a container or machine crash
would. `python benchmarks/crash_safety.py --rounds 3`; tests/reliability runs one round.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the shared harness, tests/harness/

from maas_sandbox import control  # noqa: E402
from maas_sandbox.control import SandboxInfo  # noqa: E402

from harness import loopback as lb  # noqa: E402
from harness import sandbox  # noqa: E402


# -- configuration snapshot ---------------------------------------------------------------------------------
def _ids(body: dict[str, Any], collection: str, entity: str) -> list[int]:
    return [item[entity]["id"] for item in body.get(collection, [])]


def snapshot(admin: lb.Admin) -> dict[str, Any]:
    """Everything configuration-like the Admin API shows, keyed by the path it was read from."""
    out: dict[str, Any] = {}

    def read(path: str) -> dict[str, Any]:
        out[path] = admin.call("GET", path)
        return out[path]

    services = read("/admin/api/services.json")
    for sid in _ids(services, "services", "service"):
        for tail in ("metrics", "proxy", "proxy/mapping_rules", "proxy/policies", "backend_usages",
                     "application_plans", "proxy/configs/sandbox", "proxy/configs/production"):
            body = read(f"/admin/api/services/{sid}/{tail}.json")
            if tail == "application_plans":
                for plan_id in _ids(body, "plans", "application_plan"):
                    read(f"/admin/api/application_plans/{plan_id}/limits.json")
    backends = read("/admin/api/backend_apis.json")
    for bid in _ids(backends, "backend_apis", "backend_api"):
        read(f"/admin/api/backend_apis/{bid}/metrics.json")
        read(f"/admin/api/backend_apis/{bid}/mapping_rules.json")
    for path in ("/admin/api/accounts.json", "/admin/api/applications.json", "/admin/api/registry/policies.json",
                 "/admin/api/account_plans.json", "/admin/api/active_docs.json", "/admin/api/provider.json"):
        read(path)
    return out


def build_config(admin: lb.Admin) -> tuple[lb.Product, lb.App]:
    """A MaaS-shaped tenant: a chat product with token metrics and quota, a limited plan, several apps."""
    admin.register_llm_metrics()
    chat = lb.build_product(admin, chain=[lb.CORS, lb.llm_metrics(["total_tokens"]), lb.APICAST])
    chat.limit("limited", "total_tokens", "day", 100_000)
    chat.limit("limited", "hits", "minute", 1_000_000)
    for _ in range(3):
        chat.new_app("limited")
    open_product = lb.build_product(admin)
    app = open_product.new_app()
    return open_product, app


# -- load ---------------------------------------------------------------------------------------------------
@dataclass
class Load:
    ok: int = 0
    errors: int = 0
    first: float = 0.0
    last_ok: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def rate(self) -> float:
        span = self.last_ok - self.first
        return self.ok / span if span > 0 else 0.0


async def _client(port: int, raw: bytes, load: Load) -> None:
    conn = lb.RawConnection("127.0.0.1", port)
    try:
        while not load.stop.is_set():
            try:
                reply = await asyncio.wait_for(conn.exchange(raw), 5)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                load.errors += 1
                return  # the sandbox is gone
            if reply.status == 200:
                load.ok += 1
                load.last_ok = time.monotonic()
            elif reply.status == 0:
                load.errors += 1
                return
    finally:
        await conn.close()


def start_load(port: int, key: str, clients: int) -> tuple[Load, threading.Thread]:
    load = Load(first=time.monotonic())
    raw = lb.request_bytes("GET", "/v1/models", [("Authorization", f"Bearer {key}")])

    async def main() -> None:
        await asyncio.gather(*(_client(port, raw, load) for _ in range(clients)))

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    return load, thread


# -- the crash ----------------------------------------------------------------------------------------------
def _dead(pid: int | None) -> bool:
    return pid is None or not control._alive(pid)


def kill_group(info: SandboxInfo) -> None:
    """SIGKILL the sandbox's process group: the sandbox and its model server die at once."""
    runtime = control.resolve_state_dir(info.state_dir).read_runtime() or {}
    with contextlib.suppress(ProcessLookupError):
        os.killpg(os.getpgid(info.pid), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (_dead(info.pid) and _dead(runtime.get("models_pid"))):
        time.sleep(0.02)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(info.pid, os.WNOHANG)  # reap our child so it is not left a zombie


@dataclass
class CrashRound:
    load_seconds: float
    answered_ok: int
    rate: float
    recorded: int
    restart_seconds: float
    config_objects: int
    config_diff: list[str]

    @property
    def lost(self) -> int:
        return max(self.answered_ok - self.recorded, 0)

    @property
    def lost_seconds(self) -> float:
        return self.lost / self.rate if self.rate else 0.0

    @property
    def ok(self) -> bool:
        return not self.config_diff and self.lost_seconds <= 1.0

    def line(self) -> str:
        return (
            f"  load {self.load_seconds:.1f} s at {self.rate:.0f} ok/s: answered 200 {self.answered_ok}, recorded "
            f"after restart {self.recorded}, lost {self.lost} ({self.lost_seconds:.2f} s of traffic); config "
            f"{self.config_objects} reads, {len(self.config_diff)} differ; restart {self.restart_seconds:.1f} s"
        )


def crash_round(info: SandboxInfo, product: lb.Product, app: lb.App, before_ok: int, *, load_seconds: float,
                clients: int) -> tuple[CrashRound, SandboxInfo]:
    admin = lb.Admin(info)
    before = snapshot(admin)
    port = int(product.production.rsplit(":", 1)[1])
    load, thread = start_load(port, app.key, clients)
    time.sleep(load_seconds)  # traffic runs for this long, then the crash comes in the middle of it
    kill_group(info)
    load.stop.set()
    thread.join(30)
    started = time.monotonic()
    restarted = sandbox.restart(info.state_dir)
    restart_seconds = time.monotonic() - started
    admin = lb.Admin(restarted)
    after = snapshot(admin)
    diff = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    recorded = admin.usage(app.id, "hits", day=time.strftime("%Y-%m-%d", time.gmtime())) - before_ok
    return CrashRound(load_seconds, load.ok, load.rate, recorded, restart_seconds, len(before), diff), restarted


def run(state_dir: Path, rounds: int, load_seconds: float, clients: int) -> list[CrashRound]:
    info = lb.start_sandbox(state_dir)
    results = []
    try:
        product, app = build_config(lb.Admin(info))
        counted = 0
        for _ in range(rounds):
            result, info = crash_round(info, product, app, counted, load_seconds=load_seconds, clients=clients)
            counted += result.recorded
            results.append(result)
    finally:
        control.down(state_dir)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="load before each kill")
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="maas-crash-") as tmp:
        results = run(Path(tmp) / "state", args.rounds, args.seconds, args.clients)
    print(f"crash safety: {len(results)} kill -9 rounds under load")
    for r in results:
        print(r.line())
    worst = max(r.lost_seconds for r in results)
    print(lb.bench_line("crash: config intact", f"{sum(not r.config_diff for r in results)}/{len(results)}",
                        target="all", ok=all(not r.config_diff for r in results)))
    print(lb.bench_line("crash: usage lost (worst)", round(worst, 2), "s of traffic", target="<= 1", ok=worst <= 1))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
