"""The shared llm-metrics case table (policies/llm-metrics/cases.json) against the Python policy.

The Lua busted specs run the same file, so both implementations agree on request rewrites and on the
usage reported for every response shape.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from maas_sandbox.gateway import llm_metrics as lm

POLICY_DIR = Path(__file__).resolve().parents[2] / "policies" / "llm-metrics"
CASES = json.loads((POLICY_DIR / "cases.json").read_text())["cases"]
SCHEMA = json.loads((POLICY_DIR / "1.0.0" / "apicast-policy.json").read_text())["configuration"]


def _bytes(value: str, encoding: str | None) -> bytes:
    return base64.b64decode(value) if encoding == "base64" else value.encode()


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def run_case(case: dict[str, Any]) -> tuple[bytes, dict[str, int], str]:
    config = lm.LlmMetricsConfig.from_config(case["config"])
    request = case["request"]
    body = request["body"].encode()
    rewritten, request_model = lm.rewrite_request(config, _header(request["headers"], "content-type"), body)
    upstream_body = rewritten if rewritten is not None else body

    response = case["response"]
    encoding = response.get("body_encoding")
    chunks = (
        [_bytes(c, encoding) for c in response["chunks"]]
        if "chunks" in response
        else [_bytes(response["body"], encoding)]
    )
    # client_abort_after: the client hangs up after that many chunks; the rest never passes the gateway.
    chunks = chunks[: response.get("client_abort_after", len(chunks))]
    headers = response["headers"]
    reader = lm.reader_for(
        config, response["status"], _header(headers, "content-type"), _header(headers, "content-encoding"), len(body)
    )
    usage, response_model = None, None
    if reader is not None:
        for chunk in chunks:
            reader.feed(chunk)
        usage, response_model, _estimated = lm.final_usage(config, response["status"], len(body), reader)
    increments = lm.usage_increments(config, response["status"], usage)
    return upstream_body, increments, lm.model_label(config, response_model, request_model)


def quota_decision(case: dict[str, Any]) -> tuple[dict[str, int], str | None]:
    """(what admission asks for, the X-LLM-Quota of a refusal or None) for a case with `quota`: the
    application's limits (one period) and usage so far; refused when usage + the ask passes a limit."""
    config = lm.LlmMetricsConfig.from_config(case["config"])
    request = case["request"]
    body = request["body"].encode()
    data = lm.request_json(_header(request["headers"], "content-type"), body)
    estimate = lm.estimate_usage(config, request["path"], body, data)
    asked = lm.quota_request(config, estimate)
    quota = case["quota"]
    for metric, delta in asked.items():
        limit, used = quota["limits"].get(metric), quota["used"].get(metric, 0)
        if limit is not None and used + delta > limit:
            return asked, lm.quota_header(metric, limit, quota["period"], max(0, limit - used), estimate[metric])
    return asked, None


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_shared_case(case: dict[str, Any]) -> None:
    jsonschema.validate(case["config"], SCHEMA)
    expect = case["expect"]
    if "quota" in case:
        asked, refusal = quota_decision(case)
        assert asked == expect["quota_requested"]
        if expect.get("status") == 429:
            metric, requested = next(iter(expect["quota_requested"].items()))
            limit, used = case["quota"]["limits"][metric], case["quota"]["used"].get(metric, 0)
            assert refusal == (
                f"metric={metric}; limit={limit}; period={case['quota']['period']}; remaining={limit - used}; "
                f"requested={requested}"
            )
            assert expect["usage"] == {}
            return
        assert refusal is None
    upstream_body, increments, model = run_case(case)
    if "upstream_request_json" in expect:
        assert json.loads(upstream_body) == expect["upstream_request_json"]
    else:
        assert upstream_body == expect.get("upstream_request_body", case["request"]["body"]).encode()
    assert increments == expect["usage"]
    if "model" in expect:
        assert model == expect["model"]


def test_sse_reader_keeps_only_the_unfinished_line() -> None:
    reader = lm.SseUsageReader()
    reader.feed(b'data: {"choices": []}\n\ndata: {"us')
    assert reader.partial == b'data: {"us'
    reader.feed(b'age": {"total_tokens": 3}}\n\n')
    assert reader.partial == b""
    assert reader.finish()[0] == {"total_tokens": 3}


def test_per_rule_carries_the_remainder_per_application() -> None:
    """As llm_metrics_usage.lua `deltas`: a `per: 1000` rule reports floor((carry + tokens) / 1000) and
    keeps the rest, so over many responses the thousands billed are floor(total / 1000)."""
    config = lm.LlmMetricsConfig.from_config({"rules": [
        {"metric": "prompt_tokens", "usage": "prompt_tokens"},
        {"metric": "prompt_tokens_k", "usage": "prompt_tokens", "per": 1000}]})
    carry: dict[str, int] = {}
    sizes = [700, 2800, 1, 499]
    reported = [lm.usage_increments(config, 200, {"prompt_tokens": n}, carry) for n in sizes]
    assert reported == [{"prompt_tokens": 700}, {"prompt_tokens": 2800, "prompt_tokens_k": 3},
                        {"prompt_tokens": 1}, {"prompt_tokens": 499, "prompt_tokens_k": 1}]
    assert carry == {"prompt_tokens_k": 0} and sum(sizes) == 4000
