"""Pooled keep-alive HTTP/1.1 connections to upstreams, at the asyncio protocol level (httptools parser).

A response is pushed to a `ResponseSink` as it arrives (headers, then each body piece), so streams are
never buffered. A pooled connection that the upstream closed while idle is retried once on a new one.

Timeouts follow nginx's `proxy_connect_timeout` and `proxy_read_timeout`: connecting may take at most the
connect timeout (`UpstreamConnectTimeout`, answered 502), and the upstream may stay silent for at most the
read timeout between two reads, counted from the moment the request is written (`UpstreamReadTimeout`: 504
before the response headers, a cut connection after). The read timer is one `call_later` handle per
connection, not per exchange or read: a request or a read only stamps the loop time, and the handle, when
it fires, re-arms itself for what is left of the silence allowed (or lapses when no exchange is in
progress). So keep-alive traffic and steady streams cost no timer work per request or chunk.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from typing import Protocol

import httptools


class ResponseSink(Protocol):
    def on_headers(self, status: int, headers: list[tuple[bytes, bytes]]) -> None: ...
    def on_body(self, data: bytes) -> None: ...
    def on_end(self) -> None: ...
    def flush(self) -> None: ...

    upstream: UpstreamConnection | None

    @property
    def abandoned(self) -> bool: ...  # the client went away: do not (re)send the request


class UpstreamError(Exception):
    pass


class UpstreamConnectTimeout(UpstreamError):
    pass


class UpstreamReadTimeout(UpstreamError):
    pass


class Stale(Exception):
    """The pooled connection was closed before any response byte: safe to retry."""


class UpstreamConnection(asyncio.Protocol):
    def __init__(self, pool: UpstreamPool, key: tuple[str, int]) -> None:
        self.pool = pool
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.sink: ResponseSink | None = None
        # how the caller learns the end of the exchange in progress: a future it awaits (`start`), or a callback
        # (`send`, the gateway's hot path: no future and no extra loop turn per request)
        self.done: asyncio.Future[None] | None = None
        self.on_done: Callable[[BaseException | None], None] | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.received = False
        self.head_only = False
        self.framed = True
        self.reused = False
        self.closed = False
        self.aborted = False  # closed by us because the client went away: never retried
        self.loop = asyncio.get_running_loop()
        self.read_timeout = 0.0  # seconds of upstream silence allowed between two reads (0: none)
        self.last_read = 0.0  # loop time of the last read (or of the request write)
        self.timer: asyncio.TimerHandle | None = None
        self.timer_due = 0.0  # loop time the armed timer fires at
        self.paused = False  # reading paused for a slow client: silence then is not the upstream's

    # -- asyncio ------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        self.received = True
        self.last_read = self.loop.time()
        sink = self.sink
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError(f"invalid upstream response: {exc}"))
        if sink is not None:
            sink.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._stop_timer()
        self.pool.discard(self)
        if not self._active():
            return
        if self.aborted:
            self._settle(UpstreamError("client went away"))
        elif not self.received and self.reused:
            self._settle(Stale())
        elif self.sink is not None and self.headers_sent and not self.framed:
            self._complete(reusable=False)  # body delimited by connection close
        else:
            self._settle(UpstreamError("upstream closed the connection"))

    # -- httptools callbacks ------------------------------------------------------------------
    headers_sent = False

    def on_message_begin(self) -> None:
        self.headers = []
        self.headers_sent = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:  # 100 Continue and friends: wait for the real response
            return
        framed = status in (204, 304)
        if not framed:
            for name, _ in self.headers:
                lower = name.lower()
                if lower == b"content-length" or lower == b"transfer-encoding":
                    framed = True
                    break
        self.framed = framed
        self.headers_sent = True
        assert self.sink is not None
        self.sink.on_headers(status, self.headers)
        if self.head_only:
            self._complete(reusable=False)

    def on_body(self, body: bytes) -> None:
        if self.sink is not None and self._active():
            self.sink.on_body(body)

    def on_message_complete(self) -> None:
        if self.headers_sent:
            self._complete(reusable=self.parser.should_keep_alive())

    # -- request ------------------------------------------------------------------------------
    def _active(self) -> bool:
        """An exchange is in progress: its caller has not been told how it ended (nor stopped waiting)."""
        done = self.done
        return self.on_done is not None or (done is not None and not done.done())

    def _settle(self, error: BaseException | None) -> None:
        """Tell the caller how the exchange ended, once."""
        done, on_done = self.done, self.on_done
        self.done = self.on_done = None
        if done is not None and not done.done():
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)
        if on_done is not None:
            on_done(error)

    def _complete(self, *, reusable: bool) -> None:
        sink = self.sink
        self.sink = None  # an armed read timer stays: it lapses, or serves the next request
        if reusable and not self.closed:
            self.parser = httptools.HttpResponseParser(self)
            self.pool.release(self)
        else:
            self.close()
        if sink is not None:
            sink.on_end()
        self._settle(None)

    def _fail(self, exc: Exception) -> None:
        self.close()
        self._settle(exc)

    def start(self, data: bytes, sink: ResponseSink, head_only: bool, read_timeout: float) -> asyncio.Future[None]:
        """Send one request; the future ends with the response (or fails with the exchange's error)."""
        done = self.done = self.loop.create_future()
        self._send(data, sink, head_only, read_timeout)
        return done

    def send(self, data: bytes, sink: ResponseSink, head_only: bool, read_timeout: float,
             on_done: Callable[[BaseException | None], None]) -> None:
        """`start` with a callback instead of a future: `on_done(None or the error)`, called once."""
        self.on_done = on_done
        self._send(data, sink, head_only, read_timeout)

    def _send(self, data: bytes, sink: ResponseSink, head_only: bool, read_timeout: float) -> None:
        assert self.transport is not None
        self.sink = sink
        sink.upstream = self  # lets the client side pause this connection when it cannot keep up
        self.head_only = head_only
        self.received = False
        self.headers_sent = False
        self.transport.write(data)
        self.read_timeout = read_timeout
        if read_timeout > 0:
            now = self.last_read = self.loop.time()
            if self.timer is None or self.timer_due > now + read_timeout:  # else the armed one will do
                self._arm(now, read_timeout)

    # -- read timeout ---------------------------------------------------------------------------
    def _arm(self, now: float, delay: float) -> None:
        self._stop_timer()
        self.timer_due = now + delay
        self.timer = self.loop.call_at(self.timer_due, self._check_read_timeout)

    def _check_read_timeout(self) -> None:
        self.timer = None
        if not self._active() or self.closed or self.read_timeout <= 0:
            return  # idle in the pool, or the exchange ended: the timer lapses
        now = self.loop.time()
        silent = now - self.last_read
        if self.paused:  # a slow client, not the upstream: the clock restarts on resume
            self._arm(now, self.read_timeout)
        elif silent < self.read_timeout:  # something was read (or a request sent) since: wait the rest
            self._arm(now, self.read_timeout - silent)
        else:
            self._fail(UpstreamReadTimeout(f"upstream sent nothing for {self.read_timeout:g} s"))

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def pause(self) -> None:
        if self.transport is not None and not self.closed:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.transport is not None and not self.closed:
            self.paused = False
            self.last_read = self.loop.time()  # the silence clock restarts when we listen again
            self.transport.resume_reading()

    def close(self) -> None:
        self.closed = True
        self._stop_timer()
        self.pool.discard(self)
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """The client is gone: drop this exchange's upstream connection (the generation stops)."""
        self.aborted = True
        self.close()


class UpstreamPool:
    def __init__(self, max_idle_per_host: int = 256) -> None:
        self.idle: defaultdict[tuple[str, int], list[UpstreamConnection]] = defaultdict(list)
        self.max_idle = max_idle_per_host

    async def _connect(self, key: tuple[str, int], timeout: float) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        try:  # only new connections pay for this timer; pooled ones skip it
            async with asyncio.timeout(timeout if timeout > 0 else None):
                _, conn = await loop.create_connection(lambda: UpstreamConnection(self, key), key[0], key[1])
        except TimeoutError as exc:
            raise UpstreamConnectTimeout(f"connecting to {key[0]}:{key[1]} took over {timeout:g} s") from exc
        except OSError as exc:
            raise UpstreamError(f"cannot connect to {key[0]}:{key[1]}: {exc}") from exc
        return conn

    async def request(
        self,
        host: str,
        port: int,
        data: bytes,
        sink: ResponseSink,
        *,
        head_only: bool = False,
        connect_timeout: float = 0.0,
        read_timeout: float = 0.0,
    ) -> UpstreamConnection:
        """Send one request; returns the connection (for flow control) once the response has ended.

        Timeouts are in seconds, 0 for none; they raise `UpstreamConnectTimeout` / `UpstreamReadTimeout`.
        """
        key = (host, port)
        while (conn := self.take_idle(host, port)) is not None:
            try:
                await conn.start(data, sink, head_only, read_timeout)
                return conn
            except Stale:
                if sink.abandoned:
                    raise UpstreamError("client went away") from None
                continue
        conn = await self._connect(key, connect_timeout)
        if sink.abandoned:  # gone while we connected
            conn.close()
            raise UpstreamError("client went away")
        await conn.start(data, sink, head_only, read_timeout)
        return conn

    def take_idle(self, host: str, port: int) -> UpstreamConnection | None:
        """A pooled keep-alive connection to reuse (its request may still find it closed: `Stale`), or None."""
        idle = self.idle.get((host, port))
        while idle:
            conn = idle.pop()
            if not conn.closed:
                conn.reused = True
                return conn
        return None

    def release(self, conn: UpstreamConnection) -> None:
        idle = self.idle[conn.key]
        if len(idle) < self.max_idle:
            idle.append(conn)
        else:
            conn.close()

    def discard(self, conn: UpstreamConnection) -> None:
        idle = self.idle.get(conn.key)
        if idle and conn in idle:
            idle.remove(conn)

    def close(self) -> None:
        for conns in list(self.idle.values()):
            for conn in list(conns):
                conn.close()
        self.idle.clear()
