"""Traffic statistics: the 3scale Analytics API as pandas DataFrames, and matplotlib figures of them.

Shapes (reference §18): ``/stats/{services|applications}/{id}/usage.json`` answers ``metric``, ``period``
(``since``, ``granularity``, ``timezone``), ``total`` and ``values`` (one per bucket);
``/stats/services/{id}/top_applications.json`` answers ``applications`` with a ``value`` each.

Only authorized calls are counted by 3scale (and by the sandbox): rejected calls such as 429s never
reach Analytics. For a 429 chart, collect the status codes of your own calls (``calls_frame``) and pass
that DataFrame to ``plot_rejections``.

Every HTTP call goes through ``fetch`` so a test (or a notebook) can point it at any Admin API host.
Figures are ``Chart``s, ``matplotlib.figure.Figure`` with a PNG repr (no pyplot global state), so Jupyter shows
each once as an image.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from maas_helpers.admin_client import AdminClient

if TYPE_CHECKING:
    from maas_helpers.charts import Chart

Scope = Literal["services", "applications", "backend_apis"]
Period = Literal["year", "month", "week", "day"]  # porta stats/views/usage.rb: no eternity
TOKEN_METRICS = ("prompt_tokens", "completion_tokens", "total_tokens")
USAGE_COLUMNS = ["scope", "id", "name", "metric", "timestamp", "value"]


def fetch(client: AdminClient, path: str, params: dict[str, Any]) -> dict[str, Any]:
    """The one HTTP call of this module: GET an Analytics path (token added by the client)."""
    with client.about(f"analytics {path}"):
        data: dict[str, Any] = client.get_json(path, params={k: v for k, v in params.items() if v is not None})
    return data


def _step(granularity: Any) -> pd.DateOffset | pd.Timedelta | None:
    if isinstance(granularity, int | float) or (isinstance(granularity, str) and granularity.isdigit()):
        return pd.Timedelta(seconds=int(granularity))
    return {"hour": pd.Timedelta(hours=1), "day": pd.Timedelta(days=1), "month": pd.DateOffset(months=1)}.get(
        str(granularity)
    )


def usage_frame(payload: dict[str, Any], *, scope: str, id: int | str, name: str | None = None) -> pd.DataFrame:
    """One usage answer → rows (scope, id, name, metric, timestamp, value), one per bucket."""
    period = payload.get("period") or {}
    values = list(payload.get("values") or [])
    metric = (payload.get("metric") or {}).get("system_name") or (payload.get("metric") or {}).get("name")
    since = pd.Timestamp(period["since"]) if period.get("since") else None
    step = _step(period.get("granularity"))
    if since is not None and step is not None:
        stamps = [since + step * i for i in range(len(values))]
    else:
        stamps = [since] * len(values)
    label = name or ((payload.get("application") or {}).get("name")) or str(id)
    frame = pd.DataFrame(
        {
            "scope": scope,
            "id": str(id),
            "name": label,
            "metric": metric,
            "timestamp": pd.to_datetime(stamps, utc=True),
            "value": pd.Series(values, dtype="int64"),
        },
        columns=USAGE_COLUMNS,
    )
    return frame


def get_usage(
    client: AdminClient,
    scope: Scope,
    id: int | str,
    metrics: Iterable[str] = ("hits",),
    *,
    period: Period | None = "day",
    since: str | None = None,
    until: str | None = None,
    granularity: str | None = None,
    timezone: str | None = None,
    name: str | None = None,
) -> pd.DataFrame:
    """Usage of one product / application / backend for several metrics, long format."""
    frames = []
    for metric in metrics:
        params = {
            "metric_name": metric,
            "period": period,
            "since": since,
            "until": until,
            "granularity": granularity,
            "timezone": timezone,
            "skip_change": "true",
        }
        payload = fetch(client, f"/stats/{scope}/{id}/usage.json", params)
        frames.append(usage_frame(payload, scope=scope.rstrip("s"), id=id, name=name))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=USAGE_COLUMNS)


def list_methods(client: AdminClient, service_id: int | str) -> pd.DataFrame:
    """Metrics and methods of a product: system_name, friendly_name, unit and whether it is a method."""
    data = client.get_json(f"/admin/api/services/{service_id}/metrics.json")
    rows = []
    for item in data.get("metrics") or []:
        m = item.get("metric", item)
        rows.append(
            {
                "system_name": m.get("system_name"),
                "friendly_name": m.get("friendly_name") or m.get("name"),
                "unit": m.get("unit"),
                "is_method": m.get("parent_id") is not None,
            }
        )
    return pd.DataFrame(rows, columns=["system_name", "friendly_name", "unit", "is_method"])


def get_product_usage(
    client: AdminClient,
    service_id: int | str,
    *,
    period: Period = "day",
    since: str | None = None,
    name: str | None = None,
    timezone: str | None = None,
) -> pd.DataFrame:
    """Every metric and method of a product (hits, each method, token metrics) in one long frame,
    with an ``is_method`` column for the per-method chart."""
    catalogue = list_methods(client, service_id)
    frame = get_usage(
        client,
        "services",
        service_id,
        catalogue["system_name"].tolist(),
        period=period,
        since=since,
        name=name,
        timezone=timezone,
    )
    methods = set(catalogue.loc[catalogue["is_method"], "system_name"])
    frame["is_method"] = frame["metric"].isin(methods)
    return frame


def get_application_usage(
    client: AdminClient,
    applications: Sequence[dict[str, Any]] | Sequence[int | str],
    metrics: Iterable[str] = ("hits", *TOKEN_METRICS),
    *,
    period: Period = "day",
    since: str | None = None,
    timezone: str | None = None,
) -> pd.DataFrame:
    """Per application (ids, or dicts with ``id`` and ``name``) per metric per bucket."""
    frames = []
    metrics = list(metrics)
    for app in applications:
        app_id, app_name = (app["id"], app.get("name")) if isinstance(app, dict) else (app, None)
        frames.append(
            get_usage(
                client, "applications", app_id, metrics, period=period, since=since, timezone=timezone, name=app_name
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=USAGE_COLUMNS)


def get_top_applications(
    client: AdminClient,
    service_id: int | str,
    *,
    metric: str = "hits",
    period: Period = "day",
    since: str | None = None,
) -> pd.DataFrame:
    # 3scale requires `since` here (unlike usage.json): default to the start of the current period, in UTC.
    payload = fetch(
        client,
        f"/stats/services/{service_id}/top_applications.json",
        {"metric_name": metric, "period": period, "since": since or _period_start(period)},
    )
    rows = [
        {
            "id": str(a.get("id")),
            "name": a.get("name"),
            "account": (a.get("account") or {}).get("name"),
            "metric": metric,
            "value": int(a.get("value") or 0),
        }
        for a in payload.get("applications") or []
    ]
    frame = pd.DataFrame(rows, columns=["id", "name", "account", "metric", "value"])
    return frame.sort_values("value", ascending=False, ignore_index=True)


def _period_start(period: str) -> str:
    today = datetime.now(UTC).date()
    if period == "week":
        today -= timedelta(days=today.weekday())
    elif period == "month":
        today = today.replace(day=1)
    elif period == "year":
        today = today.replace(month=1, day=1)
    return today.isoformat()


def totals(frame: pd.DataFrame, by: str | list[str] = "metric") -> pd.DataFrame:
    """Sum of ``value`` per ``by`` (e.g. per metric, or per [name, metric]); a pivot-friendly table."""
    return frame.groupby(by, as_index=False)["value"].sum().sort_values("value", ascending=False, ignore_index=True)


def per_bucket(frame: pd.DataFrame, freq: Literal["h", "D"] = "h") -> pd.DataFrame:
    """Values re-bucketed per hour ("h") or day ("D"), one column per metric."""
    if frame.empty:
        return pd.DataFrame()
    grouped = frame.groupby([pd.Grouper(key="timestamp", freq=freq), "metric"])["value"].sum()
    return grouped.unstack("metric", fill_value=0)


# --- rejected calls (not in Analytics) ----------------------------------------------------------------


def calls_frame(records: Iterable[tuple[Any, int] | dict[str, Any]]) -> pd.DataFrame:
    """Your own calls as (timestamp, status) or dicts with ``timestamp``, ``status`` (and ``application``)."""
    rows = [r if isinstance(r, dict) else {"timestamp": r[0], "status": r[1]} for r in records]
    frame = pd.DataFrame(rows, columns=sorted({"timestamp", "status", *{k for r in rows for k in r}}))
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame["status"] = frame["status"].astype("int64")
    return frame


# --- figures ------------------------------------------------------------------------------------------


def plot_hits_by_method(frame: pd.DataFrame, title: str = "Hits by method") -> Chart:
    """Bar chart of calls per method (rows with ``is_method``; falls back to every non-token metric)."""
    from maas_helpers import charts  # matplotlib on the first plot, not at import

    fig, ax = charts.figure(title)
    rows = frame[frame["is_method"]] if "is_method" in frame else frame[~frame["metric"].isin(TOKEN_METRICS)]
    table = totals(rows) if not rows.empty else rows
    if table.empty or table["value"].sum() == 0:
        charts.empty(ax, "calls")
        return fig
    ax.bar(charts.labels(table["metric"]), table["value"])
    ax.set_ylabel("calls")
    charts.slanted_labels(ax)
    return fig


def plot_tokens_by_application(frame: pd.DataFrame, title: str = "Tokens by application") -> Chart:
    """Stacked bars: prompt and completion tokens per application."""
    from maas_helpers import charts  # matplotlib on the first plot, not at import

    fig, ax = charts.figure(title)
    rows = frame[frame["metric"].isin(("prompt_tokens", "completion_tokens"))]
    if rows.empty or rows["value"].sum() == 0:
        charts.empty(ax, "tokens")
        return fig
    table = rows.pivot_table(index="name", columns="metric", values="value", aggfunc="sum", fill_value=0)
    table = table[table.sum(axis=1) > 0]  # applications without tokens only crowd the x axis
    bottom = None
    for metric in ("prompt_tokens", "completion_tokens"):
        if metric in table:
            ax.bar(charts.labels(table.index), table[metric], bottom=bottom, label=metric)
            bottom = table[metric] if bottom is None else bottom + table[metric]
    ax.set_ylabel("tokens")
    charts.slanted_labels(ax)
    ax.legend()
    return fig


def plot_top_applications(frame: pd.DataFrame, title: str = "Top applications") -> Chart:
    from maas_helpers import charts  # matplotlib on the first plot, not at import

    fig, ax = charts.figure(title)
    if frame.empty:
        charts.empty(ax, "applications")
        return fig
    ax.barh(charts.labels(frame["name"][::-1]), frame["value"][::-1])
    ax.set_xlabel(str(frame["metric"].iloc[0]))
    return fig


def plot_rejections(calls: pd.DataFrame, freq: str = "min", title: str = "Rate-limited calls (429)") -> Chart:
    """429s vs accepted calls per ``freq`` bucket, from ``calls_frame`` (Analytics never counts 429s)."""
    from maas_helpers import charts  # matplotlib on the first plot, not at import

    fig, ax = charts.figure(title)
    if calls.empty:
        charts.empty(ax, "calls")
        return fig
    kind = calls["status"].map(lambda s: "429" if s == 429 else ("ok" if s < 400 else "other error"))
    table = (
        calls.assign(kind=kind).groupby([pd.Grouper(key="timestamp", freq=freq), "kind"]).size().unstack(fill_value=0)
    )
    for column in ("ok", "429", "other error"):
        if column in table:
            ax.plot(table.index, table[column], marker="o", label=column)
    ax.set_ylabel(f"calls per {freq}")
    ax.legend()
    return fig
