"""Free loopback ports: one for a single server, or a sandbox `--port` whose whole range is free."""

from __future__ import annotations

import socket

from maas_sandbox.layout import find_free_base_port

__all__ = ["find_free_base_port", "free_port"]


def free_port() -> int:
    """A port the kernel says is free on 127.0.0.1 right now (bind to 0, read it back, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
