"""Simulated real-cluster latency for the Admin API (`MAAS_SANDBOX_ADMIN_LATENCY_MS`, and
`MAAS_SANDBOX_DEPLOY_LATENCY_MS` for proxy deploy and promote, which take about a second on a real 3scale).

The delay is an `asyncio.sleep` before the answer, so concurrent calls overlap as they do against a cluster and
the gateways (same event loop, other listeners) are never held up. Health checks are not delayed.
"""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any

ADMIN_ENV = "MAAS_SANDBOX_ADMIN_LATENCY_MS"
DEPLOY_ENV = "MAAS_SANDBOX_DEPLOY_LATENCY_MS"
_DEPLOY = re.compile(r"^/admin/api/services/[^/]+/proxy/(deploy|configs/[^/]+/[^/]+/promote)\.json$")
_EXEMPT = ("/sandbox/",)


def read_ms(name: str) -> float:
    """A non-negative millisecond value from the environment (0 when unset); a clear error otherwise."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a number of milliseconds; set e.g. {name}=100") from None
    if value < 0 or value > 60_000:
        raise SystemExit(f"{name}={raw!r} must be between 0 and 60000 milliseconds")
    return value


class LatencyMiddleware:
    """Pure ASGI middleware (no response buffering): sleep, then let the route answer."""

    def __init__(self, app: Any, admin_ms: float, deploy_ms: float) -> None:
        self.app, self.admin_s, self.deploy_s = app, admin_ms / 1000, deploy_ms / 1000

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope.get("path", "")
            if not path.startswith(_EXEMPT):
                delay = self.deploy_s if scope.get("method") == "POST" and _DEPLOY.match(path) else self.admin_s
                if delay > 0:
                    await asyncio.sleep(delay)
        await self.app(scope, receive, send)
