"""Test support: counts every request per (method, path) and keeps the last one received.

Implemented as plain ASGI middleware (no per-request objects beyond the record itself) so the cheap
endpoints stay cheap. Paths under ``/sandbox/`` are not recorded: reading the log must not change it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SANDBOX_PREFIX = "/sandbox/"


@dataclass
class RecordedRequest:
    method: str
    path: str
    query_string: str
    headers: list[tuple[str, str]]
    body: bytes = b""

    def as_json(self) -> dict[str, Any]:
        joined: dict[str, str] = {}
        for name, value in self.headers:
            joined[name] = f"{joined[name]}, {value}" if name in joined else value
        return {
            "method": self.method,
            "path": self.path,
            "query_string": self.query_string,
            "headers": joined,
            "raw_headers": [list(pair) for pair in self.headers],
            "body": self.body.decode("utf-8", errors="replace"),
            "body_bytes": len(self.body),
        }


@dataclass
class RequestLog:
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    last: RecordedRequest | None = None

    def reset(self) -> None:
        self.counts.clear()
        self.last = None

    def as_json(self) -> dict[str, Any]:
        return {
            "total": sum(self.counts.values()),
            "counts": {f"{method} {path}": n for (method, path), n in sorted(self.counts.items())},
        }


def _may_have_body(raw_headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in raw_headers:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


class RequestRecorder:
    def __init__(self, app: ASGIApp, log: RequestLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(SANDBOX_PREFIX):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        self.log.counts[(method, path)] += 1
        raw_headers = scope["headers"]
        record = RecordedRequest(
            method,
            path,
            scope["query_string"].decode("latin-1"),
            [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw_headers],
        )
        self.log.last = record
        if not _may_have_body(raw_headers):
            await self.app(scope, receive, send)
            return
        # Read the whole body once, keep it, and replay it to the app; later receive() calls go to
        # the server so the app still sees a client disconnect.
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay(b"", message, receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        record.body = b"".join(chunks)
        request_message: Message = {"type": "http.request", "body": record.body, "more_body": False}
        await self.app(scope, _replay(record.body, request_message, receive), send)


def _replay(body: bytes, first: Message, receive: Receive) -> Receive:
    pending = [first]

    async def replayed() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replayed
