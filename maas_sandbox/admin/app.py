"""The porta-shaped HTTP app: tenant Admin API, Master API, Analytics and CMS, plus sandbox endpoints.

Every module in `maas_sandbox.admin.routes` that defines `router` and/or `master_router` (FastAPI APIRouters)
is included, so resource groups live in their own files. The token check is the router's dependency
(`conventions.admin_router` / `master_api_router`), attached once per router, never called by a route.
Routes must be `async def` (the store is used from the event loop).
"""

from __future__ import annotations

import importlib
import pkgutil
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from maas_sandbox import admin_portal
from maas_sandbox.admin import routes
from maas_sandbox.admin.conventions import ApiError, Forbidden, api_error_handler, presented_token, tokens_equal
from maas_sandbox.admin.latency import ADMIN_ENV, DEPLOY_ENV, LatencyMiddleware, read_ms
from maas_sandbox.context import Sandbox


def create_admin_app(sandbox: Sandbox) -> FastAPI:
    app = FastAPI(
        title="3scale Admin API (maas sandbox)",
        description="The slice of 3scale's Account Management, Master, Analytics, CMS and Policy Registry APIs "
        "that the MaaS kit uses, emulated locally. See docs/sandbox.md.",
        version="2.16-sandbox",
        openapi_url=None,  # served below behind the token: the route list is not for anonymous clients
        docs_url=None,
        redoc_url=None,
    )
    app.state.sandbox = sandbox
    app.add_exception_handler(ApiError, api_error_handler)
    for info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{routes.__name__}.{info.name}")
        for name in ("router", "master_router"):  # tenant-token (or public) routes, then master-token ones
            router = getattr(module, name, None)
            if router is not None:
                app.include_router(router)
    app.include_router(admin_portal.router)  # read-only HTML pages at 3scale's admin-portal paths
    _docs_routes(app, sandbox)
    admin_ms, deploy_ms = read_ms(ADMIN_ENV), read_ms(DEPLOY_ENV)
    if admin_ms or deploy_ms:  # simulate a real cluster's answer times (docs/performance.md)
        app.add_middleware(LatencyMiddleware, admin_ms=admin_ms, deploy_ms=deploy_ms or admin_ms)
    return app


def _docs_routes(app: FastAPI, sandbox: Sandbox) -> None:
    async def token_of(request: Request) -> str:
        token = await presented_token(request)
        if not (tokens_equal(token, sandbox.admin_token) or tokens_equal(token, sandbox.master_token)):
            raise Forbidden()
        return str(token)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> JSONResponse:
        await token_of(request)
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        token = await token_of(request)
        return get_swagger_ui_html(openapi_url=f"/openapi.json?access_token={quote(token)}", title=app.title)
