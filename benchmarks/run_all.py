"""`make bench`: run every script in benchmarks/ one after another (each starts its own sandbox on loopback),
show its output as it runs, then print one summary table.

Scripts may print `BENCH {"name", "value", "unit", "target", "ok"}` lines (see loopback.bench_line); those
become rows of the table. For a script without them, its lines carrying figures (latency, ratio, TTFB,
seconds, target) are shown instead. A script's failure (non-zero exit, timeout) is a row too, and makes
`make bench` fail.

    .venv/bin/python benchmarks/run_all.py [--only NAME ...] [--timeout 900]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOT_SCRIPTS = {"run_all.py", "soak.py"}  # the runner, `make soak` (the shared harness is tests/harness/)
ORDER = ["gateway_overhead", "reconcile", "tutorial_run", "auth_fuzz", "limits_concurrency", "crash_safety"]
ARGS = {"auth_fuzz": ["--requests", "50000"], "crash_safety": ["--rounds", "3"]}  # bounded long versions
FIGURE = re.compile(r"(?i)\d.*\b(p50|p99|ratio|ttfb|added|target|re-apply|apply|destroy|total|req/s|run)\b"
                    r"|\b(p50|p99|ratio|ttfb|added|target|re-apply|apply|destroy|total|req/s)\b.*\d")


@dataclass
class Outcome:
    name: str
    code: int
    seconds: float
    rows: list[dict[str, object]] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)


def scripts(only: list[str]) -> list[Path]:
    found = {p.stem: p for p in HERE.glob("*.py") if p.name not in NOT_SCRIPTS and "__main__" in p.read_text()}
    names = [n for n in ORDER if n in found] + sorted(n for n in found if n not in ORDER)
    return [found[n] for n in names if not only or n in only]


def run_script(path: Path, timeout: float) -> Outcome:
    print(f"\n=== {path.name} " + "=" * max(0, 70 - len(path.name)), flush=True)
    started = time.monotonic()
    lines: list[str] = []
    proc = subprocess.Popen(
        [sys.executable, str(path), *ARGS.get(path.stem, [])],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=HERE.parent,
    )
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line.rstrip("\n"))
            if time.monotonic() - started > timeout:
                raise subprocess.TimeoutExpired(path.name, timeout)
        code = proc.wait(timeout=max(1.0, timeout - (time.monotonic() - started)))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        code = -9
        lines.append(f"timed out after {timeout:.0f} s")
    outcome = Outcome(path.stem, code, time.monotonic() - started)
    for line in lines:
        if line.startswith("BENCH "):
            try:
                outcome.rows.append(json.loads(line[6:]))
            except ValueError:
                outcome.figures.append(line)
    if not outcome.rows:
        outcome.figures = [ln.strip() for ln in lines if FIGURE.search(ln) and "Traceback" not in ln][-6:]
    return outcome


def summary(outcomes: list[Outcome]) -> str:
    out = ["", "=" * 100, f"{'script':<20} {'status':<8} {'seconds':>7}  figure", "-" * 100]
    for o in outcomes:
        status = "ok" if o.code == 0 else ("timeout" if o.code == -9 else f"exit {o.code}")
        first = True
        for row in o.rows:
            verdict = {True: "met", False: "MISSED", None: ""}[row.get("ok")]  # type: ignore[index]
            target = f" (target {row['target']})" if row.get("target") else ""
            figure = f"{row['name']}: {row['value']} {row.get('unit', '')}".rstrip() + f"{target} {verdict}"
            out.append(f"{o.name if first else '':<20} {status if first else '':<8} "
                       f"{f'{o.seconds:.0f}' if first else '':>7}  {figure.rstrip()}")
            first = False
        for figure in o.figures:
            out.append(f"{o.name if first else '':<20} {status if first else '':<8} "
                       f"{f'{o.seconds:.0f}' if first else '':>7}  {figure[:110]}")
            first = False
        if first:
            out.append(f"{o.name:<20} {status:<8} {o.seconds:>7.0f}  (no figures printed)")
    out.append("=" * 100)
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], help="script names without .py")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per script")
    args = parser.parse_args()
    outcomes = [run_script(path, args.timeout) for path in scripts(args.only)]
    print(summary(outcomes))
    return 0 if all(o.code == 0 for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
