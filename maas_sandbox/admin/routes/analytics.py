"""Analytics API (reference §18): usage series of products, applications and backend APIs, and top apps.

Usage comes from `sandbox.backend` (flushed minute buckets plus pending ones), binned into
hour/day/month buckets of the requested timezone (IANA or Rails names; default the provider's).
Methods roll up into `hits` because the backend records every ancestor.
"""

from __future__ import annotations

import bisect
import calendar
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import JSONResponse

from maas_sandbox.admin.conventions import (
    BadRequest,
    NotFound,
    Obj,
    admin_router,
    as_bool,
    path_id,
    read_params,
    required_missing,
    sandbox_of,
)
from maas_sandbox.context import Sandbox

router = admin_router(tags=["analytics"])

# porta app/lib/stats/views/usage.rb GRANULARITIES: period → bucket; a week has 6-hour buckets (21600 s)
PERIODS = ("year", "month", "week", "day")
SIX_HOURS = "21600"
GRANULARITIES = ("month", "day", SIX_HOURS, "hour")
DEFAULT_GRANULARITY = {"year": "month", "month": "day", "week": SIX_HOURS, "day": "hour"}
MAX_BUCKETS = {"hour": 90 * 24, SIX_HOURS: 4 * 184, "day": 366}
# Rails (ActiveSupport) zone names the kit may meet, mapped to IANA; IANA names pass through.
RAILS_ZONES = {
    "UTC": "Etc/UTC",
    "London": "Europe/London",
    "Edinburgh": "Europe/London",
    "Lisbon": "Europe/Lisbon",
    "Dublin": "Europe/Dublin",
    "Madrid": "Europe/Madrid",
    "Paris": "Europe/Paris",
    "Berlin": "Europe/Berlin",
    "Amsterdam": "Europe/Amsterdam",
    "Brussels": "Europe/Brussels",
    "Rome": "Europe/Rome",
    "Prague": "Europe/Prague",
    "Warsaw": "Europe/Warsaw",
    "Athens": "Europe/Athens",
    "Moscow": "Europe/Moscow",
    "Eastern Time (US & Canada)": "America/New_York",
    "Central Time (US & Canada)": "America/Chicago",
    "Mountain Time (US & Canada)": "America/Denver",
    "Pacific Time (US & Canada)": "America/Los_Angeles",
    "Tokyo": "Asia/Tokyo",
    "Beijing": "Asia/Shanghai",
    "New Delhi": "Asia/Kolkata",
    "Sydney": "Australia/Sydney",
}


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(RAILS_ZONES.get(name, name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadRequest(f"Invalid timezone: {name}") from exc


def _default_timezone(sandbox: Sandbox) -> str:
    provider = sandbox.store.first("provider") or {}
    name = provider.get("_timezone") or "Etc/UTC"
    return "Etc/UTC" if name == "UTC" else str(name)


def _parse_time(value: str, zone: ZoneInfo, name: str) -> datetime:
    text = value.strip().replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(text[:19], fmt).replace(tzinfo=zone)
        except ValueError:
            continue
        if 1 < parsed.year < 9999:  # year 1/9999 overflow datetime in zone shifts and period ends
            return parsed
    raise BadRequest(f"Invalid {name}: {value}")


def _floor(dt: datetime, granularity: str) -> datetime:
    if granularity == "hour":
        return dt.replace(minute=0, second=0, microsecond=0)
    if granularity == SIX_HOURS:
        return dt.replace(hour=dt.hour - dt.hour % 6, minute=0, second=0, microsecond=0)
    if granularity == "day":
        return dt.replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity == "month":
        return dt.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return dt


def _step(dt: datetime, granularity: str) -> datetime:
    if granularity == "hour":  # wall-clock arithmetic through UTC keeps DST days at 23/25 hours
        return (dt.astimezone(UTC) + timedelta(hours=1)).astimezone(dt.tzinfo)
    if granularity == SIX_HOURS:
        return (dt.astimezone(UTC) + timedelta(hours=6)).astimezone(dt.tzinfo)
    if granularity == "day":
        return dt + timedelta(days=1)
    if granularity == "month":
        return dt.replace(year=dt.year + 1, month=1) if dt.month == 12 else dt.replace(month=dt.month + 1)
    raise ValueError(granularity)


def _period_end(since: datetime, period: str) -> datetime:
    if period == "day":
        return since + timedelta(days=1)
    if period == "week":
        return since + timedelta(days=7)
    if period == "month":
        return _add_months(since, 1)
    if period == "year":
        return _add_months(since, 12)
    raise ValueError(period)


def _add_months(dt: datetime, months: int) -> datetime:
    """Rails' `+ n.months`: the same day, clamped to the target month's last day."""
    index = dt.year * 12 + dt.month - 1 + months
    year, month = divmod(index, 12)
    return dt.replace(year=year, month=month + 1, day=min(dt.day, calendar.monthrange(year, month + 1)[1]))


def _period_start_before(now: datetime, period: str) -> datetime:
    """now - 1.<period> in Rails' calendar arithmetic (a month back keeps the day, clamped to the month's end)."""
    if period == "day":
        return now - timedelta(days=1)
    if period == "week":
        return now - timedelta(days=7)
    if period == "month":
        return _add_months(now, -1)
    if period == "year":
        return _add_months(now, -12)
    raise ValueError(period)


def _stamp(dt: datetime) -> str:
    text = dt.isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class Window:
    """The resolved period: bucket boundaries (aware datetimes) and how to render them."""

    def __init__(self, params: Obj, sandbox: Sandbox, *, whole: bool = False) -> None:
        """`whole`: one bucket over the period (top applications), not a granularity a client may ask for."""
        tz_name = str(params.get("timezone") or _default_timezone(sandbox))
        self.tz_name = tz_name
        zone = _zone(tz_name)
        period = params.get("period") or None
        granularity = params.get("granularity") or None
        if period is not None and period not in PERIODS:  # usage.rb sanitize_period
            raise BadRequest(f'Period must be one of ["year", "month", "week", "day"] not "{period}"')
        if granularity is not None and str(granularity) not in GRANULARITIES and not whole:
            raise BadRequest(f"Granularity must be one of [:month, :day, 21600, :hour], not {granularity}")
        granularity = str(granularity) if granularity is not None else None
        now = sandbox.clock.now().astimezone(zone)
        since_raw = params.get("since")
        if period is None:
            if granularity is None:
                raise required_missing("granularity")
            if not since_raw:
                raise required_missing("since")
        granularity = granularity or DEFAULT_GRANULARITY[str(period)]
        self.period, self.granularity = period, granularity
        if period == "eternity":
            since = _parse_time(str(since_raw), zone, "since") if since_raw else datetime(1970, 1, 1, tzinfo=zone)
            end = now + timedelta(seconds=1)
            self.edges = [since, end]
        else:
            if since_raw:
                since = _parse_time(str(since_raw), zone, "since")
            elif period:
                # usage.rb extract_range_and_granularity: since = now - 1.<period> (wall clock in the zone)
                since = _period_start_before(now, str(period))
            else:
                since = now
            exact_since = since
            if granularity != "eternity":
                since = _floor(since, granularity)
            if period is not None and granularity != "eternity":
                # until = (since + 1.<period> - 1s).end_of_minute, then the range is rounded out to whole buckets
                # (time_range.rb round / time_hacks.rb end_of_cycle): `day` without since = 25 hourly values
                # from the hour holding now-24h, `week` 29 six-hour ones (test/integration/stats/services_test.rb)
                until = (_period_end(exact_since, str(period)) - timedelta(seconds=1)).replace(second=59)
                end = _step(_floor(until, granularity), granularity)
            elif period is not None:
                end = _period_end(since, str(period))
            else:
                until_raw = params.get("until")
                end = _parse_time(str(until_raw), zone, "until") + timedelta(seconds=1) if until_raw else now
            if end <= since:
                raise BadRequest("until must be after since")
            if granularity == "eternity":
                self.edges = [since, end]
            else:
                self.edges = [since]
                while self.edges[-1] < end:
                    if len(self.edges) > MAX_BUCKETS.get(granularity, 10_000):
                        raise BadRequest(f"Range too long for granularity {granularity}")
                    self.edges.append(_step(self.edges[-1], granularity))
                self.edges[-1] = min(self.edges[-1], end) if granularity != "month" else self.edges[-1]
        self.since, self.end = self.edges[0], self.edges[-1]
        self.stamps = [int(e.timestamp()) for e in self.edges]

    def bins(self, rows: list[tuple[int, int, int]]) -> list[int]:
        values = [0] * (len(self.stamps) - 1)
        for bucket, _app, value in rows:
            i = bisect.bisect_right(self.stamps, bucket) - 1
            if 0 <= i < len(values):
                values[i] += value
        return values

    def view(self) -> Obj:
        return {
            "name": self.period,
            "since": _stamp(self.since),
            "until": _stamp(self.end - timedelta(seconds=1)),
            "timezone": self.tz_name,
            "granularity": int(self.granularity) if self.granularity == SIX_HOURS else self.granularity,
        }


def _metric(sandbox: Sandbox, owner_type: str, owner_id: int, name: Any) -> Obj:
    if not name:
        raise required_missing("metric_name")
    metrics = sandbox.store.list("metric", owner_type=owner_type, owner_id=owner_id)
    for metric in metrics:
        system = str(metric.get("system_name"))
        if system == name or (owner_type == "backend_api" and system == f"{name}.{owner_id}"):
            return metric
    raise BadRequest(f"metric {name} not found")


def _metric_view(metric: Obj) -> Obj:
    return {
        "id": metric["id"],
        "name": metric.get("friendly_name") or metric.get("name") or metric.get("system_name"),
        "system_name": metric.get("system_name"),
        "unit": metric.get("unit") or "hit",
    }


def _series(sandbox: Sandbox, params: Obj, metric: Obj, **where: int) -> Obj:
    window = Window(params, sandbox)
    rows = sandbox.backend.usage_rows(metric["id"], window.stamps[0], window.stamps[-1], **where)
    values = window.bins(rows)
    body: Obj = {"metric": _metric_view(metric), "period": window.view(), "total": sum(values), "values": values}
    if not as_bool(params.get("skip_change"), True):
        span = window.stamps[-1] - window.stamps[0]
        previous = sandbox.backend.usage_rows(metric["id"], window.stamps[0] - span, window.stamps[0], **where)
        previous_total = sum(v for _, _, v in previous)
        body["previous_total"] = previous_total
        body["change"] = round((body["total"] - previous_total) * 100.0 / previous_total, 2) if previous_total else 0.0
    return body


async def _subject(request: Request, kind: str, obj_id: str) -> tuple[Sandbox, Obj, Obj]:
    """The checks every stats route makes first: token, params, the object (else 404), a running backend."""
    sandbox = sandbox_of(request)
    params = await read_params(request)
    obj = sandbox.store.get(kind, path_id(obj_id))
    if obj is None:
        raise NotFound()
    if sandbox.backend is None:
        raise BadRequest("usage data is not available (the sandbox backend is not running)")
    return sandbox, params, obj


@router.get("/stats/services/{service_id}/usage.json")
async def service_usage(request: Request, service_id: str) -> JSONResponse:
    sandbox, params, service = await _subject(request, "service", service_id)
    metric = _metric(sandbox, "service", service["id"], params.get("metric_name"))
    return JSONResponse(_series(sandbox, params, metric, service_id=service["id"]))


@router.get("/stats/backend_apis/{backend_id}/usage.json")
async def backend_usage(request: Request, backend_id: str) -> JSONResponse:
    sandbox, params, backend = await _subject(request, "backend_api", backend_id)
    metric = _metric(sandbox, "backend_api", backend["id"], params.get("metric_name"))
    return JSONResponse(_series(sandbox, params, metric))


@router.get("/stats/applications/{application_id}/usage.json")
async def application_usage(request: Request, application_id: str) -> JSONResponse:
    sandbox, params, app = await _subject(request, "application", application_id)
    metric = _metric(sandbox, "service", int(app["service_id"]), params.get("metric_name"))
    body = _series(sandbox, params, metric, application_id=app["id"])
    plan = sandbox.store.get("plan", app.get("plan_id")) or {}
    account = sandbox.store.get("account", app.get("account_id")) or {}
    base = str(request.base_url).rstrip("/")
    body["application"] = {
        "id": app["id"],
        "name": app.get("name"),
        "state": app.get("state"),
        "description": app.get("description"),
        "link": f"{base}/apiconfig/services/{app['service_id']}/applications/{app['id']}",
        "plan": {"id": plan.get("id"), "name": plan.get("name")},
        "account": {
            "id": account.get("id"),
            "name": account.get("org_name"),
            "link": f"{base}/buyers/accounts/{account.get('id')}",
        },
        "service": {"id": app["service_id"]},
    }
    return JSONResponse(body)


@router.get("/stats/services/{service_id}/top_applications.json")
async def top_applications(request: Request, service_id: str) -> JSONResponse:
    """porta stats/data/services_controller.rb + app/lib/stats/service.rb `top_clients`: `since`, `period` and
    `metric_name` are required (400, test/integration/stats/data/service_controller_test.rb); `since` moves to
    the beginning of its period in the timezone (`extract_since`); items carry name, id, value (a string, as
    the stats storage returns it), account, plan and service; the period only name, since and until
    (test/integration/stats/services_test.rb 'top_clients as json'); applications no longer there are left out."""
    sandbox, params, service = await _subject(request, "service", service_id)
    for required in ("since", "period"):
        if not params.get(required):
            raise required_missing(required)
    metric = _metric(sandbox, "service", service["id"], params.get("metric_name"))
    zone = _zone(str(params.get("timezone") or _default_timezone(sandbox)))
    if params["period"] not in PERIODS:
        raise BadRequest(f'Period must be one of ["year", "month", "week", "day"] not "{params["period"]}"')
    since = _beginning_of(_parse_time(str(params["since"]), zone, "since"), str(params["period"]))
    window = Window({**params, "since": since.isoformat(), "granularity": "eternity"}, sandbox, whole=True)
    rows = sandbox.backend.usage_rows(metric["id"], window.stamps[0], window.stamps[-1], service_id=service["id"])
    totals: dict[int, int] = {}
    for _bucket, app_id, value in rows:
        totals[app_id] = totals.get(app_id, 0) + value
    applications = []
    for app_id, value in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])):
        app = sandbox.store.get("application", app_id)
        account = sandbox.store.get("account", app.get("account_id")) if app else None
        if app is None or account is None:
            continue
        plan = sandbox.store.get("plan", app.get("plan_id")) or {}
        applications.append({
            "name": app.get("name"), "id": app_id, "value": str(value),
            "account": {"id": account["id"], "name": account.get("org_name")},
            "plan": {"id": plan.get("id"), "name": plan.get("name")},
            "service": {"id": app.get("service_id")},
        })
        if len(applications) == 10:
            break
    period = {"name": window.period, "since": _stamp(window.since),
              "until": _stamp(window.end - timedelta(seconds=1))}
    return JSONResponse({"applications": applications, "metric": _metric_view(metric), "period": period})


def _beginning_of(dt: datetime, period: str) -> datetime:
    """time_hacks.rb `beginning_of(period)` (ActiveSupport's beginning_of_day/week/month/year; weeks on Monday)."""
    day = dt.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "year":
        return day.replace(month=1, day=1)
    return day
