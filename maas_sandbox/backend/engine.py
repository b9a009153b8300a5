"""apisonator-like usage engine: authrep (check and count, atomically), report (count, unchecked),
authorize-style quota checks with in-flight reservations, write-behind persistence of minute buckets to SQLite.

Everything runs on the sandbox's single event loop and never awaits between check and increment,
so counts are exact under any concurrency (real 3scale can overshoot; this must not).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from maas_sandbox.backend.index import App, BackendIndex, build_index
from maas_sandbox.backend.periods import PERIODS, period_start, seconds_to_reset
from maas_sandbox.context import Sandbox

log = logging.getLogger("maas_sandbox.backend")

FLUSH_INTERVAL = 0.5
_SCHEMA = """
CREATE TABLE IF NOT EXISTS usage (
    application_id INTEGER NOT NULL,
    service_id INTEGER NOT NULL,
    metric_id INTEGER NOT NULL,
    bucket INTEGER NOT NULL,          -- epoch seconds of the UTC minute
    value INTEGER NOT NULL,
    PRIMARY KEY (application_id, metric_id, bucket)
);
CREATE INDEX IF NOT EXISTS usage_metric_bucket ON usage(metric_id, bucket);
CREATE TABLE IF NOT EXISTS usage_carry (  -- llm-metrics `per` rules: tokens not yet billed, per application
    service_id INTEGER NOT NULL,
    application_id INTEGER NOT NULL,
    metric TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (service_id, application_id, metric)
);
"""
_CARRY_UPSERT = "INSERT OR REPLACE INTO usage_carry(service_id, application_id, metric, value) VALUES (?, ?, ?, ?)"
# One request's usage of one metric is at most this (a billion tokens is far beyond any model's context); a
# larger number (a model server answering `total_tokens: 1e300`) counts as this bound, so counters and SQLite's
# 64-bit integers can never overflow: 2^63 / 10^9 is nine billion requests.
MAX_DELTA = 10**9
_UPSERT = (
    "INSERT INTO usage(application_id, service_id, metric_id, bucket, value) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT(application_id, metric_id, bucket) DO UPDATE SET value = value + excluded.value"
)

OK = "ok"
AUTH_FAILED = "auth_failed"  # unknown key, app not live, unknown metric, disabled metric (limit 0)
LIMITS_EXCEEDED = "limits_exceeded"
IN_FLIGHT_RETRY_AFTER = 1  # seconds, when only in-flight reservations stand in the way


@dataclass(frozen=True, slots=True)
class ExceededLimit:
    """The limit that refused a request: what a 429 names (metric, period, its value, what is left)."""

    metric: str
    period: str
    value: int
    remaining: int  # value - current usage - tokens reserved by requests in flight, at least 0


@dataclass(slots=True)
class Decision:
    status: str
    reason: str = ""
    retry_after: int = -1  # seconds to the end of the most constrained exceeded limit's period
    app: App | None = None
    exceeded: ExceededLimit | None = None  # limits_exceeded: the limit of the longest exceeded period


@dataclass(slots=True)
class Reservation:
    """Tokens held for one admitted request in flight, counted by quota checks until released."""

    app_id: int
    amounts: dict[int, int]  # metric id (ancestors included) → reserved amount
    released: bool = False


def bounded(delta: Any) -> int:
    """A usage delta as a whole number in [0, MAX_DELTA] (what arrives may be a float, huge, or negative)."""
    if type(delta) is int and 0 <= delta <= MAX_DELTA:  # the common case (a mapping rule's delta), in one test
        return delta
    if isinstance(delta, bool) or not isinstance(delta, int | float) or delta != delta:  # NaN
        return 0
    return int(min(max(delta, 0), MAX_DELTA))


class Backend:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.store = sandbox.store
        self.clock = sandbox.clock
        self.index = BackendIndex()
        # (app id, metric id) → one [period start, value] per period of PERIODS
        self.counters: dict[tuple[int, int], list[list[int]]] = {}
        # (app id, service id, metric id, minute bucket) → not yet written delta
        self.pending: defaultdict[tuple[int, int, int, int], int] = defaultdict(int)
        # (app id, metric id) → amount reserved by quota-admitted requests still in flight
        self.reserved: dict[tuple[int, int], int] = {}
        # (service id, app id) → llm-metrics `per` remainders by metric name; persisted with the usage
        self.carry: dict[tuple[int, int], dict[str, int]] = {}
        self._carry_dirty: set[tuple[int, int]] = set()
        self._starts_minute = -1
        self._starts: tuple[int, ...] = ()
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        self.store.executescript(_SCHEMA)
        self.refresh()
        self.load_counters()
        self.load_carry()
        self._task = asyncio.get_running_loop().create_task(self._flush_loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.flush()

    def clock_changed(self) -> None:
        """Time moved (test clock): rebuild the current-period counters from all recorded usage."""
        self.flush()
        self.load_counters()

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            try:
                self.flush()
            except Exception:  # keep flushing later; a transient lock must not stop the data plane
                log.exception("usage flush failed")

    def flush(self) -> None:
        """Write the pending minute buckets and remainders in one transaction. If that fails, each row is
        written on its own: a row that cannot be written is logged and dropped, a locked database keeps the
        rest pending for the next flush; one bad row never costs the others their writes."""
        if not self.pending and not self._carry_dirty:
            return
        rows = [(a, s, m, b, v) for (a, s, m, b), v in self.pending.items()]
        carry = [(s, a, metric, v) for (s, a) in self._carry_dirty for metric, v in self.carry.get((s, a), {}).items()]
        self.pending, self._carry_dirty = defaultdict(int), set()
        try:
            with self.store.transaction():
                self.store.conn.executemany(_UPSERT, rows)
                self.store.conn.executemany(_CARRY_UPSERT, carry)
            return
        except Exception:
            log.exception("usage flush failed; writing row by row")
        for sql, batch in ((_UPSERT, rows), (_CARRY_UPSERT, carry)):
            for row in batch:
                try:
                    self.store.executemany(sql, [row])
                except sqlite3.OperationalError:  # locked or busy: keep it for the next flush
                    self._put_back(sql, row)
                except Exception:
                    log.exception("usage row dropped (cannot be stored): %r", row)

    def _put_back(self, sql: str, row: tuple[Any, ...]) -> None:
        if sql == _UPSERT:
            app, service, metric, bucket, value = row
            self.pending[(app, service, metric, bucket)] += value
        else:
            self._carry_dirty.add((row[0], row[1]))

    def carry_for(self, service_id: int, app_id: int) -> dict[str, int]:
        """The remainders of one application's `per` rules, to be updated in place (written at the next flush)."""
        key = (service_id, app_id)
        self._carry_dirty.add(key)
        return self.carry.setdefault(key, {})

    def load_carry(self) -> None:
        self.carry = {}
        for service, app, metric, value in self.store.execute(
                "SELECT service_id, application_id, metric, value FROM usage_carry"):
            self.carry.setdefault((int(service), int(app)), {})[str(metric)] = int(value)

    def load_counters(self) -> None:
        now = self.clock.time()
        starts = self._period_starts(now)
        cases = ", ".join("SUM(CASE WHEN bucket >= ? THEN value ELSE 0 END)" for _ in PERIODS)
        rows = self.store.execute(
            f"SELECT application_id, metric_id, {cases} FROM usage GROUP BY application_id, metric_id",
            list(starts),
        )
        self.counters = {
            (app, metric): [[starts[i], int(values[i] or 0)] for i in range(len(PERIODS))]
            for app, metric, *values in rows
        }
        for (app, _service, metric, bucket), value in self.pending.items():
            self._add(app, metric, value, starts, bucket)

    # -- configuration --------------------------------------------------------------------------
    def refresh(self) -> BackendIndex:
        if self.index.generation != self.store.generation:
            self.index = build_index(self.store)
        return self.index

    def _period_starts(self, now: float) -> tuple[int, ...]:
        minute = int(now // 60)
        if minute != self._starts_minute:  # every period starts on a minute boundary
            self._starts = tuple(period_start(p, now) for p in PERIODS)
            self._starts_minute = minute
        return self._starts

    # -- counters -----------------------------------------------------------------------------
    def current(self, app_id: int, metric_id: int, period_index: int, starts: tuple[int, ...]) -> int:
        slots = self.counters.get((app_id, metric_id))
        if slots is None:
            return 0
        start, value = slots[period_index]
        return value if start == starts[period_index] else 0

    def _add(self, app_id: int, metric_id: int, delta: int, starts: tuple[int, ...], at: int | None = None) -> None:
        slots = self.counters.get((app_id, metric_id))
        if slots is None:
            slots = [[s, 0] for s in starts]
            self.counters[(app_id, metric_id)] = slots
        for i, slot in enumerate(slots):
            if at is not None and at < starts[i]:
                continue  # a pending bucket older than this period
            if slot[0] != starts[i]:
                slot[0], slot[1] = starts[i], 0
            slot[1] += delta

    def _expand(self, service_id: int, usage: dict[str, int]) -> dict[int, int] | None:
        """Usage by metric system name → deltas by metric id including ancestors; None if a metric is unknown."""
        sm = self.index.services.get(service_id)
        if sm is None:
            return None
        expanded: dict[int, int] = {}
        for name, delta in usage.items():
            chain = sm.chains.get(name)
            if chain is None:
                return None
            delta = bounded(delta)
            for metric_id in chain:
                expanded[metric_id] = expanded.get(metric_id, 0) + delta
        return expanded

    def _record(self, app: App, expanded: dict[int, int], now: float, starts: tuple[int, ...]) -> None:
        bucket = starts[-1]
        pending = self.pending
        for metric_id, delta in expanded.items():
            self._add(app.id, metric_id, delta, starts)
            pending[(app.id, app.service_id, metric_id, bucket)] += delta

    def _check(
        self, app: App, expanded: dict[int, int], now: float, starts: tuple[int, ...], *, with_reserved: bool = False
    ) -> Decision | None:
        plan_limits = self.index.limits.get(app.plan_id) if app.plan_id is not None else None
        if not plan_limits:
            return None
        worst: int | None = None  # longest exceeded period (ties among zero remaining → longer period)
        worst_limit: tuple[int, int, int] = (0, 0, 0)  # its metric id, value and current + reserved
        in_flight_only = True  # every exceeded limit would pass without the reservations
        for metric_id, delta in expanded.items():
            reserved = self.reserved.get((app.id, metric_id), 0) if with_reserved else 0
            for period_index, value in plan_limits.get(metric_id, ()):
                if value == 0:
                    return Decision(AUTH_FAILED, "metric_disabled", app=app)
                current = self.current(app.id, metric_id, period_index, starts)
                if current + reserved + delta > value:
                    if current + delta > value:
                        in_flight_only = False
                    if worst is None or period_index < worst:
                        worst = period_index
                        worst_limit = (metric_id, value, current + reserved)
        if worst is None:
            return None
        # Rejected only for tokens held by requests in flight: those finish soon, not at the period's end.
        retry_after = IN_FLIGHT_RETRY_AFTER if in_flight_only else seconds_to_reset(PERIODS[worst], now)
        metric_id, value, used = worst_limit
        exceeded = ExceededLimit(self._metric_name(app.service_id, metric_id), PERIODS[worst], value,
                                 max(0, value - used))
        return Decision(LIMITS_EXCEEDED, "limits_exceeded", retry_after, app, exceeded)

    def _metric_name(self, service_id: int, metric_id: int) -> str:
        sm = self.index.services.get(service_id)
        chains = sm.chains.items() if sm is not None else ()
        return next((name for name, chain in chains if chain and chain[0] == metric_id), str(metric_id))

    # -- the backend API ------------------------------------------------------------------------
    def lookup(self, service_id: int, user_key: str) -> App | None:
        return self.refresh().apps_by_key.get((service_id, user_key))

    def _validate(
        self, service_id: int, user_key: str, usage: dict[str, int]
    ) -> tuple[App, dict[int, int], None] | tuple[App | None, None, Decision]:
        """apisonator's validators before limits: known key, live application, known metrics."""
        app = self.refresh().apps_by_key.get((service_id, user_key))
        if app is None:
            return None, None, Decision(AUTH_FAILED, "user_key_invalid")
        if app.state != "live":
            return app, None, Decision(AUTH_FAILED, "application_not_active", app=app)
        expanded = self._expand(service_id, usage)
        if expanded is None:
            return app, None, Decision(AUTH_FAILED, "metric_invalid", app=app)
        return app, expanded, None

    def authrep(self, service_id: int, user_key: str, usage: dict[str, int]) -> Decision:
        """Authorize and, when authorized, count `usage` (and ancestors) in every period."""
        app, expanded, refused = self._validate(service_id, user_key, usage)
        if refused is not None:
            return refused
        now = self.clock.time()
        starts = self._period_starts(now)
        rejected = self._check(app, expanded, now, starts)
        if rejected is not None:
            return rejected
        self._record(app, expanded, now, starts)
        return Decision(OK, app=app)

    def authorize(self, service_id: int, user_key: str, usage: dict[str, int]) -> Decision:
        """Check `usage` against the limits without counting anything (quota admission)."""
        app, expanded, refused = self._validate(service_id, user_key, usage)
        if refused is not None:
            return refused
        now = self.clock.time()
        starts = self._period_starts(now)
        rejected = self._check(app, expanded, now, starts)
        if rejected is not None and rejected.reason == "metric_disabled":
            # apisonator reports a disabled metric as limits_exceeded with max value 0
            return Decision(LIMITS_EXCEEDED, "limits_exceeded", -1, app)
        return rejected or Decision(OK, app=app)

    def admit(
        self, service_id: int, user_key: str, quota: dict[str, int], estimate: dict[str, int]
    ) -> tuple[Decision, Reservation | None]:
        """Quota admission with reservations: like `authorize`, but tokens reserved by requests in flight
        count as used, and an admitted request reserves `estimate` (an upper bound of what it will report)
        until `release`. Sequentially (nothing in flight) this is exactly `authorize`."""
        app, expanded, refused = self._validate(service_id, user_key, quota)
        if refused is not None:
            return refused, None
        now = self.clock.time()
        rejected = self._check(app, expanded, now, self._period_starts(now), with_reserved=True)
        if rejected is not None:
            if rejected.reason == "metric_disabled":
                return Decision(LIMITS_EXCEEDED, "limits_exceeded", -1, app), None
            return rejected, None
        amounts: dict[int, int] = {}
        for name, amount in estimate.items():  # metrics the product lacks cannot be reported: nothing to hold
            for metric_id, delta in (self._expand(service_id, {name: amount}) or {}).items():
                amounts[metric_id] = amounts.get(metric_id, 0) + delta
        reserved = self.reserved
        for metric_id, amount in amounts.items():
            key = (app.id, metric_id)
            reserved[key] = reserved.get(key, 0) + amount
        return Decision(OK, app=app), Reservation(app.id, amounts)

    def release(self, reservation: Reservation | None) -> None:
        """Give back a reservation (idempotent): the request ended, its real usage is reported or lost."""
        if reservation is None or reservation.released:
            return
        reservation.released = True
        reserved = self.reserved
        for metric_id, amount in reservation.amounts.items():
            key = (reservation.app_id, metric_id)
            left = reserved.get(key, 0) - amount
            if left > 0:
                reserved[key] = left
            else:
                reserved.pop(key, None)

    def report(self, service_id: int, app_id: int, usage: dict[str, int]) -> bool:
        """Count `usage` unchecked (what a 3scale report does); unknown metrics make it fail whole."""
        index = self.refresh()
        app = index.apps.get(app_id)
        if app is None or not usage:
            return False
        expanded = self._expand(service_id, usage)
        if expanded is None:
            log.warning("report for service %s names an unknown metric: %s", service_id, sorted(usage))
            return False
        now = self.clock.time()
        self._record(app, expanded, now, self._period_starts(now))
        return True

    # -- reading usage (Analytics) ----------------------------------------------------------------
    def usage_rows(
        self,
        metric_id: int,
        since: int,
        until: int,
        *,
        service_id: int | None = None,
        application_id: int | None = None,
    ) -> list[tuple[int, int, int]]:
        """(minute bucket, application id, value) rows for since ≤ bucket < until, flushed and pending."""
        sql = "SELECT bucket, application_id, value FROM usage WHERE metric_id=? AND bucket>=? AND bucket<?"
        params: list[int] = [metric_id, since, until]
        if service_id is not None:
            sql += " AND service_id=?"
            params.append(service_id)
        if application_id is not None:
            sql += " AND application_id=?"
            params.append(application_id)
        rows = [(int(b), int(a), int(v)) for b, a, v in self.store.execute(sql, params)]
        for (app, service, metric, bucket), value in self.pending.items():
            if metric != metric_id or not since <= bucket < until:
                continue
            if (service_id is None or service == service_id) and (application_id is None or app == application_id):
                rows.append((bucket, app, value))
        return rows
