"""Where everything lives: the state directory's files and the sandbox's loopback port layout.

`--port N` is the first port of the range: admin (tenant Admin API, Master API, Analytics) on N, developer
portal N+1, SSO N+2, model server N+3, and product gateways from N+10 on: product slot k (1-based,
allocated at product creation, never reused) serves staging on N+8+2k and production on N+9+2k.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
DEFAULT_PORT = 8930
DEFAULT_TENANT = "maas"
MAX_PRODUCTS = 500


@dataclass(frozen=True)
class Ports:
    base: int

    @property
    def admin(self) -> int:
        return self.base

    @property
    def portal(self) -> int:
        return self.base + 1

    @property
    def sso(self) -> int:
        return self.base + 2

    @property
    def models(self) -> int:
        return self.base + 3

    def gateway(self, slot: int) -> tuple[int, int]:
        """(staging, production) ports of a product's gateway slot."""
        if not 1 <= slot <= MAX_PRODUCTS:
            raise ValueError(f"gateway slot {slot} outside 1..{MAX_PRODUCTS}")
        return self.base + 8 + 2 * slot, self.base + 9 + 2 * slot

    def url(self, port: int) -> str:
        return f"http://{HOST}:{port}"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def find_free_base_port(span: int = 80, low: int = 20000) -> int:
    """A `--port` whose first `span` ports are free on 127.0.0.1 (tests, benchmarks, parallel sandboxes).

    Searched below the kernel's ephemeral range (32768+), so outgoing connections never take a gateway port.
    """
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(low, 32768 - span, 10)
        if all(_port_free(base + i) for i in range(span)):
            return base
    raise RuntimeError(f"no {span} free consecutive ports found on {HOST}")


class StateDir:
    """The sandbox's state: SQLite database, 0600 credentials, runtime info, logs."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).resolve()

    @property
    def db(self) -> Path:
        return self.path / "sandbox.db"

    @property
    def credentials(self) -> Path:
        return self.path / "credentials.json"

    @property
    def settings(self) -> Path:
        return self.path / "settings.json"

    @property
    def runtime(self) -> Path:
        return self.path / "runtime.json"

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    def ensure(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        os.chmod(self.path, 0o700)

    def load_credentials(self) -> dict[str, str]:
        """Tokens are generated once, at first start, and kept private (0600)."""
        if self.credentials.exists():
            return json.loads(self.credentials.read_text())
        creds = {
            "admin_token": secrets.token_hex(32),
            "master_token": secrets.token_hex(32),
            "admin_password": secrets.token_urlsafe(12),
        }
        fd = os.open(self.credentials, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(creds, fh)
        return creds

    def load_settings(self, port: int | None, tenant: str | None) -> dict[str, Any]:
        """The base port and tenant are fixed at first start: stored endpoints contain the ports."""
        if self.settings.exists():
            saved = json.loads(self.settings.read_text())
            if port is not None and port != saved["port"]:
                raise ValueError(
                    f"state dir {self.path} was created with --port {saved['port']}; "
                    f"start it with that port or run 'maas sandbox reset' first"
                )
            return saved
        saved = {"port": port or DEFAULT_PORT, "tenant": tenant or DEFAULT_TENANT}
        self.settings.write_text(json.dumps(saved))
        return saved

    def read_runtime(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.runtime.read_text())
        except (OSError, ValueError):
            return None
