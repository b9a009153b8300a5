"""APIcast's builtin CORS policy (reference §10): preflight answered in rewrite, headers on every response."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    allow_headers: tuple[str, ...] | None
    allow_methods: tuple[str, ...] | None
    allow_origin: str | None
    origin_regex: re.Pattern[str] | None
    allow_credentials: bool
    max_age: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> CorsPolicy:
        config = config or {}
        origin = config.get("allow_origin")
        regex = None
        if isinstance(origin, str) and origin != "*" and re.search(r"[\\^$*+?()\[\]|]", origin):
            regex = re.compile(origin)
        headers, methods = config.get("allow_headers"), config.get("allow_methods")
        return cls(
            allow_headers=tuple(headers) if isinstance(headers, list) else None,
            allow_methods=tuple(methods) if isinstance(methods, list) else None,
            allow_origin=origin if isinstance(origin, str) and origin else None,
            origin_regex=regex,
            allow_credentials=bool(config.get("allow_credentials", True)),
            max_age=int(config.get("max_age", 600)),
        )

    @staticmethod
    def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
        return method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers

    def response_headers(self, headers: Mapping[str, str]) -> list[tuple[str, str]]:
        """CORS headers for a response to a request with these (lower-cased) headers; none without Origin."""
        origin = headers.get("origin")
        if origin is None:
            return []
        out: list[tuple[str, str]] = []
        if self.allow_headers is not None:
            if self.allow_headers:
                out.append(("Access-Control-Allow-Headers", ", ".join(self.allow_headers)))
        elif "access-control-request-headers" in headers:
            out.append(("Access-Control-Allow-Headers", headers["access-control-request-headers"]))
        if self.allow_methods is not None:
            if self.allow_methods:
                out.append(("Access-Control-Allow-Methods", ", ".join(self.allow_methods)))
        elif "access-control-request-method" in headers:
            out.append(("Access-Control-Allow-Methods", headers["access-control-request-method"]))
        if self.origin_regex is not None:
            if self.origin_regex.search(origin):
                out.append(("Access-Control-Allow-Origin", origin))
        else:
            out.append(("Access-Control-Allow-Origin", self.allow_origin or origin))
        out.append(("Access-Control-Allow-Credentials", "true" if self.allow_credentials else "false"))
        out.append(("Access-Control-Max-Age", str(self.max_age)))
        return out
