"""The gateway's Prometheus metrics (`GET /metrics`, no auth), what APIcast serves on its metrics port 9421.

Served on the admin port: the sandbox's gateways listen one port per product and environment, and the
admin app shares their process (and so their counters).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from maas_sandbox.admin.conventions import sandbox_of
from maas_sandbox.gateway.metrics import CONTENT_TYPE

router = APIRouter(tags=["sandbox"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    gateway = sandbox_of(request).gateway
    body = gateway.metrics.exposition() if gateway is not None else b""
    return Response(body, media_type=CONTENT_TYPE)
