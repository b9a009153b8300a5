"""apisonator periods: calendar-aligned UTC buckets, Monday weeks, reset seconds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from maas_sandbox.backend.periods import period_end, period_start, seconds_to_reset


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("period", "at", "start", "end"),
    [
        ("minute", "2025-06-04 10:42:19", "2025-06-04 10:42:00", "2025-06-04 10:43:00"),
        ("hour", "2025-06-04 10:42:19", "2025-06-04 10:00:00", "2025-06-04 11:00:00"),
        ("day", "2025-06-04 10:42:19", "2025-06-04 00:00:00", "2025-06-05 00:00:00"),
        ("week", "2025-06-04 10:42:19", "2025-06-02 00:00:00", "2025-06-09 00:00:00"),  # Wednesday → Monday
        ("week", "2025-06-08 23:59:59", "2025-06-02 00:00:00", "2025-06-09 00:00:00"),  # Sunday
        ("week", "2025-06-09 00:00:00", "2025-06-09 00:00:00", "2025-06-16 00:00:00"),  # Monday
        ("month", "2025-12-31 23:59:59", "2025-12-01 00:00:00", "2026-01-01 00:00:00"),
        ("month", "2024-02-29 12:00:00", "2024-02-01 00:00:00", "2024-03-01 00:00:00"),
        ("year", "2025-06-04 10:42:19", "2025-01-01 00:00:00", "2026-01-01 00:00:00"),
    ],
)
def test_bucket_bounds(period: str, at: str, start: str, end: str) -> None:
    assert period_start(period, ts(at)) == ts(start)
    assert period_end(period, ts(at)) == ts(end)


def test_eternity_never_resets() -> None:
    assert period_start("eternity", ts("2025-06-04 10:00:00")) == 0
    assert period_end("eternity", 1e9) is None
    assert seconds_to_reset("eternity", 1e9) == -1


def test_reset_seconds_round_up() -> None:
    assert seconds_to_reset("minute", ts("2025-06-04 10:42:19") + 0.5) == 41
    assert seconds_to_reset("hour", ts("2025-06-04 10:00:00")) == 3600


def test_unknown_period() -> None:
    with pytest.raises(ValueError):
        period_start("fortnight", 0)
