"""The backend engine: hierarchy, `current + delta ≤ limit`, disabled metrics, rollover, persistence."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from maas_sandbox.backend import AUTH_FAILED, LIMITS_EXCEEDED, OK, Backend
from maas_sandbox.clock import Clock
from maas_sandbox.context import Sandbox
from maas_sandbox.layout import Ports, StateDir
from maas_sandbox.store import Store


def make_sandbox(path: Path, clock: Clock) -> Sandbox:
    state = StateDir(path)
    state.ensure()
    return Sandbox(state, Store(state.db, clock), clock, Ports(40000), "t", "a", "m", "p", test_clock=True)


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    clock = Clock()
    clock.set(datetime(2025, 6, 4, 10, 42, 0, tzinfo=UTC), freeze=True)
    sandbox = make_sandbox(tmp_path / "s", clock)
    st = sandbox.store
    svc = st.insert("service", {"system_name": "svc", "_gateway_slot": 1})
    hits = st.insert("metric", {"owner_type": "service", "owner_id": svc["id"], "system_name": "hits"})
    method = st.insert(
        "metric", {"owner_type": "service", "owner_id": svc["id"], "system_name": "chat", "parent_id": hits["id"]}
    )
    tokens = st.insert("metric", {"owner_type": "service", "owner_id": svc["id"], "system_name": "total_tokens"})
    plan = st.insert("plan", {"type": "application_plan", "issuer_id": svc["id"]})
    app = st.insert("application", {"service_id": svc["id"], "plan_id": plan["id"], "state": "live", "user_key": "k"})
    backend = Backend(sandbox)
    asyncio.run(_start(backend))
    return {
        "sandbox": sandbox,
        "svc": svc,
        "hits": hits,
        "method": method,
        "tokens": tokens,
        "plan": plan,
        "app": app,
        "backend": backend,
        "clock": clock,
    }


async def _start(backend: Backend) -> None:
    await backend.start()
    await backend.close()  # stops the flush task; the engine stays usable synchronously


def limit(world: dict[str, Any], metric: str, period: str, value: int) -> None:
    world["sandbox"].store.insert(
        "limit", {"plan_id": world["plan"]["id"], "metric_id": world[metric]["id"], "period": period, "value": value}
    )


def test_method_counts_toward_hits_and_parent_limit_applies(world: dict[str, Any]) -> None:
    limit(world, "hits", "day", 3)
    b, sid = world["backend"], world["svc"]["id"]
    assert b.authrep(sid, "k", {"chat": 2}).status == OK
    assert b.authrep(sid, "k", {"chat": 2}).status == LIMITS_EXCEEDED  # 2 + 2 > 3 on the parent
    assert b.authrep(sid, "k", {"hits": 1}).status == OK  # 2 + 1 ≤ 3
    assert b.authrep(sid, "k", {"hits": 1}).status == LIMITS_EXCEEDED
    starts = b._period_starts(world["clock"].time())
    assert b.current(world["app"]["id"], world["hits"]["id"], 4, starts) == 3
    assert b.current(world["app"]["id"], world["method"]["id"], 4, starts) == 2


def test_limits_on_metrics_not_in_the_usage_are_not_checked(world: dict[str, Any]) -> None:
    limit(world, "tokens", "minute", 1)
    b, sid = world["backend"], world["svc"]["id"]
    b.report(sid, world["app"]["id"], {"total_tokens": 50})
    assert b.authrep(sid, "k", {"hits": 1}).status == OK
    assert b.authorize(sid, "k", {"total_tokens": 1}).status == LIMITS_EXCEEDED


def test_zero_limit_is_disabled_metric(world: dict[str, Any]) -> None:
    limit(world, "method", "month", 0)
    decision = world["backend"].authrep(world["svc"]["id"], "k", {"chat": 1})
    assert (decision.status, decision.reason) == (AUTH_FAILED, "metric_disabled")


def test_unknown_key_inactive_app_unknown_metric(world: dict[str, Any]) -> None:
    b, sid, st = world["backend"], world["svc"]["id"], world["sandbox"].store
    assert b.authrep(sid, "nope", {"hits": 1}).reason == "user_key_invalid"
    assert b.authrep(sid, "k", {"ghost": 1}).reason == "metric_invalid"
    st.update("application", world["app"]["id"], {"state": "suspended"})
    assert b.authrep(sid, "k", {"hits": 1}).reason == "application_not_active"


def test_rejected_requests_count_nothing_and_retry_after(world: dict[str, Any]) -> None:
    limit(world, "hits", "minute", 1)
    limit(world, "hits", "hour", 100)
    b, sid = world["backend"], world["svc"]["id"]
    assert b.authrep(sid, "k", {"hits": 1}).status == OK
    for _ in range(3):
        rejected = b.authrep(sid, "k", {"hits": 1})
        assert rejected.status == LIMITS_EXCEEDED
        assert rejected.retry_after == 60
    starts = b._period_starts(world["clock"].time())
    assert b.current(world["app"]["id"], world["hits"]["id"], 5, starts) == 1


@pytest.mark.parametrize(
    ("period", "before", "after"),
    [
        ("minute", "2025-06-04T10:42:59", "2025-06-04T10:43:00"),
        ("hour", "2025-06-04T10:59:59", "2025-06-04T11:00:00"),
        ("day", "2025-06-04T23:59:59", "2025-06-05T00:00:00"),
        ("week", "2025-06-08T23:59:59", "2025-06-09T00:00:00"),
        ("month", "2025-06-30T23:59:59", "2025-07-01T00:00:00"),
        ("year", "2025-12-31T23:59:59", "2026-01-01T00:00:00"),
    ],
)
def test_period_rollover(world: dict[str, Any], period: str, before: str, after: str) -> None:
    limit(world, "hits", period, 1)
    b, sid, clock = world["backend"], world["svc"]["id"], world["clock"]
    clock.set(datetime.fromisoformat(before + "+00:00"), freeze=True)
    b.clock_changed()
    assert b.authrep(sid, "k", {"hits": 1}).status == OK
    assert b.authrep(sid, "k", {"hits": 1}).status == LIMITS_EXCEEDED
    clock.set(datetime.fromisoformat(after + "+00:00"), freeze=True)
    b.clock_changed()
    assert b.authrep(sid, "k", {"hits": 1}).status == OK


def test_counters_survive_a_restart(world: dict[str, Any], tmp_path: Path) -> None:
    limit(world, "hits", "minute", 2)
    limit(world, "hits", "eternity", 3)
    b, sid = world["backend"], world["svc"]["id"]
    assert b.authrep(sid, "k", {"hits": 2}).status == OK
    b.flush()
    again = Backend(world["sandbox"])
    asyncio.run(_start(again))
    assert again.authrep(sid, "k", {"hits": 1}).status == LIMITS_EXCEEDED  # minute: 2 + 1 > 2
    world["clock"].advance(60)
    again.clock_changed()
    assert again.authrep(sid, "k", {"hits": 1}).status == OK  # new minute; eternity 3 ≤ 3
    assert again.authrep(sid, "k", {"hits": 1}).status == LIMITS_EXCEEDED  # eternity exhausted
    again.flush()
    rows = world["sandbox"].store.execute("SELECT SUM(value) FROM usage WHERE metric_id=?", (world["hits"]["id"],))
    assert rows[0][0] == 3
