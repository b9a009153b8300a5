"""The live board: per attendee requests, tokens and last call over the last day, from the Analytics API.

`GET /stats/applications/{id}/usage.json` (metric `hits`, and `total_tokens` from llm-metrics; period `day`,
granularity `hour`) for each workshop application. 3scale cannot delete usage, so "start counting from now"
(`reset --usage`) stores the totals of that moment as a baseline and the board subtracts it.
What the board leaves out: 4xx/429 counts. 3scale counts authorised calls only, so a 429 from a plan limit
or a 403 for a bad key never reaches Analytics. porta (3scale-2.16-stable config/routes.rb, namespace :stats)
also serves `/stats/applications/{id}/usage_response_code.json`, filled only when APIcast reports upstream
response codes (APICAST_RESPONSE_CODES) and again only for authorised calls; the sandbox does not serve it.
The board says so rather than showing a zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rich.table import Table

from maas_helpers.admin_client import AdminClient
from maas_helpers.workshop.room import Observed

METRICS = ("hits", "total_tokens")
# porta's `period=day` window (app/lib/stats/views/usage.rb, lib/time_hacks.rb): 25 hourly values, from the hour
# holding now - 24 h to the end of the current hour — a day and up to an hour more, never less
WINDOW = "since this hour yesterday"
NOT_COUNTED = "4xx/429 are not in the Analytics API: 3scale counts authorised calls only"


@dataclass
class Row:
    username: str
    requests: int
    tokens: int
    last_call: str  # the hour bucket of the latest call, "" when none
    zone: str = ""  # the time zone of `last_call`: porta's `period.timezone` (the provider's, stats/base.rb)


def _usage(client: AdminClient, app_id: Any, metric: str) -> dict[str, Any]:
    with client.about(f"analytics application {app_id} {metric}"):
        body: dict[str, Any] = client.get_json(f"/stats/applications/{app_id}/usage.json", params={
            "metric_name": metric, "period": "day", "granularity": "hour", "skip_change": "true"})
    return body


def _last_bucket(body: dict[str, Any]) -> datetime | None:
    since, values = (body.get("period") or {}).get("since"), body.get("values") or []
    last = max((i for i, v in enumerate(values) if v), default=None)
    if since is None or last is None:
        return None
    return datetime.fromisoformat(str(since).replace("Z", "+00:00")) + timedelta(hours=last)


def read_board(client: AdminClient, seen: Observed, baseline: dict[str, dict[str, int]] | None = None) -> list[Row]:
    baseline = baseline or {}
    rows = []
    for username in sorted(set(seen.accounts) | set(seen.apps)):
        totals = dict.fromkeys(METRICS, 0)
        last: datetime | None = None
        zone = ""
        for app in (seen.apps.get(username) or {}).values():
            base = baseline.get(str(app["id"]), {})
            for metric in METRICS:
                body = _usage(client, app["id"], metric)
                zone = str((body.get("period") or {}).get("timezone") or zone)
                totals[metric] += max(int(body.get("total") or 0) - int(base.get(metric, 0)), 0)
                if metric == "hits" and base.get(metric, 0) < int(body.get("total") or 0):
                    stamp = _last_bucket(body)
                    last = stamp if last is None or (stamp and stamp > last) else last
        rows.append(Row(username, totals["hits"], totals["total_tokens"],
                        last.strftime("%Y-%m-%d %H:00") if last else "", zone))
    return rows


def snapshot(client: AdminClient, seen: Observed) -> dict[str, dict[str, int]]:
    """Current totals per application id (the baseline `reset --usage` keeps)."""
    return {str(app["id"]): {m: int(_usage(client, app["id"], m).get("total") or 0) for m in METRICS}
            for apps in seen.apps.values() for app in apps.values()}


def totals(rows: list[Row]) -> dict[str, int]:
    return {"attendees": len(rows), "requests": sum(r.requests for r in rows), "tokens": sum(r.tokens for r in rows),
            "active": sum(1 for r in rows if r.requests)}


def rich_table(prefix: str, rows: list[Row]) -> Table:
    table = Table(title=f"Workshop {prefix}: {WINDOW}", caption=NOT_COUNTED)
    zone = next((r.zone for r in rows if r.zone), "")  # one provider, one zone
    for name, justify in (("attendee", "left"), ("requests", "right"), ("tokens", "right"),
                          (f"last call (hour, {zone or 'the provider time zone'})", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(row.username, str(row.requests), str(row.tokens), row.last_call or "—")
    room = totals(rows)
    table.add_section()
    table.add_row(f"room ({room['active']}/{room['attendees']} active)", str(room["requests"]), str(room["tokens"]),
                  "", style="bold")
    return table


def frame(rows: list[Row]) -> Any:
    import pandas as pd

    return pd.DataFrame([r.__dict__ for r in rows], columns=["username", "requests", "tokens", "last_call"])


def figure(rows: list[Row], prefix: str) -> Any:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(max(6.0, 0.35 * len(rows)), 3.5))
    ax = fig.subplots()
    ax.bar([r.username for r in rows], [r.requests for r in rows], color="#0066cc")
    ax.set_title(f"Workshop {prefix}: requests per attendee ({WINDOW})")
    ax.set_ylabel("requests")
    locator = ax.yaxis.get_major_locator()
    if isinstance(locator, MaxNLocator):  # the default AutoLocator is one: keep its steps, whole numbers only
        locator.set_params(integer=True)
    ax.tick_params(axis="x", labelrotation=90, labelsize=7)
    fig.tight_layout()
    return fig


def image(rows: list[Row], prefix: str) -> Any:
    """The bar chart as a PNG `IPython.display.Image` (a bare Figure has no rich display without pyplot)."""
    import io

    from IPython.display import Image

    buffer = io.BytesIO()
    figure(rows, prefix).savefig(buffer, format="png", dpi=100)
    return Image(data=buffer.getvalue(), format="png")


def live(read: Any, prefix: str, rounds: int, interval: float = 5.0) -> list[Row]:
    """The notebook board: table and chart, refreshed `rounds` times (a bounded loop); returns the last rows."""
    import time

    from IPython.display import clear_output, display

    rows: list[Row] = []
    for round_ in range(max(rounds, 1)):
        if round_:
            time.sleep(interval)
            clear_output(wait=True)
        rows = read()
        display(frame(rows), image(rows, prefix))
    return rows
