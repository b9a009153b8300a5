"""Sandbox-only endpoints: health (no auth) and the test clock (master token, only with --test-clock)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from maas_sandbox.admin.conventions import (
    BadRequest,
    NotFound,
    master_api_router,
    read_params,
    sandbox_of,
)
from maas_sandbox.clock import iso, parse_iso

router = APIRouter(tags=["sandbox"])  # public
master_router = master_api_router(tags=["sandbox"])


@router.get("/sandbox/health")
async def health(request: Request) -> dict[str, object]:
    sandbox = sandbox_of(request)
    return {"status": "ok", "tenant": sandbox.tenant, "now": iso(sandbox.clock.now())}


@master_router.get("/sandbox/api/clock.json")
async def get_clock(request: Request) -> dict[str, object]:
    sandbox = sandbox_of(request)
    return {"clock": {"now": iso(sandbox.clock.now()), "frozen": sandbox.clock.frozen, "time": sandbox.clock.time()}}


@master_router.put("/sandbox/api/clock.json")
async def set_clock(request: Request) -> dict[str, object]:
    """Move sandbox time: `now` (ISO 8601), optional `freeze`, or `advance` (seconds), or `reset`."""
    sandbox = sandbox_of(request)
    if not sandbox.test_clock:
        raise NotFound()
    params = await read_params(request)
    if params.get("reset"):
        sandbox.clock.reset()
    elif "advance" in params:
        sandbox.clock.advance(float(params["advance"]))
    elif "now" in params:
        try:
            when = parse_iso(str(params["now"]))
        except ValueError as exc:
            raise BadRequest("now must be an ISO 8601 timestamp") from exc
        sandbox.clock.set(when, freeze=str(params.get("freeze", "")).lower() in ("1", "true"))
    else:
        raise BadRequest("Required parameter missing: now")
    if sandbox.backend is not None and hasattr(sandbox.backend, "clock_changed"):
        sandbox.backend.clock_changed()
    return {"clock": {"now": iso(sandbox.clock.now()), "frozen": sandbox.clock.frozen, "time": sandbox.clock.time()}}
