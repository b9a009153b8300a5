"""The sandbox's APIcast: staging and production listeners per product, the policy chain, proxying."""

from __future__ import annotations

from maas_sandbox import extra as _extra  # noqa: F401  (first: names the [sandbox] extra if missing)
from maas_sandbox.context import Sandbox
from maas_sandbox.gateway.listeners import Gateway


async def start_gateway(sandbox: Sandbox) -> Gateway:
    backend = sandbox.backend
    if backend is None:  # the backend normally starts first (server.py); keep the gateway usable alone
        from maas_sandbox.backend import create_backend

        backend = sandbox.backend = create_backend(sandbox)
        await backend.start()
    gateway = Gateway(sandbox, backend)
    await gateway.start()
    return gateway


__all__ = ["Gateway", "start_gateway"]
