"""The gateway's HTTP/1.1 server: one asyncio protocol per client connection, parsed by httptools.

Per request (APIcast's phases in chain order): route → CORS preflight → llm-metrics rewrite → credentials
→ mapping rules → llm-metrics token quota → authrep → proxy upstream, streaming the response back piece
by piece → llm-metrics reads the usage on the way and reports it after the response.

The token quota reserves an upper bound of the request's tokens while it is in flight, so concurrent
requests cannot all pass the check before any of them reports; the reservation is released when the
exchange ends, whichever way it ends.

Client limits are nginx's under APIcast (gateway/limits.py): the request line and headers are bounded while
they arrive (414/400), the body by client_max_body_size (413, from Content-Length before any of it is read),
and client header/body/keep-alive timeouts close stalled connections. A request with a body is checked for
credentials and a mapping rule as soon as its headers are in, so a request without a valid key is answered
(and its connection closed) before its body is read: it costs no memory.

Upstream failures are answered as nginx does under APIcast: 502 when the upstream cannot be reached (or
connecting exceeds the connect timeout), 504 when it stays silent past the read timeout before the response
headers, and the client connection is closed when either happens after the headers went out.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, NamedTuple

import httptools

from maas_sandbox.backend import LIMITS_EXCEEDED, OK, Backend, Reservation
from maas_sandbox.backend.engine import ExceededLimit
from maas_sandbox.gateway import credentials as creds
from maas_sandbox.gateway import llm_metrics as lm
from maas_sandbox.gateway.config import (
    BODY_TOO_LARGE,
    HEADER_TOO_LARGE,
    UPSTREAM_FAILED,
    UPSTREAM_TIMED_OUT,
    URI_TOO_LONG,
    CompiledProduct,
    ErrorResponse,
    reason,
    status_line,
)
from maas_sandbox.gateway.mapping import match_usage, normalize_path, query_args
from maas_sandbox.gateway.upstream import Stale, UpstreamConnection, UpstreamError, UpstreamReadTimeout

if TYPE_CHECKING:
    from maas_sandbox.gateway.listeners import Gateway

log = logging.getLogger("maas_sandbox.gateway")

HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding", b"upgrade"}
)
# Request headers never forwarded upstream, by (credentials in Authorization, test-clock sandbox). nginx's
# `proxy_set_header X-3scale-proxy-secret-token $secret_token` replaces a client's header of that name (and
# sends none when the product has no secret); the model server's pacing header is for the sandbox's own tests
# only (a test-clock sandbox), never for any client of a real-looking gateway.
_ALWAYS_DROPPED = frozenset({b"host", b"content-length", b"x-3scale-proxy-secret-token", *HOP_BY_HOP})
_DROPPED = {
    (authorization, test_clock): _ALWAYS_DROPPED
    | ({b"authorization"} if authorization else set())
    | (set() if test_clock else {b"x-sandbox-token-delay-ms"})
    for authorization in (False, True)
    for test_clock in (False, True)
}
_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
MAX_PIPELINED = 8  # parsed requests waiting behind the one being served before reading pauses


class _Rejected(Exception):
    """Raised from a parser callback to stop parsing once the request has been answered (or will be)."""


class Request:
    __slots__ = ("method", "target", "raw_headers", "headers", "body", "keep_alive")

    def __init__(
        self, method: str, target: str, raw_headers: list[tuple[bytes, bytes]], body: bytes, keep_alive: bool
    ) -> None:
        self.method = method
        self.target = target
        self.raw_headers = raw_headers
        self.headers = {}
        for name, value in raw_headers:
            key = name.decode("latin-1").lower()
            if key not in self.headers:
                self.headers[key] = value.decode("latin-1")
        self.body = body
        self.keep_alive = keep_alive


class GatewayProtocol(asyncio.Protocol):
    """One client connection to a product's staging or production listener."""

    def __init__(self, gateway: Gateway, service_id: int, environment: str) -> None:
        self.gateway = gateway
        self.service_id = service_id
        self.environment = environment
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.queue: deque[Request] = deque()
        self.busy = False
        self.closed = False
        self.reading = True
        self.exchange: Exchange | None = None
        self.limits = gateway.limits
        self.in_message = False  # a request has begun arriving and is not complete yet
        self.begun_in_feed = False
        self.headers_done = False  # the current message's headers are complete (its body may follow)
        self.head_bytes = 0  # bytes received while headers were incomplete (bounds httptools' buffering)
        self.body_size = 0
        self.head_size = 0  # the current message's header lines so far (all must fit the 4 buffers)
        self.final: bytes | None = None  # the answer owed after the responses in flight, then close
        self.timer: asyncio.TimerHandle | None = None
        self.deadline: float | None = None  # loop time when the current client timeout expires
        self.loop: asyncio.AbstractEventLoop  # the running loop, from connection_made on

    # -- asyncio ------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not subclasses
        self.loop = asyncio.get_running_loop()
        self._arm(self.limits.client_header_timeout)

    def data_received(self, data: bytes) -> None:
        if self.closed or self.final is not None:
            return
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserUpgrade, httptools.HttpParserError):
            if self.closed or self.final is not None:
                return  # a limit answered it (_Rejected)
            self._refuse(_BAD_REQUEST)
            return
        # httptools buffers a header line until it ends: bound what a message's unfinished header block holds
        # (the chunk where it began is not counted; a chunk is at most the transport's read size)
        if self.in_message and not self.headers_done:
            if self.begun_in_feed:
                self.begun_in_feed = False
            else:
                self.head_bytes += len(data)
            if self.head_bytes > self.limits.max_header_block:
                self._refuse(HEADER_TOO_LARGE.head + b"Connection: close\r\n\r\n" + HEADER_TOO_LARGE.body)

    def _refuse(self, response: bytes) -> None:
        """Answer and close: now, or after the responses already owed (in order)."""
        if self.busy:
            self.final = response
            self._pause_reading()
        else:
            self.write_and_close(response)

    def _reject(self, error: ErrorResponse) -> None:
        self._refuse(error.head + b"Connection: close\r\n\r\n" + error.body)
        raise _Rejected

    # -- timeouts: one timer per connection, for whichever of nginx's client timeouts applies now --------
    # Re-arming only moves a deadline (one loop.time() call); the handle re-schedules itself for what is left,
    # so keep-alive requests do not create and cancel timer handles.
    def _arm(self, seconds: float) -> None:
        if seconds <= 0:
            self.deadline = None
            return
        loop = self.loop
        self.deadline = loop.time() + seconds
        if self.timer is None or self.timer.when() > self.deadline:
            if self.timer is not None:
                self.timer.cancel()
            self.timer = loop.call_at(self.deadline, self._timed_out)

    def _disarm(self) -> None:
        self.deadline = None

    def _timed_out(self) -> None:
        self.timer = None
        if self.deadline is None or self.closed:
            return
        loop = self.loop
        if loop.time() < self.deadline:
            self.timer = loop.call_at(self.deadline, self._timed_out)
            return
        if not self.busy and self.transport is not None:
            self.transport.close()  # nginx closes without an answer (408 is only logged)
            self.closed = True

    # Reading stays on while a request is served, so a client that goes away is noticed at once
    # (connection_lost closes the upstream, which ends the exchange and frees its quota reservation).
    def _pause_reading(self) -> None:
        if self.reading and self.transport is not None and not self.closed:
            self.transport.pause_reading()
            self.reading = False

    def _resume_reading(self) -> None:
        if not self.reading and self.transport is not None and not self.closed:
            self.transport.resume_reading()
            self.reading = True

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.deadline = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        exchange = self.exchange
        if exchange is not None and exchange.upstream is not None:
            exchange.upstream.abort()  # stop an upstream generation nobody will read

    def pause_writing(self) -> None:
        if self.exchange is not None and self.exchange.upstream is not None:
            self.exchange.upstream.pause()

    def resume_writing(self) -> None:
        if self.exchange is not None and self.exchange.upstream is not None:
            self.exchange.upstream.resume()

    # -- httptools callbacks ------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.url = b""
        self.raw_headers = []
        self.body = []
        self.body_size = self.head_bytes = self.head_size = 0
        self.in_message = self.begun_in_feed = True
        if not self.busy:
            self._arm(self.limits.client_header_timeout)

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > self.limits.header_buffer_size:
            self._reject(URI_TOO_LONG)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.raw_headers.append((name, value))
        limits, size = self.limits, len(name) + len(value) + 4
        self.head_size += size
        if (size > limits.header_buffer_size or self.head_size > limits.max_header_block
                or len(self.raw_headers) > limits.max_headers):
            self._reject(HEADER_TOO_LARGE)

    def on_headers_complete(self) -> None:
        self.headers_done = True
        self.head_bytes = 0
        length = chunked = None
        for name, value in self.raw_headers:
            lower = name.lower()
            if lower == b"content-length":
                length = value
            elif lower == b"transfer-encoding":
                chunked = value
        if length is None and chunked is None:
            return  # no body: nothing to bound or to read
        limit = self.limits.client_max_body_size
        if length is not None and limit and length.strip().isdigit() and int(length) > limit:
            self._reject(BODY_TOO_LARGE)
        if not self.busy:
            self._early_answer()
            self._arm(self.limits.client_body_timeout)

    def on_body(self, body: bytes) -> None:
        self.body_size += len(body)
        limit = self.limits.client_max_body_size
        if limit and self.body_size > limit:
            self.body = []
            self._reject(BODY_TOO_LARGE)
        self.body.append(body)
        if not self.busy:
            self._arm(self.limits.client_body_timeout)

    def _early_answer(self) -> None:
        """Before the body is read: the chain's answers that do not depend on it (missing or wrong key, no
        mapping rule), so an unauthenticated body is never buffered. Anything else waits for the body."""
        product = self.gateway.route(self.service_id, self.environment)
        if product is None or not product.apicast:
            return
        request = Request(self.parser.get_method().decode("ascii"), self.url.decode("latin-1"), self.raw_headers,
                          b"", False)
        if product.cors is not None and product.cors.is_preflight(request.method, request.headers):
            return
        exchange = Exchange(self, request)
        raw_path, _, query = request.target.partition("?")
        user_key = exchange._credentials(product, query, b"")
        usage: dict[str, int] = {}
        if user_key is None:
            if product.credentials_location == "query" and request.headers.get("content-type", "").lower().startswith(
                creds.FORM
            ):
                return  # the key may be in the form body
            error = product.errors["auth_missing"]
        elif not (usage := match_usage(product.rules, request.method, normalize_path(raw_path), query_args(query))[0]):
            error = product.errors["no_match"]
        else:
            app = self.gateway.backend.lookup(product.service_id, user_key)
            if app is not None and app.state == "live":
                return
            if self.gateway.auth_cache.known(self.gateway.auth_cache.key(self.environment, product.service_id,
                                                                         user_key, usage)):
                return  # APIcast's auth cache still knows the key: the chain serves it once (auth_cache.py)
            error = product.errors["auth_failed"]
        if product.cors is not None:
            exchange.cors_headers = product.cors.response_headers(request.headers)
        exchange.send_error(error)
        self.write_and_close(b"")
        raise _Rejected

    def on_message_complete(self) -> None:
        self.headers_done = self.in_message = self.begun_in_feed = False
        if self.final is not None or self.closed:
            return
        if not self.busy:
            self._disarm()
        request = Request(
            self.parser.get_method().decode("ascii"),
            self.url.decode("latin-1"),
            self.raw_headers,
            b"".join(self.body),
            self.parser.should_keep_alive(),
        )
        self.queue.append(request)
        if not self.busy:
            self._next()
        elif len(self.queue) >= MAX_PIPELINED:
            self._pause_reading()

    # -- serving ------------------------------------------------------------------------------
    def _next(self) -> None:
        if self.closed or not self.queue:
            self.busy = False
            if self.final is not None:
                self.write_and_close(self.final)
            else:
                self._resume_reading()
                if not self.closed:
                    self._arm(self.limits.client_header_timeout if self.in_message else self.limits.keepalive_timeout)
            return
        self.busy = True  # one request at a time; pipelined ones wait in the queue
        self._disarm()
        request = self.queue.popleft()
        if len(self.queue) < MAX_PIPELINED and self.final is None:
            self._resume_reading()
        # Served from the loop's next turn (as a task's first step would be), by callbacks: no task, coroutine
        # or future of its own per request (Exchange.begin; only a new upstream connection needs a task).
        self.loop.call_soon(Exchange(self, request).begin)

    def _served(self, request: Request, error: BaseException | None) -> None:
        """The exchange ended (its usage reported, its reservation released): answer a failure, go on."""
        if error is not None:
            log.error("gateway request failed", exc_info=error)
            self.write_and_close(
                b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
        self.exchange = None
        if not request.keep_alive and not self.closed and self.transport is not None:
            self.transport.close()
            self.closed = True
        self._next()

    def write(self, data: bytes) -> None:
        if not self.closed and self.transport is not None:
            self.transport.write(data)

    def write_and_close(self, data: bytes) -> None:
        if not self.closed and self.transport is not None:
            self.transport.write(data)
            self.transport.close()
        self.closed = True


class UpstreamCall(NamedTuple):
    """What the chain decided to send upstream (kept for a retry on a new connection)."""

    service_id: int
    host: str
    port: int
    data: bytes
    head_only: bool
    connect_timeout: float
    read_timeout: float


class Exchange:
    """One request through the policy chain and, when admitted, to the upstream and back."""

    def __init__(self, conn: GatewayProtocol, request: Request) -> None:
        self.conn = conn
        self.request = request
        self.upstream: UpstreamConnection | None = None
        self.cors_headers: list[tuple[str, str]] = []
        self.chunked = False
        self.status = 0
        self.reader: lm.UsageReader | None = None
        self.request_model = ""
        self.app_id: int | None = None
        self.product: CompiledProduct | None = None
        self.reservation: Reservation | None = None  # quota tokens held while this request is in flight
        self.request_bytes = len(request.body)
        self.reported = False
        self.out: list[bytes] = []  # response bytes of the current upstream read, written in one call
        self.call: UpstreamCall | None = None
        self.ended = False

    @property
    def abandoned(self) -> bool:
        return self.conn.closed

    # -- responses made by the gateway ------------------------------------------------------------
    def _connection_header(self) -> bytes:
        return b"" if self.request.keep_alive else b"Connection: close\r\n"

    def send_error(self, error: ErrorResponse, extra: list[tuple[str, str]] | None = None) -> None:
        lines = [f"{k}: {v}\r\n" for k, v in (*error.extra, *(extra or ()), *self.cors_headers)]
        body = b"" if self.request.method == "HEAD" else error.body  # HEAD: Content-Length kept, no body
        self.conn.write(error.head + "".join(lines).encode("latin-1") + self._connection_header() + b"\r\n" + body)

    def send_empty(self, status: int) -> None:
        lines = "".join(f"{k}: {v}\r\n" for k, v in self.cors_headers)
        self.conn.write(
            f"HTTP/1.1 {status} {reason(status)}\r\n{lines}Content-Length: 0\r\n".encode("latin-1")
            + self._connection_header()
            + b"\r\n"
        )

    # -- the chain ------------------------------------------------------------------------------
    # begin() runs the chain up to the upstream request; the response streams through the ResponseSink
    # callbacks; _upstream_done() then _end() finish the exchange. Every way out (an error answer, an upstream
    # failure, the client gone, an exception) goes through _end(), which reports and releases the reservation.
    def begin(self) -> None:
        try:
            call = self._chain()
            if call is None:
                self._end(None)
                return
            self.call = call
            pool = self.conn.gateway.pool
            upstream = pool.take_idle(call.host, call.port)
            if upstream is None:  # connecting is asynchronous (and timed): the one case with a task
                self.conn.loop.create_task(self._through_pool())
                return
            upstream.send(call.data, self, call.head_only, call.read_timeout, self._upstream_done)
        except Exception as exc:  # noqa: BLE001 - answered 500 and logged, as any failure of the chain
            self._end(exc)

    def _upstream_done(self, error: BaseException | None) -> None:
        if isinstance(error, Stale):  # the pooled connection had been closed: the pool retries, as it would
            if self.abandoned:
                error = UpstreamError("client went away")
            else:
                self.conn.loop.create_task(self._through_pool())
                return
        self._upstream_ended(error)

    async def _through_pool(self) -> None:
        call = self.call
        assert call is not None
        try:
            await self.conn.gateway.pool.request(call.host, call.port, call.data, self, head_only=call.head_only,
                                                 connect_timeout=call.connect_timeout,
                                                 read_timeout=call.read_timeout)
        except BaseException as exc:  # noqa: BLE001 - ended (and re-raised if cancelled) by _upstream_ended
            self._upstream_ended(exc)
            if not isinstance(exc, Exception):
                raise
            return
        self._upstream_ended(None)

    def _upstream_ended(self, error: BaseException | None) -> None:
        if isinstance(error, UpstreamError):
            call = self.call
            assert call is not None
            log.warning("service %s upstream %s:%s failed: %s", call.service_id, call.host, call.port, error)
            try:
                if self.status == 0:
                    self.send_error(UPSTREAM_TIMED_OUT if isinstance(error, UpstreamReadTimeout) else UPSTREAM_FAILED)
                else:  # the headers went out: all that is left is to cut the response short
                    self.conn.write_and_close(b"")
                error = None
            except Exception as exc:  # noqa: BLE001
                error = exc
        self._end(error)

    def _end(self, error: BaseException | None) -> None:
        if self.ended:  # once, whatever reports the end
            return
        self.ended = True
        backend = self.conn.gateway.backend
        try:
            try:
                if not self.reported:  # the client left mid-response: count what was streamed so far
                    self._report_usage(backend)
            finally:
                backend.release(self.reservation)
        except Exception as exc:  # noqa: BLE001
            error = error or exc
        if error is None or isinstance(error, Exception):  # not when cancelled (the sandbox is stopping)
            self.conn._served(self.request, error)

    def _chain(self) -> UpstreamCall | None:
        """The policy chain: an answer of its own (None), or the upstream request to make."""
        conn, request = self.conn, self.request
        gateway = conn.gateway
        product = gateway.route(conn.service_id, conn.environment)
        if product is None:
            self.send_empty(404)  # APIcast: no service for this host
            return None
        self.product = product
        conn.exchange = self

        if product.cors is not None:
            self.cors_headers = product.cors.response_headers(request.headers)
            if product.cors.is_preflight(request.method, request.headers):
                self.send_empty(204)
                return None

        body = request.body
        llm = product.llm
        data = None
        client_body = body  # the quota bound is the client's body, as the Lua policy computes it
        if llm is not None and body:  # no body: nothing to decode or rewrite, no request model
            data = lm.request_json(request.headers.get("content-type"), body)
            rewritten, self.request_model = lm.rewrite_parsed(llm, body, data)
            if rewritten is not None:
                body = rewritten

        raw_path, _, query = request.target.partition("?")
        path = normalize_path(raw_path)  # matched, counted and forwarded: one path for all three
        user_key: str | None = None
        if product.apicast:
            user_key = self._credentials(product, query, body)
            if user_key is None:
                self.send_error(product.errors["auth_missing"])
                return None
            args = query_args(query)
            usage, _matched = match_usage(product.rules, request.method, path, args)
            backend = gateway.backend
            if llm is not None and llm.quota_enabled:
                # Admitted only if usage + reserved + this request's own bound fits every limit (issue 28).
                estimate = lm.estimate_usage(llm, path, client_body, data)
                asked = lm.quota_request(llm, estimate)
                decision, self.reservation = backend.admit(product.service_id, user_key, asked, estimate)
                if decision.status == LIMITS_EXCEEDED:
                    exceeded = decision.exceeded
                    described = None
                    if exceeded is not None:
                        own = estimate.get(exceeded.metric, max(asked.values(), default=0))
                        described = lm.quota_header(
                            exceeded.metric, exceeded.value, exceeded.period, exceeded.remaining, own
                        )
                    self._quota_exceeded(product, exceeded, decision.retry_after, described)
                    return None
            if not usage:
                self.send_error(product.errors["no_match"])
                return None
            decision = backend.authrep(product.service_id, user_key, usage)
            cache, cached = gateway.auth_cache, gateway.auth_cache.key(conn.environment, product.service_id,
                                                                       user_key, usage)
            if decision.status == OK:
                cache.authorised(cached)
            elif decision.status == LIMITS_EXCEEDED:
                self._limits_exceeded(product, decision.retry_after)
                return None
            elif cache.known(cached):  # APIcast's strict cache: a hit is served, its refusal drops the entry
                cache.refused(cached)
            else:
                self.send_error(product.errors["auth_failed"])
                return None
            self.app_id = decision.app.id if decision.app is not None else None
            if product.credentials_location == "query":
                query = creds.strip_query(query, product.user_key)

        upstream = product.upstream_for(path)
        if upstream is None:
            self.send_empty(404)  # no api_backend
            return None
        if upstream.usage_path != "/":
            path = path[len(upstream.usage_path) :] or "/"
            if not path.startswith("/"):
                path = "/" + path
        target = upstream.base_path + path + ("?" + query if query else "")
        head = self._upstream_head(product, target, upstream.host_header, body)
        return UpstreamCall(product.service_id, upstream.host, upstream.port, head + body, request.method == "HEAD",
                            product.connect_timeout, product.read_timeout)

    def _credentials(self, product: CompiledProduct, query: str, body: bytes) -> str | None:
        request = self.request
        location = product.credentials_location
        if location == "authorization":
            return creds.from_authorization(request.headers.get("authorization"))
        if location == "headers":
            wanted = product.user_key_header
            for name, value in request.headers.items():
                if name.replace("_", "-") == wanted:
                    return value
            return None
        found = creds.from_query(query, product.user_key)
        if found is None:
            found = creds.from_form(request.method, request.headers, body, product.user_key)
        return found

    def _limits_exceeded(self, product: CompiledProduct, retry_after: int, quota: str | None = None) -> None:
        extra = [("Retry-After", str(retry_after))] if retry_after >= 0 else []
        if quota is not None:
            extra.append(("X-LLM-Quota", quota))
        self.send_error(product.errors["limits_exceeded"], extra)

    def _quota_exceeded(self, product: CompiledProduct, exceeded: ExceededLimit | None, retry_after: int,
                        quota: str | None) -> None:
        """llm-metrics' own refusal: the product's limits status, a JSON body naming the exceeded limit and
        its period, and the limit in X-LLM-Quota."""
        status = product.errors["limits_exceeded"].status
        extra = [("Retry-After", str(retry_after))] if retry_after >= 0 else []
        if quota is not None:
            extra.append(("X-LLM-Quota", quota))
        named = (exceeded.metric, exceeded.period, exceeded.value) if exceeded is not None else None
        self.send_error(ErrorResponse.build(status, "application/json", lm.quota_error_body(named, retry_after)),
                        extra)

    def _upstream_head(self, product: CompiledProduct, target: str, host: str, body: bytes) -> bytes:
        request = self.request
        drop = _DROPPED[(bool(product.apicast and product.credentials_location == "authorization"),
                         bool(self.conn.gateway.sandbox.test_clock))]
        lines = [f"{request.method} {target} HTTP/1.1\r\nHost: {host}\r\n".encode("latin-1")]
        header_creds = product.apicast and product.credentials_location == "headers"
        for name, value in request.raw_headers:
            lower = name.lower()
            if lower in drop:
                continue
            if header_creds and lower.decode("latin-1").replace("_", "-") == product.user_key_header:
                continue
            lines.append(name + b": " + value + b"\r\n")
        if product.secret_token:
            lines.append(f"X-3scale-proxy-secret-token: {product.secret_token}\r\n".encode("latin-1"))
        if body or request.method in ("POST", "PUT", "PATCH"):
            lines.append(b"Content-Length: %d\r\n" % len(body))
        lines.append(b"\r\n")
        return b"".join(lines)

    # -- ResponseSink: the upstream response, streamed through ---------------------------------------
    def on_headers(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.status = status
        product = self.product
        if product is not None:
            self.conn.gateway.metrics.count_upstream_status(status, product.service_id, product.system_name)
        content_type = content_encoding = None
        length = None
        out = [status_line(status)]
        for name, value in headers:
            lower = name.lower()
            if lower in HOP_BY_HOP:
                continue
            if lower == b"content-length":
                length = value
                continue
            if lower == b"content-type":
                content_type = value.decode("latin-1")
            elif lower == b"content-encoding":
                content_encoding = value.decode("latin-1")
            out.append(name + b": " + value + b"\r\n")
        for name_s, value_s in self.cors_headers:
            out.append(f"{name_s}: {value_s}\r\n".encode("latin-1"))
        no_body = self.request.method == "HEAD" or status in (204, 304)
        if length is not None:
            out.append(b"Content-Length: " + length + b"\r\n")
        elif not no_body:
            out.append(b"Transfer-Encoding: chunked\r\n")
            self.chunked = True
        if not self.request.keep_alive:
            out.append(b"Connection: close\r\n")
        out.append(b"\r\n")
        self.out.append(b"".join(out))
        llm = self.product.llm if self.product is not None else None
        if llm is not None and not no_body:
            self.reader = lm.reader_for(llm, status, content_type, content_encoding, self.request_bytes)

    def on_body(self, data: bytes) -> None:
        if not data:
            return
        self.out.append(b"%x\r\n%b\r\n" % (len(data), data) if self.chunked else data)
        if self.reader is not None:
            self.reader.feed(data)

    def flush(self) -> None:
        """Write what the last upstream read produced (headers and body together: one syscall, not two)."""
        if self.out:
            data = self.out[0] if len(self.out) == 1 else b"".join(self.out)
            self.out = []
            self.conn.write(data)

    def on_end(self) -> None:
        if self.chunked:
            self.out.append(b"0\r\n\r\n")
        self.flush()
        self.upstream = None
        backend = self.conn.gateway.backend
        try:
            self._report_usage(backend)
        finally:  # in the same step as the report: the tokens are never both unreserved and unreported
            backend.release(self.reservation)

    def _report_usage(self, backend: Backend) -> None:
        """llm-metrics' post_action: Prometheus counters for every response read, then the 3scale report."""
        reader, product = self.reader, self.product
        self.reported = True
        if reader is None or product is None or product.llm is None:
            return
        usage, response_model, estimated = lm.final_usage(product.llm, self.status, self.request_bytes, reader)
        if estimated:
            self.conn.gateway.metrics.count_estimated(str(product.service_id), product.system_name)
        counts = lm.usage_counts(usage)
        if counts:
            # application_id stays empty: with user_key credentials APIcast never learns the application id
            model = lm.model_label(product.llm, response_model, self.request_model)
            labels = (str(product.service_id), product.system_name, "", model)
            self.conn.gateway.metrics.count_tokens(labels, counts)
        if self.app_id is None:
            return
        carry = backend.carry_for(product.service_id, self.app_id)  # persisted with the usage (issue 28 item 10)
        increments = lm.usage_increments(product.llm, self.status, usage, carry)
        if increments:
            backend.report(product.service_id, self.app_id, increments)
