"""The gateway's Prometheus counters, as APIcast exports them on its metrics port (9421, `/metrics`).

- `llm_prompt_tokens_total`, `llm_completion_tokens_total`, `llm_total_tokens_total` — the llm-metrics
  policy's counters, labels `service_id`, `service_system_name`, `application_id`, `model`;
- `llm_estimated_reports_total` — responses without usage whose tokens llm-metrics estimated, labels
  `service_id`, `service_system_name` (as the Lua policy exports it);
- `upstream_status` — APIcast's counter of upstream HTTP statuses, label `status`, plus `service_id` and
  `service_system_name` as with `APICAST_EXTENDED_METRICS=true`.

The hot path only adds to plain dicts (one dict update per counter, no lock: the gateway runs on one event
loop); `prometheus_client` builds the exposition from them at scrape time, in its own registry.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TOKEN_LABELS = ("service_id", "service_system_name", "application_id", "model")
STATUS_LABELS = ("status", "service_id", "service_system_name")
# usage field → (metric family name without `_total`, help text), in the order they are exported
TOKEN_COUNTERS = {
    "prompt_tokens": ("llm_prompt_tokens", "Prompt tokens of LLM responses (llm-metrics policy)"),
    "completion_tokens": ("llm_completion_tokens", "Completion tokens of LLM responses (llm-metrics policy)"),
    "total_tokens": ("llm_total_tokens", "Total tokens of LLM responses (llm-metrics policy)"),
}

TokenLabels = tuple[str, str, str, str]


class GatewayMetrics:
    def __init__(self) -> None:
        self.tokens: dict[str, dict[TokenLabels, int]] = {name: {} for name in TOKEN_COUNTERS}
        self.upstream_status: dict[tuple[int, int, str], int] = {}  # labels turned into strings at scrape
        self.estimated: dict[tuple[str, str], int] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))

    def count_tokens(self, labels: TokenLabels, counts: Mapping[str, int]) -> None:
        """Add each usage field's count (callers pass only counts > 0) under these label values."""
        for name, value in counts.items():
            series = self.tokens.get(name)
            if series is not None:
                series[labels] = series.get(labels, 0) + value

    def count_estimated(self, service_id: str, service_system_name: str) -> None:
        key = (service_id, service_system_name)
        self.estimated[key] = self.estimated.get(key, 0) + 1

    def count_upstream_status(self, status: int, service_id: int, service_system_name: str) -> None:
        key = (status, service_id, service_system_name)
        counts = self.upstream_status
        counts[key] = counts.get(key, 0) + 1

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _Collector(Collector):
    def __init__(self, metrics: GatewayMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        for name, (family, help_text) in TOKEN_COUNTERS.items():
            counter = CounterMetricFamily(family, help_text, labels=TOKEN_LABELS)
            for labels, value in list(self.metrics.tokens[name].items()):
                counter.add_metric(labels, value)
            yield counter
        estimated = CounterMetricFamily(
            "llm_estimated_reports",
            "Responses without usage whose tokens were estimated (llm-metrics policy)",
            labels=("service_id", "service_system_name"),
        )
        for labels, value in list(self.metrics.estimated.items()):
            estimated.add_metric(labels, value)
        yield estimated
        # APIcast's name has no `_total`; prometheus_client would add it to a counter, so this is untyped
        status = Metric("upstream_status", "HTTP status from upstream servers", "unknown")
        for (code, service_id, system_name), value in list(self.metrics.upstream_status.items()):
            labels = dict(zip(STATUS_LABELS, (str(code), str(service_id), system_name), strict=True))
            status.add_sample("upstream_status", labels, value)
        yield status
