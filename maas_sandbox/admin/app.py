"""The porta-shaped HTTP app: tenant Admin API, Master API, Analytics and CMS, plus sandbox endpoints.

Every module in `maas_sandbox.admin.routes` that defines `router` and/or `master_router` (FastAPI APIRouters)
is included, so resource groups live in their own files. The token check is the router's dependency
(`conventions.admin_router` / `master_api_router`), attached once per router, never called by a route.
Routes must be `async def` (the store is used from the event loop).
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from maas_sandbox import admin_portal
from maas_sandbox.admin import api_docs, routes
from maas_sandbox.admin.conventions import (
    ApiError,
    Forbidden,
    api_error_handler,
    presented_token,
    sandbox_of,
    tokens_equal,
)
from maas_sandbox.admin.latency import ADMIN_ENV, DEPLOY_ENV, LatencyMiddleware, read_ms
from maas_sandbox.context import Sandbox
from maas_sandbox.security_headers import ADMIN as ADMIN_HEADERS
from maas_sandbox.security_headers import SecurityHeaders


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
    app.include_router(docs_router)  # /openapi.json, behind either token
    app.include_router(api_docs.router)  # /docs: a static page; the token goes in its token box, then a header
    app.add_middleware(SecurityHeaders, headers=ADMIN_HEADERS)
    admin_ms, deploy_ms = read_ms(ADMIN_ENV), read_ms(DEPLOY_ENV)
    if admin_ms or deploy_ms:  # simulate a real cluster's answer times (docs/performance.md)
        app.add_middleware(LatencyMiddleware, admin_ms=admin_ms, deploy_ms=deploy_ms or admin_ms)
    return app


async def either_token(request: Request) -> str:
    """The API description opens to the tenant or the master token."""
    sandbox = sandbox_of(request)
    token = await presented_token(request)
    if not (tokens_equal(token, sandbox.admin_token) or tokens_equal(token, sandbox.master_token)):
        raise Forbidden()
    return str(token)


docs_router = APIRouter(include_in_schema=False, dependencies=[Depends(either_token)])


@docs_router.get("/openapi.json")
async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


