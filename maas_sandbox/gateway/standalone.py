"""Run the backend and gateway alone, on their own event loop in a thread, over an existing store.

For tests and benchmarks that hand-make configuration in the store instead of going through the
Admin API. The sandbox process itself does not use this.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from maas_sandbox.backend import create_backend
from maas_sandbox.clock import Clock
from maas_sandbox.context import Sandbox
from maas_sandbox.gateway import start_gateway
from maas_sandbox.layout import Ports, StateDir
from maas_sandbox.store import Store


class StandaloneDataPlane:
    def __init__(self, state_dir: Path, base_port: int) -> None:
        state = StateDir(state_dir)
        state.ensure()
        clock = Clock()
        self.sandbox = Sandbox(
            state=state,
            store=Store(state.db, clock),
            clock=clock,
            ports=Ports(base_port),
            tenant="test",
            admin_token="admin",
            master_token="master",
            admin_password="pw",
            test_clock=True,
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None

    @property
    def store(self) -> Store:
        return self.sandbox.store

    def url(self, slot: int, environment: str) -> str:
        staging, production = self.sandbox.gateway_urls(slot)
        return staging if environment == "sandbox" else production

    def call(self, fn: Any, *args: Any) -> Any:
        """Run `fn(*args)` on the data plane's loop (the backend is not thread-safe by design)."""
        assert self.loop is not None
        future: Any = asyncio.run_coroutine_threadsafe(_call(fn, *args), self.loop)
        return future.result(10)

    def sync(self) -> None:
        """Wait until listeners and routes reflect the store (after writing configuration)."""
        self.call(lambda: None)
        assert self.loop is not None
        asyncio.run_coroutine_threadsafe(self.sandbox.gateway.sync_listeners(), self.loop).result(10)

    def start(self) -> StandaloneDataPlane:
        self._thread = threading.Thread(target=self._run, name="data-plane", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("data plane did not start")
        return self

    def _run(self) -> None:
        try:
            import uvloop

            uvloop.run(self._main())
        except ImportError:
            asyncio.run(self._main())

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.sandbox.backend = create_backend(self.sandbox)
        await self.sandbox.backend.start()
        self.sandbox.gateway = await start_gateway(self.sandbox)
        self._ready.set()
        await self._stop.wait()
        await self.sandbox.gateway.close()
        await self.sandbox.backend.close()

    def close(self) -> None:
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
        self.sandbox.store.close()


async def _call(fn: Any, *args: Any) -> Any:
    result = fn(*args)
    if asyncio.iscoroutine(result):
        result = await result
    return result
