"""Token-quota admission with in-flight reservations (issues 3 and 8): sequential traffic is admitted while
below the limit exactly as before; concurrent requests count each other's reserved upper bound, so the
recorded total passes the quota by at most one request's tokens."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from maas_sandbox.backend import AUTH_FAILED, LIMITS_EXCEEDED, OK, Backend
from maas_sandbox.backend.engine import IN_FLIGHT_RETRY_AFTER
from maas_sandbox.clock import Clock
from maas_sandbox.context import Sandbox
from maas_sandbox.layout import Ports, StateDir
from maas_sandbox.store import Store

TO_MIDNIGHT = 12 * 3600 + 18 * 60  # from 11:42:00 to the end of the day


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    clock = Clock()
    clock.set(datetime(2025, 6, 4, 11, 42, 0, tzinfo=UTC), freeze=True)
    state = StateDir(tmp_path / "s")
    state.ensure()
    sandbox = Sandbox(state, Store(state.db, clock), clock, Ports(40000), "t", "a", "m", "p", test_clock=True)
    st = sandbox.store
    svc = st.insert("service", {"system_name": "svc", "_gateway_slot": 1})
    metric = {"owner_type": "service", "owner_id": svc["id"]}
    tokens = st.insert("metric", {**metric, "system_name": "tokens"})
    prompt = st.insert("metric", {**metric, "system_name": "prompt_tokens", "parent_id": tokens["id"]})
    total = st.insert("metric", {**metric, "system_name": "total_tokens"})
    plan = st.insert("plan", {"type": "application_plan", "issuer_id": svc["id"]})
    app = st.insert("application", {"service_id": svc["id"], "plan_id": plan["id"], "state": "live", "user_key": "k"})
    backend = Backend(sandbox)
    asyncio.run(_start(backend))
    return {
        "store": st,
        "svc": svc["id"],
        "plan": plan["id"],
        "app": app["id"],
        "backend": backend,
        "tokens": tokens["id"],
        "prompt": prompt["id"],
        "total": total["id"],
    }


async def _start(backend: Backend) -> None:
    await backend.start()
    await backend.close()  # stops the flush task; the engine stays usable synchronously


def limit(world: dict[str, Any], metric: str, period: str, value: int) -> None:
    row = {"plan_id": world["plan"], "metric_id": world[metric], "period": period, "value": value}
    world["store"].insert("limit", row)


def admit(world: dict[str, Any], estimate: int, metric: str = "total_tokens") -> Any:
    return world["backend"].admit(world["svc"], "k", {metric: 1}, {metric: estimate})


def test_sequential_requests_are_admitted_while_below_the_limit_as_before(world: dict[str, Any]) -> None:
    limit(world, "total", "day", 100)
    b = world["backend"]
    for used in (99, 1):  # a huge estimate changes nothing when nothing else is in flight
        decision, held = admit(world, 10_000)
        assert decision.status == OK and held is not None
        b.report(world["svc"], world["app"], {"total_tokens": used})
        b.release(held)
    decision, held = admit(world, 1)  # 100 used: current + 1 > 100
    assert decision.status == LIMITS_EXCEEDED and held is None
    assert decision.retry_after == TO_MIDNIGHT  # the quota is really used up: wait for the period's end
    assert b.reserved == {}


def test_requests_in_flight_count_their_reservation(world: dict[str, Any]) -> None:
    limit(world, "total", "day", 100)
    b = world["backend"]
    first = admit(world, 60)[1]
    second = admit(world, 60)[1]  # 0 + 60 < 100
    assert first is not None and second is not None
    assert b.reserved == {(world["app"], world["total"]): 120}
    refused, held = admit(world, 1)  # 0 + 120 ≥ 100
    assert refused.status == LIMITS_EXCEEDED and held is None
    assert refused.retry_after == IN_FLIGHT_RETRY_AFTER  # only the requests in flight stand in the way
    b.report(world["svc"], world["app"], {"total_tokens": 30})
    b.release(first)
    b.release(first)  # idempotent: a second release must not free someone else's tokens
    assert b.reserved == {(world["app"], world["total"]): 60}
    assert admit(world, 1)[0].status == OK  # 30 + 60 < 100
    starts = b._period_starts(b.clock.time())
    assert b.current(world["app"], world["total"], 4, starts) == 30  # reserving counted nothing


def test_reservation_reaches_ancestors_and_quota_on_a_parent(world: dict[str, Any]) -> None:
    limit(world, "tokens", "hour", 50)
    b = world["backend"]
    decision, held = b.admit(world["svc"], "k", {"tokens": 1}, {"prompt_tokens": 40})
    assert decision.status == OK and held is not None
    assert held.amounts == {world["prompt"]: 40, world["tokens"]: 40}
    assert b.admit(world["svc"], "k", {"tokens": 1}, {"prompt_tokens": 5})[0].status == OK  # 40 < 50
    assert b.admit(world["svc"], "k", {"tokens": 1}, {"prompt_tokens": 5})[0].status == OK  # 45 < 50
    assert b.admit(world["svc"], "k", {"tokens": 1}, {"prompt_tokens": 5})[0].status == LIMITS_EXCEEDED  # 50


def test_rejections_and_unknown_metrics_hold_nothing(world: dict[str, Any]) -> None:
    b = world["backend"]
    assert b.admit(world["svc"], "nope", {"total_tokens": 1}, {"total_tokens": 5})[0].status == AUTH_FAILED
    limit(world, "total", "month", 0)  # disabled: apisonator's authorize says limits_exceeded, max value 0
    decision, held = admit(world, 5)
    assert (decision.status, decision.retry_after, held) == (LIMITS_EXCEEDED, -1, None)
    decision, held = b.admit(world["svc"], "k", {"tokens": 1}, {"total_tokens": 5, "no_such_metric": 9})
    assert decision.status == OK and held is not None and held.amounts == {world["total"]: 5}
    b.release(held)
    assert b.reserved == {}


@pytest.mark.parametrize("seed", range(20))
def test_random_interleavings_overshoot_at_most_one_request(world: dict[str, Any], seed: int) -> None:
    """Many clients, each request's real tokens ≤ its estimate, completions in random order."""
    rng = random.Random(seed)
    quota = rng.randrange(50, 2000)
    limit(world, "total", "day", quota)
    b = world["backend"]
    in_flight: list[tuple[Any, int]] = []
    biggest = 0
    for _ in range(3000):
        if in_flight and rng.random() < 0.4:
            held, real = in_flight.pop(rng.randrange(len(in_flight)))
            b.report(world["svc"], world["app"], {"total_tokens": real})
            b.release(held)
            continue
        estimate = rng.randrange(1, 300)
        decision, held = admit(world, estimate)
        if decision.status == OK:
            real = rng.randrange(1, estimate + 1)
            biggest = max(biggest, real)
            in_flight.append((held, real))
    for held, real in in_flight:
        b.report(world["svc"], world["app"], {"total_tokens": real})
        b.release(held)
    recorded = b.current(world["app"], world["total"], 4, b._period_starts(b.clock.time()))
    assert quota <= recorded <= quota + biggest - 1  # admitted only below the quota, so < quota + one request
    assert b.reserved == {}
