"""Reconcile benchmark: apply, re-apply and destroy a catalogue of 5 models × 3 plans against a fresh sandbox.

    .venv/bin/python benchmarks/reconcile.py [--port N]

Prints API calls (by verb) and seconds per phase. Target: re-apply ≤ 2 s with 0 writes.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from pathlib import Path

from maas_helpers.catalogue import default_catalogue
from maas_helpers.config import ModelEndpoint, make_settings
from maas_helpers.kit import Kit
from maas_sandbox import control

KINDS = ("chat", "completion", "embedding", "chat", "completion")


def _free_base(span: int = 40) -> int:
    for base in range(36000, 60000, 50):
        ok = True
        for port in range(base, base + span):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise SystemExit("no free port range on 127.0.0.1")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="maas-bench-") as tmp:
        state = Path(tmp) / "state"
        info = control.up(state, args.port or _free_base(), timeout=60)
        try:
            settings = make_settings(target="sandbox", state_dir=state)
            models = [ModelEndpoint(name=f"bench-model-{i + 1}", url=info.models_url, kind=kind)  # type: ignore[arg-type]
                      for i, kind in enumerate(KINDS)]
            kit = Kit(settings, default_catalogue(settings, models))
            plans = sum(len(p.plans) for p in kit.catalogue.products)
            print(f"catalogue: {len(models)} products × {plans // len(models)} plans, "
                  f"{sum(len(p.methods) for p in kit.catalogue.products)} mapping rules")
            rows = []
            for phase, run in (("apply", kit.apply), ("re-apply", kit.apply), ("destroy", kit.destroy)):
                kit.admin.reset_counts()
                start = time.perf_counter()
                result = run()
                seconds = time.perf_counter() - start
                rows.append((phase, kit.admin.total_calls, kit.admin.writes, dict(kit.admin.calls), seconds,
                             result.summary()))
            print(f"{'phase':<10} {'calls':>6} {'writes':>6} {'seconds':>8}  by verb")
            for phase, calls, writes, verbs, seconds, _ in rows:
                print(f"{phase:<10} {calls:>6} {writes:>6} {seconds:>8.2f}  {verbs}")
            reapply = rows[1]
            ok = reapply[2] == 0 and reapply[4] <= 2.0
            print(f"target re-apply ≤ 2 s and 0 writes: {'met' if ok else 'NOT met'}")
            return 0 if ok else 1
        finally:
            control.down(state)


if __name__ == "__main__":
    sys.exit(main())
