"""``python -m maas_sandbox.models --host 127.0.0.1 --port N [--seed S] [--log-file F] [--state-dir D]``."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from collections.abc import Sequence

import uvicorn

from .server import create_app


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m maas_sandbox.models",
        description="Sandbox OpenAI/vLLM-compatible model server (loopback only).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0, help="seed for sampling and fingerprints (default 0)")
    parser.add_argument("--log-file", help="write the server log here instead of stderr")
    parser.add_argument("--access-log", action="store_true", help="log every request (off: benchmarks)")
    parser.add_argument("--state-dir", help="the sandbox's state dir: only its products' secret tokens open the "
                        "model API, its admin token the /sandbox/* log (without it: open, no /sandbox/*)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not _loopback(args.host):
        print(
            f"refusing to bind {args.host}: the sandbox model server listens on loopback only",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(
        filename=args.log_file, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(args.seed, args.state_dir)
    logger = logging.getLogger("maas_sandbox.models")
    logger.info("models: %s", ", ".join(app.state.sandbox.models))
    if not args.state_dir:
        logger.warning("no --state-dir: the model API answers any caller on loopback; /sandbox/* is not served")
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=args.access_log,
        lifespan="off",
        server_header=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
