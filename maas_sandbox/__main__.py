"""`python -m maas_sandbox serve --state-dir D [--port N] [--tenant T] [--test-clock]` (used by `maas sandbox up`)."""

from __future__ import annotations

import argparse
import sys

from maas_sandbox.server import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m maas_sandbox")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the sandbox in the foreground")
    serve.add_argument("--state-dir", default=".maas")
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--tenant", default=None)
    serve.add_argument("--test-clock", action="store_true", help="allow moving time via the clock endpoint")
    args = parser.parse_args(argv)
    run(args.state_dir, args.port, args.tenant, args.test_clock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
