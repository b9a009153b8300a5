"""The `llm-metrics` policy in Python, with the semantics of policies/llm-metrics/README.md.

Request rewrite (force `stream_options.include_usage` on streaming requests, whatever the Content-Type,
when the body is a JSON object), response readers that observe the body without holding it (SSE: only
the unfinished line is kept; JSON: a capped buffer; anything else: a byte count), the usage → metric
increments of the configured rules, the estimate for a metered 2xx response without usage (as
llm_metrics_usage.lua's `estimate`), and (sandbox only) the upper-bound token estimate a quota-admitted
request reserves while in flight. The same shared cases.json drives the Lua specs and this module's tests.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")
# Completion tokens assumed for a generation request that names no max_tokens (override per sandbox
# with this environment variable; a model's context length is a safe choice when it is known).
DEFAULT_MAX_TOKENS = 4096
DEFAULT_MAX_TOKENS_ENV = "MAAS_SANDBOX_QUOTA_DEFAULT_MAX_TOKENS"
_MAX_TOKEN_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
JSON_BUFFER_CAP = 8 * 1024 * 1024
BYTES_PER_TOKEN = 4  # the estimate's rule of thumb, as in llm_metrics_usage.lua
_INSERT = b',"stream_options":{"include_usage":true}'
_LINE_END = re.compile(rb"\r\n|\r|\n")
_USAGE_OBJECT = re.compile(rb'"usage"\s*:\s*\{')


@dataclass(frozen=True, slots=True)
class Rule:
    metric: str
    usage: str
    statuses: frozenset[int]
    per: int = 1  # report whole multiples of `per` (e.g. thousands of tokens for pricing), carry the rest


@dataclass(slots=True)
class LlmMetricsConfig:
    enable_sse_support: bool = True
    force_include_usage: bool = True
    rules: tuple[Rule, ...] = ()
    quota_enabled: bool = False
    quota_metrics: tuple[str, ...] = ()
    model_label: bool = True
    estimate_missing_usage: bool = True
    statuses: frozenset[int] = field(default_factory=frozenset)
    default_max_tokens: int = DEFAULT_MAX_TOKENS  # quota.default_max_tokens, else the sandbox's env setting
    default_max_tokens_configured: bool = False  # set in the policy configuration (wins over the env)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> LlmMetricsConfig:
        config = config or {}
        raw_rules = config.get("rules") or [{"metric": name, "usage": name} for name in USAGE_FIELDS]
        rules = tuple(
            Rule(str(r["metric"]), str(r["usage"]), frozenset(int(s) for s in (r.get("statuses") or [200])),
                 int(r.get("per") or 1))
            for r in raw_rules
        )
        quota = config.get("quota") or {}
        metrics = tuple(quota.get("metrics") or dict.fromkeys(r.metric for r in rules))
        configured_max_tokens = quota.get("default_max_tokens")
        return cls(
            enable_sse_support=bool(config.get("enable_sse_support", True)),
            force_include_usage=bool(config.get("force_include_usage", True)),
            rules=rules,
            quota_enabled=bool(quota.get("enabled", False)),
            quota_metrics=metrics,
            model_label=bool(config.get("model_label", True)),
            estimate_missing_usage=bool(config.get("estimate_missing_usage", True)),
            statuses=frozenset(s for r in rules for s in r.statuses),
            default_max_tokens=int(configured_max_tokens) if configured_max_tokens else DEFAULT_MAX_TOKENS,
            default_max_tokens_configured=bool(configured_max_tokens),
        )


def request_json(content_type: str | None, body: bytes) -> dict[str, Any] | None:
    """The request body as a JSON object, or None (not decodable, not an object).

    The Content-Type is not consulted: a client posting JSON as a form (`curl -d`) must not escape the
    rewrite, and so the token count (issue 13)."""
    if not body or body.lstrip()[:1] != b"{":
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def rewrite_request(config: LlmMetricsConfig, content_type: str | None, body: bytes) -> tuple[bytes | None, str]:
    """(new body or None when unchanged, request model) for a request with this content type and body."""
    return rewrite_parsed(config, body, request_json(content_type, body))


def rewrite_parsed(config: LlmMetricsConfig, body: bytes, data: dict[str, Any] | None) -> tuple[bytes | None, str]:
    """`rewrite_request` for a body already decoded by `request_json`."""
    if data is None:
        return None, ""
    model = data.get("model")
    model = model if isinstance(model, str) else ""
    if not config.force_include_usage or data.get("stream") is not True:
        return None, model
    if "stream_options" not in data:
        cut = body.rfind(b"}")
        return body[:cut] + _INSERT + body[cut:], model
    options = data["stream_options"]
    if isinstance(options, dict) and options.get("include_usage") is True:
        return None, model
    options = dict(options) if isinstance(options, dict) else {}
    options["include_usage"] = True
    data["stream_options"] = options
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode(), model


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def estimate_usage(config: LlmMetricsConfig, path: str, body: bytes, data: dict[str, Any] | None) -> dict[str, int]:
    """An upper bound of what the rules will report for this request, by metric: what quota admission asks
    for (usage + reserved + this <= limit, issue 28) and what an admitted request reserves while in flight.

    Prompt: the body length in bytes (every token of text is at least one byte, a token id two with its
    separator). Completion: the largest `max_tokens`-like field times the number of choices (`n`,
    `best_of`); without one, the configured default, except for embeddings (no completion) and bodies that
    are not a JSON object (nothing to generate from: the body length bounds everything). A rule with `per`
    counts its bound in whole units, rounded up. Same numbers as llm_metrics_quota.lua's `estimate`."""
    prompt = len(body)
    if data is None:
        completion = 0
    else:
        limits = [c for c in (_count(data.get(f)) for f in _MAX_TOKEN_FIELDS) if c is not None]
        if limits:
            choices = max([1, *(c for c in (_count(data.get("n")), _count(data.get("best_of"))) if c is not None)])
            completion = max(limits) * choices
        elif path.rstrip("/").endswith("/embeddings"):
            completion = 0
        else:
            completion = config.default_max_tokens
    by_field = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    estimate: dict[str, int] = {}
    for rule in config.rules:
        bound = by_field.get(rule.usage, prompt + completion)
        estimate[rule.metric] = estimate.get(rule.metric, 0) + -(-bound // rule.per)
    return estimate


def quota_request(config: LlmMetricsConfig, estimate: Mapping[str, int]) -> dict[str, int]:
    """The delta quota admission checks for each quota metric: this request's bound, at least 1."""
    return {metric: max(1, estimate.get(metric, 0)) for metric in config.quota_metrics}


def quota_header(metric: str, limit: int, period: str, remaining: int, requested: int) -> str:
    """`X-LLM-Quota` of a refusal: which limit, for which period, what is left, what this request needed.
    The Lua policy writes the fields 3scale tells it through APIcast (limit, remaining) and requested."""
    return f"metric={metric}; limit={limit}; period={period}; remaining={remaining}; requested={requested}"


class UsageReader:
    """Observes a response body; `finish()` returns the usage object and the model that carried it.

    `size` counts every body byte and `events` (SSE only) the data events other than [DONE]: what the
    estimate of a response without usage is made from."""

    size = 0
    events: int | None = None

    def feed(self, chunk: bytes) -> None:
        raise NotImplementedError

    def finish(self) -> tuple[dict[str, Any] | None, str | None]:
        raise NotImplementedError


class ByteCountingReader(UsageReader):
    """A body that is not read for usage (compressed, not JSON, SSE support off): only its size counts."""

    def __init__(self) -> None:
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)

    def finish(self) -> tuple[dict[str, Any] | None, str | None]:
        return None, None


class JsonUsageReader(UsageReader):
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        if self.size <= JSON_BUFFER_CAP:
            self.parts.append(chunk)
        self.size += len(chunk)

    def finish(self) -> tuple[dict[str, Any] | None, str | None]:
        if self.size > JSON_BUFFER_CAP or not self.size:
            return None, None
        try:
            data = json.loads(b"".join(self.parts))
        except ValueError:
            return None, None
        if not isinstance(data, dict) or not isinstance(data.get("usage"), dict):
            return None, None
        model = data.get("model")
        return data["usage"], model if isinstance(model, str) else None


class SseUsageReader(UsageReader):
    """WHATWG event-stream parsing, incremental: only the unfinished line is carried between chunks."""

    def __init__(self) -> None:
        self.size = 0
        self.events = 0
        self.partial = b""
        self.skip_lf = False  # the previous chunk ended with \r: a leading \n belongs to it
        self.data: list[bytes] | None = None
        self.usage: dict[str, Any] | None = None
        self.model: str | None = None

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.skip_lf and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self.skip_lf = False
        pos = 0
        for end in _LINE_END.finditer(chunk):
            line = chunk[pos : end.start()]
            if self.partial:
                line, self.partial = self.partial + line, b""
            self._line(line)
            pos = end.end()
            if end.group() == b"\r" and pos == len(chunk):
                self.skip_lf = True
        if pos < len(chunk):
            self.partial += chunk[pos:]

    def _line(self, line: bytes) -> None:
        if not line:
            self._dispatch()
            return
        if line[:1] == b":":
            return
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            if self.data is None:
                self.data = []
            self.data.append(value)

    def _dispatch(self) -> None:
        data, self.data = self.data, None
        if data is None:
            return
        payload = b"\n".join(data)
        if payload == b"[DONE]":
            return
        self.events += 1
        if b'"usage"' not in payload or _USAGE_OBJECT.search(payload) is None:
            return  # text deltas carry `"usage": null` (or nothing): not decoded
        try:
            event = json.loads(payload)
        except ValueError:
            return
        if isinstance(event, dict) and isinstance(event.get("usage"), dict):
            self.usage = event["usage"]
            model = event.get("model")
            self.model = model if isinstance(model, str) else None

    def finish(self) -> tuple[dict[str, Any] | None, str | None]:
        return self.usage, self.model  # an unterminated last event is discarded


def estimates(config: LlmMetricsConfig, status: int, request_bytes: int) -> bool:
    """Whether a response without usage gets an estimate: switched on, 2xx, and a request with a body
    (a GET /v1/models generates nothing)."""
    return config.estimate_missing_usage and 200 <= status < 300 and request_bytes > 0


def reader_for(
    config: LlmMetricsConfig,
    status: int,
    content_type: str | None,
    content_encoding: str | None,
    request_bytes: int = 0,
) -> UsageReader | None:
    if status not in config.statuses or request_bytes <= 0:
        return None  # a request without a body (GET /v1/models) generates nothing: not metered at all
    counting = ByteCountingReader() if estimates(config, status, request_bytes) else None
    if content_encoding and content_encoding.strip().lower() not in ("", "identity"):
        return counting
    ctype = (content_type or "").lower()
    if "text/event-stream" in ctype:
        return SseUsageReader() if config.enable_sse_support else counting
    if not ctype or "json" in ctype:
        return JsonUsageReader()
    return counting


def estimate_missing(request_bytes: int, reader: UsageReader) -> dict[str, int]:
    """The usage assumed for a response without one: prompt tokens from the request body bytes, completion
    tokens from the SSE data events (about one token each) or else the response bytes; total = both."""
    prompt = -(-request_bytes // BYTES_PER_TOKEN)
    completion = reader.events if reader.events is not None else -(-reader.size // BYTES_PER_TOKEN)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def final_usage(
    config: LlmMetricsConfig, status: int, request_bytes: int, reader: UsageReader
) -> tuple[dict[str, Any] | None, str | None, bool]:
    """(usage, response model, estimated) once the response ended, completely or not (client gone)."""
    usage, model = reader.finish()
    if usage is None and estimates(config, status, request_bytes):
        return estimate_missing(request_bytes, reader), None, True
    return usage, model, False


def _positive(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and value > 0 and not math.isinf(value)


def usage_counts(usage: Mapping[str, Any] | None) -> dict[str, int]:
    """The usage fields that count for the Prometheus counters: numbers > 0, floored (whatever the rules say)."""
    if not usage:
        return {}
    return {name: int(usage[name] // 1) for name in USAGE_FIELDS if _positive(usage.get(name))}


def usage_increments(config: LlmMetricsConfig, status: int, usage: Mapping[str, Any] | None,
                     carry: dict[str, int] | None = None) -> dict[str, int]:
    """Metric increments of the rules. A rule with `per` > 1 reports whole multiples of `per` and keeps the
    remainder in `carry` (one dict per application, keyed by metric), so the sum reported over time is
    floor(total / per) and no token goes unbilled; without `carry` the remainder is dropped."""
    increments: dict[str, int] = {}
    if not usage:
        return increments
    for rule in config.rules:
        if status not in rule.statuses:
            continue
        value = usage.get(rule.usage)
        if not _positive(value):
            continue
        count = int(value // 1)
        if rule.per > 1:
            pending = count + (carry.get(rule.metric, 0) if carry is not None else 0)
            count, rest = divmod(pending, rule.per)
            if carry is not None:
                carry[rule.metric] = rest
            if not count:
                continue
        increments[rule.metric] = increments.get(rule.metric, 0) + count
    return increments


def model_label(config: LlmMetricsConfig, response_model: str | None, request_model: str) -> str:
    if not config.model_label:
        return ""
    return response_model if response_model else request_model


def quota_error_body(exceeded: tuple[str, str, int] | None, retry_after: int) -> str:
    """The token-quota refusal in OpenAI's error shape, naming the limit and its period (as
    llm_metrics_quota.lua's `reject`); the limits of every plan are on the developer portal."""
    if exceeded is None:
        what = "Token quota of your plan reached."
    else:
        metric, period, limit = exceeded
        span = "in total" if period == "eternity" else f"per {period}"
        what = f"Token quota of your plan reached: {limit} {metric} {span}."
    unit = "second" if retry_after == 1 else "seconds"
    wait = f" Retry after {retry_after} {unit}." if retry_after >= 0 else ""
    message = f"{what}{wait} The limits of each plan are shown on the developer portal."
    return json.dumps({"error": {"message": message, "type": "tokens", "param": None,
                                 "code": "rate_limit_exceeded"}}, separators=(",", ":"))
