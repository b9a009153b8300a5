"""The FastAPI application of the sandbox model server."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import openai_routes, sandbox_routes, vllm_routes
from .access import AccessGate, ModelAccess
from .errors import OpenAIError, error_response
from .fast_paths import FastPaths
from .request_log import RequestRecorder
from .state import ServerState


def create_app(seed: int = 0, state_dir: str | Path | None = None) -> FastAPI:
    """The server; with `state_dir` only the gateway (the products' secret tokens) reaches the models (access.py)."""
    state = ServerState.build(seed)
    app = FastAPI(
        title="maas-sandbox model server",
        version=vllm_routes.VERSION,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.sandbox = state
    app.state.models_body = json.dumps(
        {"object": "list", "data": [model.card() for model in state.models.values()]}
    ).encode()
    for module in (openai_routes, vllm_routes, sandbox_routes):
        app.include_router(module.router)

    @app.exception_handler(OpenAIError)
    async def openai_error(_: Request, exc: OpenAIError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 404:
            return error_response(
                404, f"Invalid URL ({request.method} {request.url.path})", None, "not_found", headers=headers
            )
        if exc.status_code == 405:
            return error_response(
                405,
                f"Method Not Allowed ({request.method} {request.url.path})",
                None,
                "method_not_allowed",
                headers=headers,
            )
        return error_response(exc.status_code, str(exc.detail), headers=headers)

    @app.exception_handler(Exception)
    async def server_error(_: Request, exc: Exception) -> JSONResponse:
        return error_response(500, f"Internal error: {type(exc).__name__}", None, None, "server_error")

    app.add_middleware(FastPaths, models_body=app.state.models_body)
    # Added last, so it runs first: every request is counted and recorded, even a 404 or 405.
    app.add_middleware(RequestRecorder, log=state.request_log)
    # Outermost: a refused direct call is neither served nor recorded.
    app.add_middleware(AccessGate, access=ModelAccess(Path(state_dir) if state_dir else None))
    return app
