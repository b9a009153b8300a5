"""Client-side limits of the gateway's HTTP server, as nginx applies them under APIcast.

APIcast's nginx.conf sets `large_client_header_buffers 4 8k` and no `client_max_body_size` of its own; the
rest are nginx's defaults: client_header_timeout 60s, client_body_timeout 60s, keepalive_timeout 75s.
The sandbox adds a body-size cap (nginx's default is 1m, which APIcast deployments raise; ours is 16 MiB: a
1 MiB prompt passes and what one connection can make the sandbox hold stays bounded) and a header-count cap.
Each value can be set by an environment variable of the sandbox process, read when the gateway starts
(MAAS_GATEWAY_<FIELD NAME IN CAPITALS>, e.g. MAAS_GATEWAY_CLIENT_MAX_BODY_SIZE=0 for no body limit).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

ENV_PREFIX = "MAAS_GATEWAY_"


@dataclass(frozen=True)
class ClientLimits:
    client_max_body_size: int = 16 * 1024 * 1024  # bytes; 0 = unlimited; over it: 413
    header_buffer_size: int = 8 * 1024  # one large_client_header_buffers buffer: request line → 414, header → 400
    header_buffers: int = 4  # the whole header block must fit in 4 buffers, else 400
    max_headers: int = 100  # ours: more header lines than this → 400
    client_header_timeout: float = 60.0  # seconds to send the request line and headers
    client_body_timeout: float = 60.0  # seconds between two reads of the body
    keepalive_timeout: float = 75.0  # idle seconds between requests on a kept-alive connection

    @property
    def max_header_block(self) -> int:
        return self.header_buffer_size * self.header_buffers

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ClientLimits:
        env = os.environ if environ is None else environ
        values: dict[str, float | int] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None or not raw.strip():
                continue
            kind = float if f.type in ("float", float) else int
            try:
                value = kind(raw)
            except ValueError as exc:
                raise SystemExit(f"{ENV_PREFIX}{f.name.upper()}={raw!r}: expected a number") from exc
            if value < 0 or value != value:
                raise SystemExit(f"{ENV_PREFIX}{f.name.upper()}={raw!r}: must be >= 0")
            values[f.name] = value
        return cls(**values)  # type: ignore[arg-type]
