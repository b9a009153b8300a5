"""The upper-bound token estimate a quota-admitted request reserves while in flight."""

from __future__ import annotations

import json

import pytest

from maas_sandbox.gateway import llm_metrics as lm
from maas_sandbox.gateway.config import compile_content

DEFAULTS = lm.LlmMetricsConfig.from_config({})


def estimate(body: dict | bytes, path: str = "/v1/chat/completions", config: lm.LlmMetricsConfig = DEFAULTS) -> dict:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return lm.estimate_usage(config, path, raw, lm.request_json("application/json", raw))


def test_prompt_is_bounded_by_the_body_and_completion_by_max_tokens_times_choices() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8, "n": 3}
    size = len(json.dumps(body).encode())
    assert estimate(body) == {"prompt_tokens": size, "completion_tokens": 24, "total_tokens": size + 24}


def test_the_largest_max_tokens_field_and_best_of_count() -> None:
    body = {"prompt": "x", "max_tokens": 5, "max_completion_tokens": 7, "best_of": 2, "n": 1}
    assert estimate(body, "/v1/completions")["completion_tokens"] == 14


@pytest.mark.parametrize("bad", ["8", -1, True, None, 2.5])
def test_without_a_usable_max_tokens_the_default_applies(bad: object) -> None:
    assert estimate({"messages": [], "max_tokens": bad})["completion_tokens"] == lm.DEFAULT_MAX_TOKENS


def test_embeddings_and_non_json_bodies_generate_nothing() -> None:
    assert estimate({"input": ["a", "b"]}, "/v1/embeddings")["completion_tokens"] == 0
    assert estimate(b"not json")["completion_tokens"] == 0
    assert estimate(b"") == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}  # GET /v1/models


def test_rules_decide_which_metrics_hold_what() -> None:
    config = lm.LlmMetricsConfig.from_config(
        {"rules": [{"metric": "tokens", "usage": "prompt_tokens"}, {"metric": "tokens", "usage": "completion_tokens"}]}
    )
    body = {"messages": [], "max_tokens": 10}
    assert estimate(body, config=config) == {"tokens": len(json.dumps(body).encode()) + 10}


def test_the_default_is_a_sandbox_setting_read_when_a_config_is_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    content = {"id": 1, "proxy": {"policy_chain": [{"name": "llm-metrics", "version": "1.0.0", "configuration": {}},
                                                   {"name": "apicast", "version": "builtin"}]}}
    monkeypatch.setenv(lm.DEFAULT_MAX_TOKENS_ENV, "2048")
    product = compile_content(content, "production", 1)
    assert product.llm is not None and product.llm.default_max_tokens == 2048
    monkeypatch.setenv(lm.DEFAULT_MAX_TOKENS_ENV, "lots")
    product = compile_content(content, "production", 1)
    assert product.llm is not None and product.llm.default_max_tokens == lm.DEFAULT_MAX_TOKENS


def test_a_priced_rule_bounds_in_whole_units_and_the_policy_setting_wins_over_the_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 28: the bound of a `per: 1000` rule is counted in thousands, rounded up (as llm_metrics_quota.lua),
    and `quota.default_max_tokens` in the policy configuration wins over MAAS_SANDBOX_QUOTA_DEFAULT_MAX_TOKENS."""
    config = lm.LlmMetricsConfig.from_config({
        "rules": [{"metric": "tokens_k", "usage": "total_tokens", "per": 1000}],
        "quota": {"enabled": True, "default_max_tokens": 100},
    })
    body = b'{"max_tokens": 1500}'
    assert lm.estimate_usage(config, "/v1/completions", body, json.loads(body)) == {"tokens_k": 2}
    assert lm.quota_request(config, {"tokens_k": 0}) == {"tokens_k": 1}  # never below 1
    llm = {"name": "llm-metrics", "version": "1.0.0", "configuration": {"quota": {"default_max_tokens": 100}}}
    content = {"id": 1, "proxy": {"policy_chain": [llm, {"name": "apicast", "version": "builtin"}]}}
    monkeypatch.setenv(lm.DEFAULT_MAX_TOKENS_ENV, "2048")
    product = compile_content(content, "production", 1)
    assert product.llm is not None and product.llm.default_max_tokens == 100
