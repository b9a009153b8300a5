"""apisonator's limit periods: calendar-aligned in UTC, weeks start on Monday, windows never slide."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

PERIODS: tuple[str, ...] = ("eternity", "year", "month", "week", "day", "hour", "minute")


def period_start(period: str, ts: float) -> int:
    """Epoch seconds at which the `period` bucket containing `ts` starts (0 for eternity)."""
    if period == "minute":
        return int(ts // 60 * 60)
    if period == "hour":
        return int(ts // 3600 * 3600)
    if period == "day":
        return int(ts // 86400 * 86400)
    if period == "eternity":
        return 0
    dt = datetime.fromtimestamp(ts, tz=UTC)
    if period == "week":
        day = dt.replace(hour=0, minute=0, second=0, microsecond=0)
        return int((day - timedelta(days=day.weekday())).timestamp())
    if period == "month":
        return int(dt.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp())
    if period == "year":
        return int(dt.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0).timestamp())
    raise ValueError(f"unknown period {period!r}")


def period_end(period: str, ts: float) -> int | None:
    """Epoch seconds at which the bucket containing `ts` ends (exclusive); None for eternity."""
    if period == "eternity":
        return None
    start = period_start(period, ts)
    fixed = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}
    if period in fixed:
        return start + fixed[period]
    dt = datetime.fromtimestamp(start, tz=UTC)
    if period == "month":
        nxt = dt.replace(year=dt.year + 1, month=1) if dt.month == 12 else dt.replace(month=dt.month + 1)
    else:
        nxt = dt.replace(year=dt.year + 1)
    return int(nxt.timestamp())


def seconds_to_reset(period: str, ts: float) -> int:
    """Whole seconds (rounded up) until the bucket ends; -1 for eternity (3scale-limit-reset)."""
    end = period_end(period, ts)
    if end is None:
        return -1
    remaining = end - ts
    whole = int(remaining)
    return whole if whole == remaining else whole + 1
