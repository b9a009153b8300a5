"""Limits under 200 concurrent clients (issue 8): hits limits at six periods pass exactly the limit; token
quotas are never passed (issue 28: admission counts the request's own bound)."""

from __future__ import annotations

from collections.abc import Iterator

import limits_concurrency as lc
import pytest

from maas_sandbox.control import SandboxInfo

from harness import loopback as lb
from harness.sandbox import running

CLIENTS = 200


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    with running(tmp_path_factory.mktemp("limits") / "state") as info:
        lb.Admin(info).freeze_clock()
        yield info


def test_hits_limits_pass_exactly_the_limit_at_every_period(limited: SandboxInfo) -> None:
    rows = lc.hits_limits(lb.Admin(limited), CLIENTS, per_client=2)
    print("\n".join(row.line() for row in rows))
    assert [row.period for row in rows] == [period for period, _ in lc.HITS_LIMITS]
    for row in rows:
        assert row.sent == 2 * CLIENTS and row.other == 0
        assert row.passed == row.limit, row.line()
        assert row.recorded == row.limit, row.line()
        assert row.rejected == row.sent - row.limit


def test_token_quota_is_never_passed_under_concurrency(limited: SandboxInfo) -> None:
    # 200 clients send together and keep sending until nothing more can be admitted; admission asks for
    # usage + the bounds reserved by requests in flight + this request's own bound (issue 28), so the
    # recorded total never passes the quota, and is refused for good only once one more bound cannot fit.
    rows = lc.token_limits(lb.Admin(limited), CLIENTS)
    print("\n".join(row.line() for row in rows))
    for row in rows:
        assert row.other == 0 and row.passed >= 1
        assert row.recorded <= row.limit, row.line()
        assert row.recorded > row.limit - row.bound, "stopped before the quota was used: the burst proved nothing"
        assert row.in_flight_429 > 0, "no request was refused for in-flight reservations: no concurrency seen"
