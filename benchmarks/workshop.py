"""Workshop benchmark: set up 20 attendees × 3 models on a fresh sandbox, re-run, reset keys, take it down.

    .venv/bin/python benchmarks/workshop.py [--attendees 20] [--latency-ms 100] [--concurrency 8]

Prints seconds and API calls per phase (3scale Admin API and SSO admin API apart), Admin API calls per attendee
beside the floor (1 signup + 1 application per model), and the set-up time beside its target (≤ 10 s).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the shared harness, tests/harness/

from maas_helpers.reconcile import SECTIONS  # noqa: E402
from maas_helpers.workshop import Workshop, WorkshopSpec  # noqa: E402
from maas_sandbox import control  # noqa: E402

from harness import loopback as lb  # noqa: E402 - benchmarks/ is not a package
from harness import sandbox  # noqa: E402

TARGET_S = 10.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--attendees", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="sandbox Admin API answer delay")
    parser.add_argument("--concurrency", type=int, default=8, help="attendees set up at once")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="maas-bench-workshop-") as tmp:
        state = Path(tmp) / "state"
        info = sandbox.start(state, test_clock=False, admin_latency_ms=args.latency_ms)
        try:
            kit = sandbox.applied_kit(info, "Workshop bench", SECTIONS, concurrency=args.concurrency)
            room = Workshop(kit, Path(tmp) / "out")
            models = len(kit.catalogue.products)
            spec = WorkshopSpec(attendees=args.attendees, prefix="bench")
            rows = []
            for phase, run in (("up", lambda: room.up(spec)), ("re-run", lambda: room.up(spec)),
                               ("reset", room.reset), ("down", room.down)):
                room.reset_counts()
                start = time.perf_counter()
                result = run()
                seconds = time.perf_counter() - start
                rows.append((phase, seconds, kit.admin.total_calls, kit.admin.writes, sum(room.sso.calls.values()),
                             room.sso.writes, result.summary()))
            print(f"room: {args.attendees} attendees × {models} models, concurrency {args.concurrency}, "
                  f"Admin API latency {args.latency_ms:g} ms")
            print(f"{'phase':<8} {'seconds':>8} {'admin calls':>12} {'admin writes':>13} {'sso calls':>10} "
                  f"{'sso writes':>11}")
            for phase, seconds, calls, writes, sso_calls, sso_writes, _ in rows:
                print(f"{phase:<8} {seconds:>8.2f} {calls:>12} {writes:>13} {sso_calls:>10} {sso_writes:>11}")
            up = rows[0]
            per = up[2] / args.attendees
            floor = 1 + models
            print(f"Admin API calls per attendee (up): {per:.2f} vs floor {floor} writes "
                  f"(ratio {per / floor:.2f}); writes per attendee {up[3] / args.attendees:.2f}")
            print(f"set-up time: {up[1]:.2f} s vs target {TARGET_S:.0f} s (ratio {up[1] / TARGET_S:.2f})")
            ok = up[1] <= TARGET_S and rows[1][3] == 0 and rows[1][5] == 0
            print(lb.bench_line("workshop set-up 20×3", round(up[1], 2), "s", target=f"≤ {TARGET_S:.0f} s", ok=ok))
            print(lb.bench_line("workshop admin calls per attendee", round(per, 2), "calls"))
            print(f"target set-up ≤ {TARGET_S:.0f} s and re-run 0 writes: {'met' if ok else 'NOT met'}")
            return 0 if ok else 1
        finally:
            control.down(state)


if __name__ == "__main__":
    sys.exit(main())
