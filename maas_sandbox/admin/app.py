"""The porta-shaped HTTP app: tenant Admin API, Master API, Analytics and CMS, plus sandbox endpoints.

Every module in `maas_sandbox.admin.routes` that defines `router` (a FastAPI APIRouter) is included, so
resource groups live in their own files. Routes must be `async def` (the store is used from the event loop).
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import FastAPI

from maas_sandbox import admin_portal
from maas_sandbox.admin import routes
from maas_sandbox.admin.conventions import ApiError, api_error_handler
from maas_sandbox.admin.latency import ADMIN_ENV, DEPLOY_ENV, LatencyMiddleware, read_ms
from maas_sandbox.context import Sandbox


def create_admin_app(sandbox: Sandbox) -> FastAPI:
    app = FastAPI(
        title="3scale Admin API (maas sandbox)",
        description="The slice of 3scale's Account Management, Master, Analytics, CMS and Policy Registry APIs "
        "that the MaaS kit uses, emulated locally. See docs/sandbox.md.",
        version="2.16-sandbox",
    )
    app.state.sandbox = sandbox
    app.add_exception_handler(ApiError, api_error_handler)
    for info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{routes.__name__}.{info.name}")
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router)
    app.include_router(admin_portal.router)  # read-only HTML pages at 3scale's admin-portal paths
    admin_ms, deploy_ms = read_ms(ADMIN_ENV), read_ms(DEPLOY_ENV)
    if admin_ms or deploy_ms:  # simulate a real cluster's answer times (docs/performance.md)
        app.add_middleware(LatencyMiddleware, admin_ms=admin_ms, deploy_ms=deploy_ms or admin_ms)
    return app
