"""`make soak`: bounded mixed load on a sandbox with a `kill -9` and restart every few seconds.

Load (loopback only, bounded by --duration): valid `GET /v1/models`, valid chat completions on a product
with a token quota, and requests with wrong keys; clients keep retrying through the crashes. After each
restart the configuration is compared with the snapshot taken before the first crash. At the end the
hits the sandbox recorded for the valid GET application are compared with the 200 answers received.

    .venv/bin/python benchmarks/soak.py [--duration 120] [--kill-every 20] [--clients 24]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]  # crash_safety next to it; the shared harness

import crash_safety as cs  # noqa: E402

from maas_sandbox import control  # noqa: E402

from harness import loopback as lb  # noqa: E402
from harness import sandbox  # noqa: E402


class Traffic:
    def __init__(self) -> None:
        self.statuses: Counter[str] = Counter()
        self.valid_get_ok = 0
        self.stop = threading.Event()


async def _client(port: int, raw: bytes, traffic: Traffic, label: str) -> None:
    conn = lb.RawConnection("127.0.0.1", port)
    while not traffic.stop.is_set():
        try:
            reply = await asyncio.wait_for(conn.exchange(raw), 10)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
            traffic.statuses[f"{label} connection error"] += 1
            await conn.close()
            await asyncio.sleep(0.05)  # the sandbox is restarting; try again shortly
            continue
        traffic.statuses[f"{label} {reply.status}"] += 1
        if label == "get" and reply.status == 200:
            traffic.valid_get_ok += 1
        if reply.status == 0:
            await conn.close()
    await conn.close()


def start_traffic(get: tuple[int, bytes], chat: tuple[int, bytes], bad: tuple[int, bytes], clients: int
                  ) -> tuple[Traffic, threading.Thread]:
    traffic = Traffic()
    mix = [("get", get)] * (clients // 2) + [("chat", chat)] * (clients // 4) + [("bad-key", bad)] * (clients // 4)

    async def main() -> None:
        await asyncio.gather(*(_client(port, raw, traffic, label) for label, (port, raw) in mix))

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    return traffic, thread


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--kill-every", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=24)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="maas-soak-") as tmp:
        state = Path(tmp) / "state"
        info = lb.start_sandbox(state)
        try:
            admin = lb.Admin(info)
            open_product, app = cs.build_config(admin)
            chat_product = lb.build_product(admin, chain=[lb.CORS, lb.llm_metrics(["total_tokens"]), lb.APICAST])
            chat_product.limit("quota", "total_tokens", "minute", 60_000)
            chat_app = chat_product.new_app("quota")
            baseline = cs.snapshot(admin)
            port = int(open_product.production.rsplit(":", 1)[1])
            chat_port = int(chat_product.production.rsplit(":", 1)[1])
            body = json.dumps({"model": lb.chat_model(info), "max_tokens": 16,
                               "messages": [{"role": "user", "content": "Tell me a story"}]}).encode()
            traffic, thread = start_traffic(
                (port, lb.request_bytes("GET", "/v1/models", [("Authorization", f"Bearer {app.key}")])),
                (chat_port, lb.request_bytes("POST", "/v1/chat/completions", [
                    ("Authorization", f"Bearer {chat_app.key}"), ("Content-Type", "application/json")], body)),
                (port, lb.request_bytes("GET", "/v1/models", [("Authorization", "Bearer not-a-key")])),
                args.clients,
            )
            started = time.monotonic()
            restarts: list[float] = []
            config_broken = 0
            while time.monotonic() - started + args.kill_every <= args.duration:
                time.sleep(args.kill_every)
                cs.kill_group(info)
                t0 = time.monotonic()
                info = sandbox.restart(state)
                restarts.append(time.monotonic() - t0)
                if cs.snapshot(lb.Admin(info)) != baseline:
                    config_broken += 1
            time.sleep(max(0.0, args.duration - (time.monotonic() - started)))
            traffic.stop.set()
            thread.join(30)
            elapsed = time.monotonic() - started
            recorded = lb.Admin(info).usage(app.id, "hits", day=time.strftime("%Y-%m-%d", time.gmtime()))
        finally:
            control.down(state)
    total = sum(traffic.statuses.values())
    lost = max(traffic.valid_get_ok - recorded, 0)
    rate = traffic.valid_get_ok / elapsed if elapsed else 0.0
    lost_per_crash_s = (lost / len(restarts) / rate) if restarts and rate else 0.0
    print(f"soak: {elapsed:.0f} s, {args.clients} clients, {len(restarts)} kill -9 + restart cycles")
    for key, n in sorted(traffic.statuses.items()):
        print(f"  {key:<28} {n:>8}")
    print(f"  requests {total} ({total / elapsed:.0f}/s); restart seconds "
          + ", ".join(f"{r:.1f}" for r in restarts))
    print(f"  valid GET answered 200: {traffic.valid_get_ok}, recorded: {recorded}, lost {lost} "
          f"({lost_per_crash_s:.2f} s of traffic per crash); config changed after {config_broken} restarts")
    # 0 = the connection died with the sandbox before an answer: not a wrong answer
    wrong = sum(n for k, n in traffic.statuses.items() if k.startswith("bad-key ")
                and k not in ("bad-key 403", "bad-key 0", "bad-key connection error"))
    print(lb.bench_line("soak: config intact after restarts", f"{len(restarts) - config_broken}/{len(restarts)}",
                        target="all", ok=config_broken == 0))
    print(lb.bench_line("soak: usage lost per crash", round(lost_per_crash_s, 2), "s", target="<= 1",
                        ok=lost_per_crash_s <= 1))
    print(lb.bench_line("soak: bad keys not answered 403", wrong, "req", target="0", ok=wrong == 0))
    return 0 if config_broken == 0 and lost_per_crash_s <= 1 and wrong == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
