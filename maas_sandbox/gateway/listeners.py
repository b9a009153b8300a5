"""Product listeners and the compiled route table.

One listener per product per environment on the ports of the product's gateway slot (the sandbox
routes by port, not by Host header). The route table is rebuilt when `store.generation` changes —
checked per request with one int compare and by a watcher that opens and closes listeners.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from maas_sandbox.context import Sandbox
from maas_sandbox.gateway.auth_cache import AuthCache
from maas_sandbox.gateway.config import CompiledProduct, compile_content
from maas_sandbox.gateway.limits import ClientLimits
from maas_sandbox.gateway.metrics import GatewayMetrics
from maas_sandbox.gateway.server import GatewayProtocol
from maas_sandbox.gateway.upstream import UpstreamPool
from maas_sandbox.layout import HOST
from maas_sandbox.models.access import write_access_file

log = logging.getLogger("maas_sandbox.gateway")

ENVIRONMENTS = ("sandbox", "production")
WATCH_INTERVAL = 0.02


class Gateway:
    def __init__(self, sandbox: Sandbox, backend: Any) -> None:
        self.sandbox = sandbox
        self.store = sandbox.store
        self.backend = backend
        self.pool = UpstreamPool()
        self.limits = ClientLimits.from_env()
        self.metrics = GatewayMetrics()  # served by the admin app at /metrics
        self.auth_cache = AuthCache()  # APIcast's strict authorization cache (gateway/auth_cache.py)
        self.generation = -1
        self.routes: dict[tuple[int, str], CompiledProduct] = {}
        self.slots: dict[int, int] = {}  # service id → gateway slot
        self.servers: dict[tuple[int, str], asyncio.AbstractServer] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._sync_lock = asyncio.Lock()

    # -- route table --------------------------------------------------------------------------
    def route(self, service_id: int, environment: str) -> CompiledProduct | None:
        if self.store.generation != self.generation:
            self.rebuild()
        return self.routes.get((service_id, environment))

    def rebuild(self) -> None:
        generation = self.store.generation
        slots: dict[int, int] = {}
        for service in self.store.list("service"):
            slot = service.get("_gateway_slot")
            if isinstance(slot, int) and slot > 0:
                slots[service["id"]] = slot
        latest: dict[tuple[int, str], dict[str, Any]] = {}
        for config in self.store.list("proxy_config"):
            env = "sandbox" if config.get("environment") == "staging" else config.get("environment")
            try:
                key = (int(config["service_id"]), str(env))
                version = int(config.get("version") or 0)
            except (KeyError, TypeError, ValueError):
                continue
            current = latest.get(key)
            if current is None or version > int(current.get("version") or 0):
                latest[key] = config
        routes: dict[tuple[int, str], CompiledProduct] = {}
        for key, config in latest.items():
            if key[0] not in slots:
                continue
            try:
                routes[key] = compile_content(config.get("content") or {}, key[1], int(config.get("version") or 0))
            except Exception:
                log.exception("cannot compile proxy config %s of service %s", config.get("id"), key[0])
        self.routes, self.slots, self.generation = routes, slots, generation
        self._share_secret_tokens()

    def _share_secret_tokens(self) -> None:
        """Tell the model server which secret tokens the gateway sends (models/access.py): before the first
        request of a new configuration is forwarded, so it is never refused."""
        tokens = {r.secret_token for r in self.routes.values() if r.secret_token}
        try:
            write_access_file(self.sandbox.state.path, tokens)
        except OSError as exc:  # the model server keeps the last set; the log says why a call may be refused
            log.error("cannot write the model server's access file: %s", exc)

    # -- listeners ----------------------------------------------------------------------------
    async def sync_listeners(self) -> None:
        async with self._sync_lock:
            if self.store.generation != self.generation:
                self.rebuild()
            wanted: dict[tuple[int, str], int] = {}
            for service_id, slot in self.slots.items():
                try:
                    staging, production = self.sandbox.ports.gateway(slot)
                except ValueError:
                    continue
                wanted[(service_id, "sandbox")] = staging
                wanted[(service_id, "production")] = production
            for key in [k for k in self.servers if k not in wanted]:
                server = self.servers.pop(key)
                server.close()
            loop = asyncio.get_running_loop()
            for key, port in wanted.items():
                if key in self.servers:
                    continue
                service_id, env = key
                try:
                    self.servers[key] = await loop.create_server(
                        lambda s=service_id, e=env: GatewayProtocol(self, s, e),
                        HOST,
                        port,
                        reuse_address=True,
                        backlog=1024,
                    )
                except OSError as exc:
                    log.error("cannot listen on %s:%s for service %s (%s): %s", HOST, port, service_id, env, exc)

    async def _watch(self) -> None:
        seen = -1
        while True:
            if self.store.generation != seen:
                seen = self.store.generation
                try:
                    await self.sync_listeners()
                except Exception:
                    log.exception("gateway listener sync failed")
            await asyncio.sleep(WATCH_INTERVAL)

    async def start(self) -> None:
        await self.sync_listeners()
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        for server in self.servers.values():
            server.close()
        for server in self.servers.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1)
        self.servers.clear()
        self.pool.close()
