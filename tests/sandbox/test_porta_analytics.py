"""Analytics periods as porta 3scale-2.16-stable app/lib/stats/views/usage.rb: `period` is one of year, month,
week, day (GRANULARITIES; sanitize_period refuses anything else, e.g. eternity, with a 400).

Without `since` the range is now - 1.<period> .. (since + 1.<period> - 1s).end_of_minute, rounded out to whole
buckets (`extract_range_and_granularity`, lib/time_range.rb `round`, lib/time_hacks.rb `end_of_cycle`): a day
is 25 hourly values starting at the hour holding now-24h, a week 29 six-hour ones. porta's
test/integration/stats/services_test.rb ('usage with no data as json': travel_to 2009-12-04 11:12 UTC, Madrid →
since 12:00+01:00, until 12:59:59+01:00, 25 values) is mirrored here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


def _service_id(admin_http: Any) -> int:
    return admin_http.get("/admin/api/services.json").json()["services"][0]["service"]["id"]


@pytest.fixture
def frozen(admin_http: Any) -> Iterator[Any]:
    yield admin_http
    admin_http.reset_clock()


def _usage(admin_http: Any, **params: str) -> Any:
    resp = admin_http.get(f"/stats/services/{_service_id(admin_http)}/usage.json",
                          params={"metric_name": "hits", "skip_change": "true", **params})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_day_is_25_hourly_values_from_the_hour_holding_now_minus_24h(frozen: Any) -> None:
    frozen.set_clock("2009-12-04T11:12:00Z", freeze=True)
    body = _usage(frozen, period="day", timezone="Madrid")
    assert len(body["values"]) == 25
    assert (body["period"]["since"], body["period"]["until"], body["period"]["granularity"]) == (
        "2009-12-03T12:00:00+01:00", "2009-12-04T12:59:59+01:00", "hour")


def test_day_in_the_account_timezone_and_in_utc(frozen: Any) -> None:
    """services_test.rb 'retrieve data with specified timezone' (Kamchatka) and the UTC case."""
    frozen.set_clock("2009-12-11T19:10:00Z", freeze=True)
    kamchatka = _usage(frozen, period="day", timezone="Asia/Kamchatka")["period"]
    assert (kamchatka["since"], kamchatka["until"]) == ("2009-12-11T07:00:00+12:00", "2009-12-12T07:59:59+12:00")
    utc = _usage(frozen, period="day", timezone="UTC")["period"]
    assert (utc["since"], utc["until"]) == ("2009-12-10T19:00:00Z", "2009-12-11T19:59:59Z")


def test_week_is_29_six_hour_values(frozen: Any) -> None:
    frozen.set_clock("2009-12-11T19:10:00Z", freeze=True)
    body = _usage(frozen, period="week", timezone="UTC")
    assert (len(body["values"]), body["period"]["granularity"], body["period"]["name"]) == (29, 21600, "week")
    assert (body["period"]["since"], body["period"]["until"]) == ("2009-12-04T18:00:00Z", "2009-12-11T23:59:59Z")


def test_a_day_from_a_midnight_since_is_24_hours(frozen: Any) -> None:
    """With `since` at a bucket boundary the rounded range is exactly the period (what the kit asks for)."""
    frozen.set_clock("2009-12-11T19:10:00Z", freeze=True)
    body = _usage(frozen, period="day", since="2009-12-11", timezone="UTC")
    assert len(body["values"]) == 24 and body["period"]["until"] == "2009-12-11T23:59:59Z"
    month = _usage(frozen, period="month", since="2009-11-01", timezone="UTC")
    assert len(month["values"]) == 30 and month["period"]["granularity"] == "day"


def test_eternity_is_not_a_period(admin_http: Any) -> None:
    resp = admin_http.get(f"/stats/services/{_service_id(admin_http)}/usage.json",
                          params={"metric_name": "hits", "period": "eternity"})
    expected = 'Period must be one of ["year", "month", "week", "day"] not "eternity"'
    assert (resp.status_code, resp.text) == (400, expected)
    bad = admin_http.get(f"/stats/services/{_service_id(admin_http)}/usage.json",
                         params={"metric_name": "hits", "granularity": "eternity", "since": "2025-01-01",
                                 "until": "2025-01-02"})
    assert bad.status_code == 400 and bad.text.startswith("Granularity must be one of")
