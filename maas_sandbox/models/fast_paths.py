"""Answers GET /health and GET /v1/models before FastAPI routing.

Gateway latency benchmarks use these two endpoints as their upstream; answering them from
pre-rendered bytes in plain ASGI roughly doubles the requests per second the model server can take,
so the benchmark measures the gateway rather than this server's framework. The FastAPI routes for the
same paths stay in place and give the same answers when this layer is not installed.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

_JSON = [(b"content-type", b"application/json")]


class FastPaths:
    def __init__(self, app: ASGIApp, models_body: bytes) -> None:
        self.app = app
        self._answers: dict[str, tuple[list[tuple[bytes, bytes]], bytes]] = {
            "/health": ([(b"content-length", b"0")], b""),
            "/v1/models": ([*_JSON, (b"content-length", str(len(models_body)).encode())], models_body),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            answer = self._answers.get(scope["path"])
            if answer is not None:
                headers, body = answer
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
