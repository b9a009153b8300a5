"""Time the whole tutorial headless (`maas run`) against a fresh sandbox: cold run, then a re-run.

    .venv/bin/python benchmarks/tutorial_run.py

Uses a temporary state dir and a free port range on 127.0.0.1; prints seconds per notebook and in total.
Target (issue 5): the whole run ≤ 60 s after installation on a 2-core machine.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the shared harness, tests/harness/

from maas_helpers.runner import run_notebooks  # noqa: E402
from maas_sandbox import control  # noqa: E402

from harness import sandbox  # noqa: E402
from harness.loopback import bench_line  # noqa: E402


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="maas-tutorial-") as tmp:
        state = Path(tmp) / "state"
        t0 = time.perf_counter()
        sandbox.start(state, test_clock=False)
        print(f"sandbox start: {time.perf_counter() - t0:.1f} s")
        try:
            for label in ("cold run", "re-run"):
                out = Path(tmp) / label.replace(" ", "-")
                code = run_notebooks("sandbox", {}, state, out, echo=lambda _line: None)
                report = json.loads((out / "run.json").read_text())
                print(f"{label}: {'ok' if code == 0 else 'FAILED'} in {report['seconds']:.1f} s")
                print(bench_line(f"tutorial {label}", round(report["seconds"], 1), "s", target="<= 60",
                                 ok=code == 0 and report["seconds"] <= 60))
                for nb in report["notebooks"]:
                    print(f"  {nb['name']:<30} {nb['status']:<8} {nb['seconds']:5.1f} s")
                if code != 0:
                    return code
        finally:
            control.down(state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
