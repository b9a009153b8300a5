"""Analytics periods as porta 3scale-2.16-stable app/lib/stats/views/usage.rb: `period` is one of year, month,
week, day (GRANULARITIES; sanitize_period refuses anything else, e.g. eternity, with a 400); a week has
6-hour buckets (granularity 21600), so 28 values."""

from __future__ import annotations

from typing import Any


def _service_id(admin_http: Any) -> int:
    return admin_http.get("/admin/api/services.json").json()["services"][0]["service"]["id"]


def test_week_has_28_six_hour_buckets(admin_http: Any) -> None:
    resp = admin_http.get(f"/stats/services/{_service_id(admin_http)}/usage.json",
                          params={"metric_name": "hits", "period": "week", "skip_change": "true"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (len(body["values"]), body["period"]["granularity"], body["period"]["name"]) == (28, 21600, "week")


def test_eternity_is_not_a_period(admin_http: Any) -> None:
    resp = admin_http.get(f"/stats/services/{_service_id(admin_http)}/usage.json",
                          params={"metric_name": "hits", "period": "eternity"})
    expected = 'Period must be one of ["year", "month", "week", "day"] not "eternity"'
    assert (resp.status_code, resp.text) == (400, expected)
    bad = admin_http.get(f"/stats/services/{_service_id(admin_http)}/usage.json",
                         params={"metric_name": "hits", "granularity": "eternity", "since": "2025-01-01",
                                 "until": "2025-01-02"})
    assert bad.status_code == 400 and bad.text.startswith("Granularity must be one of")
