"""Analytics → DataFrames and figures, over real HTTP against a loopback server answering recorded
Analytics JSON in the shapes of reference §18 (the sandbox's /stats routes are tested where they exist)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
from matplotlib.figure import Figure

from maas_helpers import stats
from maas_helpers.admin_client import AdminClient
from maas_helpers.errors import MaasError

from harness.ports import serve_http

TOKEN = "stats-token-0123456789"
DAY = {
    "name": "day",
    "since": "2025-06-01T00:00:00Z",
    "until": "2025-06-01T23:59:59Z",
    "timezone": "Etc/UTC",
    "granularity": "hour",
}
SERVICE_VALUES = {
    "hits": [0, 3, 9] + [0] * 21,
    "chat_completions": [0, 2, 7] + [0] * 21,
    "embeddings": [0, 1, 2] + [0] * 21,
    "total_tokens": [0, 40, 130] + [0] * 21,
}
APPS = {
    11: ("alice-app", {"prompt_tokens": 30, "completion_tokens": 50, "hits": 4}),
    12: ("bob-app", {"prompt_tokens": 5, "completion_tokens": 15, "hits": 1}),
}


def _usage(metric: str, values: list[int], extra: dict | None = None) -> dict:
    return {
        "metric": {"id": 1, "name": metric, "system_name": metric, "unit": "hit"},
        "period": DAY,
        "total": sum(values),
        "values": values,
        **(extra or {}),
    }


class Recorded(BaseHTTPRequestHandler):
    requests: list[tuple[str, dict]] = []

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        Recorded.requests.append((url.path, q))
        if q.get("access_token") != TOKEN:
            return self._send(403, {"error": "Access denied"})
        body = self._answer(url.path, q)
        return self._send(200, body) if body is not None else self._send(404, {"status": "Not found"})

    def _answer(self, path: str, q: dict) -> dict | None:
        if path == "/admin/api/services/7/metrics.json":
            return {
                "metrics": [
                    {"metric": {"id": 1, "system_name": "hits", "friendly_name": "Hits", "unit": "hit"}},
                    {
                        "metric": {
                            "id": 2,
                            "system_name": "chat_completions",
                            "parent_id": 1,
                            "friendly_name": "Chat Completions",
                            "unit": "hit",
                        }
                    },
                    {"metric": {"id": 3, "system_name": "embeddings", "parent_id": 1, "unit": "hit"}},
                    {"metric": {"id": 4, "system_name": "total_tokens", "unit": "token"}},
                ]
            }
        if path == "/stats/services/7/usage.json":
            if q["metric_name"] not in SERVICE_VALUES:
                return None
            return _usage(q["metric_name"], SERVICE_VALUES[q["metric_name"]])
        if path.startswith("/stats/applications/"):
            app_id = int(path.split("/")[3])
            name, totals = APPS[app_id]
            values = [0] * 24
            values[5] = totals.get(q["metric_name"], 0)
            return _usage(q["metric_name"], values, {"application": {"id": app_id, "name": name}})
        if path == "/stats/services/7/top_applications.json":
            return {
                "period": DAY,
                "metric": {"system_name": q["metric_name"]},
                "applications": [
                    {"id": 12, "name": "bob-app", "value": 1, "account": {"name": "bob"}},
                    {"id": 11, "name": "alice-app", "value": 4, "account": {"name": "alice"}},
                ],
            }
        return None

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def admin() -> Iterator[str]:
    with serve_http(Recorded) as url:
        yield url


@pytest.fixture
def client(admin: str) -> AdminClient:
    Recorded.requests.clear()
    return AdminClient(admin, TOKEN)


def test_service_usage_frame_has_one_row_per_hour(client: AdminClient) -> None:
    df = stats.get_usage(client, "services", 7, ["hits"], period="day", since="2025-06-01")
    assert list(df.columns) == stats.USAGE_COLUMNS
    assert len(df) == 24 and df["value"].sum() == 12
    assert df.loc[2, "timestamp"] == pd.Timestamp("2025-06-01T02:00:00Z")
    path, query = Recorded.requests[-1]
    assert path == "/stats/services/7/usage.json"
    assert query["metric_name"] == "hits" and query["period"] == "day" and query["since"] == "2025-06-01"
    assert client.writes == 0


def test_product_usage_marks_methods_and_plots_hits_by_method(client: AdminClient) -> None:
    df = stats.get_product_usage(client, 7, name="granite")
    assert set(df["metric"]) == {"hits", "chat_completions", "embeddings", "total_tokens"}
    methods = stats.totals(df[df["is_method"]])
    assert methods.to_dict("records") == [
        {"metric": "chat_completions", "value": 9},
        {"metric": "embeddings", "value": 3},
    ]
    hourly = stats.per_bucket(df, "h")
    assert hourly.loc[pd.Timestamp("2025-06-01T02:00:00Z"), "total_tokens"] == 130
    daily = stats.per_bucket(df, "D")
    assert daily.iloc[0]["hits"] == 12
    fig = stats.plot_hits_by_method(df)
    bars = fig.axes[0].patches
    assert isinstance(fig, Figure) and [b.get_height() for b in bars] == [9, 3]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["chat_completions", "embeddings"]


def test_application_usage_and_tokens_figure(client: AdminClient) -> None:
    df = stats.get_application_usage(client, [{"id": 11, "name": "alice-app"}, 12])
    per_app = stats.totals(df, ["name", "metric"])
    lookup = {(r["name"], r["metric"]): r["value"] for r in per_app.to_dict("records")}
    assert lookup[("alice-app", "completion_tokens")] == 50
    assert lookup[("bob-app", "prompt_tokens")] == 5  # name from the application block of the answer
    fig = stats.plot_tokens_by_application(df)
    heights = sorted(b.get_height() for b in fig.axes[0].patches)
    assert heights == [5, 15, 30, 50]


def test_top_applications_sorted(client: AdminClient) -> None:
    top = stats.get_top_applications(client, 7, metric="hits")
    assert top[["name", "value", "account"]].to_dict("records") == [
        {"name": "alice-app", "value": 4, "account": "alice"},
        {"name": "bob-app", "value": 1, "account": "bob"},
    ]
    fig = stats.plot_top_applications(top)
    assert sorted(b.get_width() for b in fig.axes[0].patches) == [1, 4]


def test_rejections_come_from_the_callers_own_calls() -> None:
    calls = stats.calls_frame(
        [
            ("2025-06-01T10:00:05Z", 200),
            ("2025-06-01T10:00:20Z", 429),
            ("2025-06-01T10:00:40Z", 429),
            {"timestamp": "2025-06-01T10:01:10Z", "status": 200, "application": "alice-app"},
        ]
    )
    assert int((calls["status"] == 429).sum()) == 2
    fig = stats.plot_rejections(calls)
    lines = {line.get_label(): list(line.get_ydata()) for line in fig.axes[0].get_lines()}
    assert lines["429"] == [2, 0] and lines["ok"] == [1, 1]


def test_empty_data_gives_a_labelled_empty_figure() -> None:
    empty = pd.DataFrame(columns=stats.USAGE_COLUMNS)
    fig = stats.plot_tokens_by_application(empty)
    assert "no tokens" in fig.axes[0].texts[0].get_text()


def test_bad_token_and_unknown_metric_are_one_line_errors(admin: str) -> None:
    with pytest.raises(MaasError) as info:
        stats.get_usage(AdminClient(admin, "wrong-token-000000000"), "services", 7)
    assert "403" in str(info.value) and "wrong-token" not in str(info.value)
    with pytest.raises(MaasError, match="analytics /stats/services/7/usage.json"):
        stats.get_usage(AdminClient(admin, TOKEN), "services", 7, ["no_such_metric"])


def test_figures_display_once_as_png_with_readable_labels(client: AdminClient) -> None:
    """Issue 14 item 1: a bare Figure in a kernel without pyplot only has a `<Figure size…>` text repr. IPython's
    own formatter (what Jupyter and nbconvert use) must give an image, and long names must not overlap."""
    from IPython.core.formatters import DisplayFormatter

    df = stats.get_application_usage(client, [{"id": 11, "name": "alice-app with a very long name"}, 12])
    fig = stats.plot_tokens_by_application(df)
    data, _ = DisplayFormatter().format(fig)
    assert data["image/png"][:8] == b"\x89PNG\r\n\x1a\n" and len(data["image/png"]) > 5000
    assert fig.has_data()
    fig.canvas.draw()  # lay out, then check that neighbouring x labels do not overlap
    boxes = [t.get_window_extent() for t in fig.axes[0].get_xticklabels()]
    assert len(boxes) == 2 and not boxes[0].overlaps(boxes[1])
    many = pd.DataFrame([{"scope": "applications", "id": i, "name": f"developer application number {i}",
                          "metric": "prompt_tokens", "timestamp": pd.Timestamp("2025-06-01", tz="UTC"), "value": 5}
                         for i in range(10)])
    crowded = stats.plot_tokens_by_application(many)
    crowded.canvas.draw()
    boxes = [t.get_window_extent() for t in crowded.axes[0].get_xticklabels()]
    assert len(boxes) == 10 and not any(a.overlaps(b) for a, b in zip(boxes, boxes[1:], strict=False))
    empty = stats.plot_tokens_by_application(pd.DataFrame(columns=stats.USAGE_COLUMNS))
    assert not empty.has_data()  # the notebook-11 verification rejects a placeholder plot


def test_model_answers_are_shown_on_one_line() -> None:
    """Issue 14 item 11: notebook 10's table showed answers with literal `\\n`."""
    from maas_helpers.journey import answer_text

    chat = {"choices": [{"message": {"content": "the gateway\ncounts\n\ntokens "}}]}
    assert answer_text(chat) == "the gateway counts tokens"
    assert answer_text({"choices": [{"text": "def f():\n    return 1"}]}) == "def f(): return 1"
