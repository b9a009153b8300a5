"""Test-support endpoints under /sandbox/ (never counted in the request log themselves; the admin token opens
them when the server runs for a sandbox, see access.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .errors import error_response
from .state import ServerState

router = APIRouter(prefix="/sandbox")


def _state(request: Request) -> ServerState:
    return request.app.state.sandbox


@router.get("/models")
async def served_models(request: Request) -> Response:
    """The served models' cards (the body of `GET /v1/models`) for the admin: the kit's discovery reads it."""
    return Response(request.app.state.models_body, media_type="application/json")


@router.get("/requests")
async def request_counts(request: Request) -> JSONResponse:
    return JSONResponse(_state(request).request_log.as_json())


@router.delete("/requests")
async def reset_request_counts(request: Request) -> JSONResponse:
    log = _state(request).request_log
    log.reset()
    return JSONResponse(log.as_json())


@router.get("/last-request")
async def last_request(request: Request) -> JSONResponse:
    last = _state(request).request_log.last
    if last is None:
        return error_response(404, "No request has been received since start or the last reset.", None, "not_found")
    return JSONResponse(last.as_json())
