"""The sandbox process: one asyncio loop serving admin, portal, SSO and gateways; the model server is a child.

Components are found by name so each part of 3scale lives in its own package:
- `maas_sandbox.admin.seed.seed_tenant(sandbox)` — fresh-tenant objects, run once per state dir;
- `maas_sandbox.backend.create_backend(sandbox)` — usage/limits engine with `async start()`/`async close()`;
- `maas_sandbox.gateway.start_gateway(sandbox)` — awaitable returning a handle with `async close()`;
- `maas_sandbox.portal.create_portal_app(sandbox)`, `maas_sandbox.sso.create_sso_app(sandbox)` — ASGI apps.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from maas_sandbox import extra as _extra  # noqa: F401  (before uvicorn: names the [sandbox] extra if missing)

# isort: split
import uvicorn

from maas_sandbox import log_masking
from maas_sandbox.admin.app import create_admin_app
from maas_sandbox.clock import Clock
from maas_sandbox.context import Sandbox
from maas_sandbox.layout import HOST, Ports, StateDir
from maas_sandbox.store import Store

log = logging.getLogger("maas_sandbox")


class _QuietServer(uvicorn.Server):
    """uvicorn server that leaves signal handling to us (several servers share one loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:  # older uvicorn
        return None


def _optional(module: str, attr: str) -> Any:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise
    return getattr(mod, attr, None)


def open_sandbox(state: StateDir, port: int | None, tenant: str | None, test_clock: bool) -> Sandbox:
    state.ensure()
    creds = state.load_credentials()
    settings = state.load_settings(port, tenant)
    clock = Clock()
    store = Store(state.db, clock)
    return Sandbox(
        state=state,
        store=store,
        clock=clock,
        ports=Ports(settings["port"]),
        tenant=settings["tenant"],
        admin_token=creds["admin_token"],
        master_token=creds["master_token"],
        admin_password=creds["admin_password"],
        test_clock=test_clock,
    )


def _start_models(sandbox: Sandbox) -> subprocess.Popen[bytes] | None:
    if importlib.util.find_spec("maas_sandbox.models") is None:
        return None
    if importlib.util.find_spec("maas_sandbox.models.__main__") is None:
        return None
    logfile = open(log_masking.private_file(sandbox.state.logs / "models.log"), "ab")  # noqa: SIM115 - owned by the child
    return subprocess.Popen(
        [sys.executable, "-m", "maas_sandbox.models", "--host", HOST, "--port", str(sandbox.ports.models),
         "--state-dir", str(sandbox.state.path)],
        stdout=logfile,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509 - no threads yet
    )


def _die_with_parent() -> None:
    """In the model server child: get SIGTERM when the sandbox process dies, even by `kill -9`."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _uvicorn(app: Any, port: int) -> _QuietServer:
    config = uvicorn.Config(
        app, host=HOST, port=port, log_level="warning", access_log=False, lifespan="off", loop="none"
    )
    return _QuietServer(config)


async def serve(sandbox: Sandbox) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    seed = _optional("maas_sandbox.admin.seed", "seed_tenant")
    if seed is not None:
        seed(sandbox)

    create_backend = _optional("maas_sandbox.backend", "create_backend")
    if create_backend is not None:
        sandbox.backend = create_backend(sandbox)
        await sandbox.backend.start()

    models = _start_models(sandbox)
    servers = [_uvicorn(create_admin_app(sandbox), sandbox.ports.admin)]
    for module, factory, port in (
        ("maas_sandbox.portal", "create_portal_app", sandbox.ports.portal),
        ("maas_sandbox.sso", "create_sso_app", sandbox.ports.sso),
    ):
        make = _optional(module, factory)
        if make is not None:
            servers.append(_uvicorn(make(sandbox), port))
    tasks = [asyncio.create_task(s.serve()) for s in servers]

    start_gateway = _optional("maas_sandbox.gateway", "start_gateway")
    if start_gateway is not None:
        sandbox.gateway = await start_gateway(sandbox)

    while not all(s.started for s in servers):
        if any(t.done() for t in tasks):
            for t in tasks:
                if t.done() and t.exception():
                    raise t.exception()  # type: ignore[misc]
            raise SystemExit("a sandbox listener stopped during start (port in use?)")
        await asyncio.sleep(0.02)

    runtime = {
        "pid": os.getpid(),
        "models_pid": models.pid if models else None,
        "started_at": time.time(),
        "port": sandbox.ports.base,
        "tenant": sandbox.tenant,
        "admin_url": sandbox.admin_url,
        "master_url": sandbox.master_url,
        "portal_url": sandbox.portal_url,
        "sso_url": sandbox.sso_url,
        "models_url": sandbox.models_url,
        "test_clock": sandbox.test_clock,
    }
    sandbox.state.runtime.write_text(json.dumps(runtime, indent=2))
    log.info("sandbox up on %s", sandbox.admin_url)

    await stop.wait()
    log.info("sandbox stopping")
    if sandbox.gateway is not None:
        await sandbox.gateway.close()
    for s in servers:
        s.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
    if sandbox.backend is not None:
        await sandbox.backend.close()
    if models is not None:
        models.terminate()
        try:
            models.wait(timeout=5)
        except subprocess.TimeoutExpired:
            models.kill()
    sandbox.store.close()
    with contextlib.suppress(FileNotFoundError):
        sandbox.state.runtime.unlink()


def run(state_dir: str, port: int | None, tenant: str | None, test_clock: bool) -> None:
    state = StateDir(state_dir)
    sandbox = open_sandbox(state, port, tenant, test_clock)
    log_masking.configure(state.logs / "sandbox.log")  # 0600, token-shaped values masked
    try:
        import uvloop

        uvloop.run(serve(sandbox))
    except ImportError:
        asyncio.run(serve(sandbox))
