"""Catalogue defaults (the guide's fixes), YAML round trip and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from maas_helpers.catalogue import (
    catalogue_from_dict,
    default_catalogue,
    dump_catalogue,
    load_catalogue,
    system_name,
)
from maas_helpers.config import make_settings, sandbox_models
from maas_helpers.errors import ConfigError
from maas_helpers.reconcile.openapi import openapi_document


@pytest.fixture
def catalogue():
    return default_catalogue(make_settings(org_name="Org"), sandbox_models("http://127.0.0.1:8933"))


def test_default_product_has_correct_verbs_rules_metrics_and_chain(catalogue) -> None:
    chat = catalogue.product("markov-chat-small")
    rules = {(m.http_method, m.pattern, m.system_name) for m in chat.methods}
    assert ("POST", "/v1/chat/completions$", "v1-chat-completions") in rules
    assert ("POST", "/v1/completions$", "v1-completions") in rules
    assert ("GET", "/v1/models", "v1-models") in rules
    assert {m.system_name for m in chat.methods} >= {"health", "version", "tokenize", "detokenize"}
    assert all(m.delta == 1 for m in chat.methods)
    assert "v1-embeddings" not in {m.system_name for m in chat.methods}
    embed = catalogue.product("hash-embed-small")
    assert ("POST", "/v1/embeddings$") in {(m.http_method, m.pattern) for m in embed.methods}
    assert [(m.system_name, m.unit) for m in chat.metrics] == [
        ("prompt_tokens", "token"), ("completion_tokens", "token"), ("total_tokens", "token"),
        ("prompt_tokens_k", "1000 tokens"), ("completion_tokens_k", "1000 tokens")]
    assert (chat.authentication.credentials_location, chat.authentication.auth_user_key) == (
        "authorization", "Authorization")
    assert [(p.name, p.version) for p in chat.policies] == [("cors", "builtin"), ("llm-metrics", "1.0.0"),
                                                            ("apicast", "builtin")]
    cors = chat.policies[0].configuration
    assert cors["allow_origin"] == "*" and cors["allow_credentials"] is False
    llm = chat.policies[1].configuration
    assert llm["enable_sse_support"] and llm["quota"] == {
        "enabled": True, "metrics": ["total_tokens"], "default_max_tokens": 512}
    assert [(r["metric"], r.get("per", 1)) for r in llm["rules"]] == [
        ("prompt_tokens", 1), ("completion_tokens", 1), ("total_tokens", 1),
        ("prompt_tokens_k", 1000), ("completion_tokens_k", 1000)]
    assert [p.system_name for p in chat.plans] == ["free", "standard", "premium"]
    assert chat.default_plan is None and all(p.published for p in chat.plans)
    assert {(lim.metric, lim.period) for lim in chat.plans[0].limits} == {
        ("hits", "minute"), ("hits", "day"), ("total_tokens", "minute"), ("total_tokens", "day")}
    assert [(a.account, a.plan, a.product) for a in catalogue.applications][0] == (
        "Developer", "standard", "markov-chat-small")
    assert catalogue.organisation.org_name == "Org"


def test_llm_metrics_configuration_is_valid_for_the_policy_manifest(catalogue) -> None:
    import json

    import jsonschema

    schema = json.loads(catalogue.policy.manifest_file.read_text())["configuration"]
    for product in catalogue.products:
        jsonschema.validate(product.policies[1].configuration, schema)


def test_yaml_round_trip_and_compact_models_form(tmp_path: Path, catalogue) -> None:
    path = tmp_path / "maas.yaml"
    dump_catalogue(catalogue, path)
    assert load_catalogue(path) == catalogue
    compact = catalogue_from_dict({"models": [{"name": "Granite-7B_Instruct", "url": "http://g:8080",
                                               "kind": "completion"}]})
    product = compact.products[0]
    assert product.system_name == system_name("Granite-7B_Instruct") == "granite-7b-instruct"
    assert product.backend.private_endpoint == "http://g:8080"
    assert compact.applications[0].product == "granite-7b-instruct"


def test_example_file_loads() -> None:
    example = Path(__file__).resolve().parents[2] / "maas.example.yaml"
    loaded = load_catalogue(example)
    assert loaded.products and all(p.plans for p in loaded.products)


def _priced(*prices: dict) -> dict:
    return {"models": [{"name": "m", "url": "http://m"}],
            "plans": [{"system_name": "x", "name": "X", "pricing": {"prices": list(prices)}}]}


def test_default_prices_are_exact_in_3scale_units() -> None:
    """porta pricing_rule.rb: cost_per_unit decimal(20,4) — a price per 1M tokens becomes a price per 1000."""
    from maas_helpers.catalogue import default_plans

    plans = {p.system_name: p for p in default_plans()}
    assert plans["free"].pricing.prices == []
    got = [(p.billed_metric, str(p.cost_per_unit), p.billed_range) for p in plans["standard"].pricing.prices]
    assert got == [("prompt_tokens_k", "0.0005", (1, None)), ("completion_tokens_k", "0.0015", (1, None))]
    tier = _priced({"metric": "prompt_tokens", "per_million": 1, "max": 1_000_000},
                   {"metric": "prompt_tokens", "per_million": 0.5, "min": 1_000_001},
                   {"metric": "hits", "per_unit": 0.001})
    prices = catalogue_from_dict(tier).products[0].plan("x").pricing.prices
    assert [(p.billed_range, str(p.cost_per_unit)) for p in prices] == [
        ((1, 1000), "0.001"), ((1001, None), "0.0005"), ((1, None), "0.001")]


@pytest.mark.parametrize(("data", "needle"), [
    ({"models": [{"name": "m", "url": "http://m"}], "plans": [{"system_name": "x", "name": "X", "limits": [
        {"metric": "nope", "period": "day", "value": 1}]}]}, "unknown metric"),
    ({"organisation": {"org": "x"}}, "organisation.org"),
    ({"models": [{"name": "m", "url": "http://m"}], "applications": [
        {"product": "m", "plan": "gold", "name": "a"}]}, "no plan 'gold'"),
    (_priced({"metric": "prompt_tokens", "per_million": -0.5}), "greater than or equal to 0"),
    (_priced({"metric": "prompt_tokens", "per_million": 0.15}), "per_million must be a multiple of 0.1"),
    (_priced({"metric": "prompt_tokens", "per_million": 1, "max": 1_000_000},
             {"metric": "prompt_tokens", "per_million": 0.5, "min": 500_001}), "overlaps tier"),
    (_priced({"metric": "prompt_tokens", "per_million": 1, "max": 1500}), "billed per 1000 tokens"),
    (_priced({"metric": "image_tokens", "per_unit": 0.01}), "price on metric 'image_tokens', which the product"),
    (_priced({"metric": "total_tokens", "per_million": 1}), "price on metric 'total_tokens_k'"),
    (_priced({"metric": "hits", "per_million": 1}), "give per_unit"),
])
def test_bad_catalogue_is_one_line(data: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        catalogue_from_dict(data, "maas.yaml")
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_openapi_uses_real_endpoint_and_plain_bearer(catalogue) -> None:
    doc = openapi_document(catalogue.product("markov-chat-small"), "https://chat-maas-apicast-production.apps.x")
    assert doc["servers"] == [{"url": "https://chat-maas-apicast-production.apps.x"}]
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert set(doc["paths"]) >= {"/v1/chat/completions", "/v1/completions", "/v1/models", "/tokenize"}
    assert "post" in doc["paths"]["/v1/chat/completions"] and "/v1/embeddings" not in doc["paths"]
    assert yaml.safe_dump(doc)  # serialisable


def test_embedding_products_say_so_in_their_description() -> None:
    """The portal's Examples page picks embeddings snippets by the product description (Liquid sees no paths)."""
    from maas_helpers.catalogue import product_for_model
    from maas_helpers.config import ModelEndpoint

    custom = ModelEndpoint(name="nomic", url="http://nomic.llm.svc:8080", kind="embedding", description="Nomic v1.5")
    assert "embeddings" in product_for_model(custom).description.lower()
    chat = ModelEndpoint(name="granite", url="http://granite.llm.svc:8080", kind="chat", description="Granite")
    assert product_for_model(chat).description == "Granite"


# --- gateway error answers (porta app/models/proxy.rb, 3scale-2.16-stable: HTTP_HEADER, length <= 255) --------

def test_default_error_answers_are_openai_json_that_porta_accepts() -> None:
    import json

    from maas_helpers.catalogue import PROXY_TEXT, Authentication

    auth = Authentication()
    bodies = {stem: getattr(auth, f"error_{stem}") for stem in ("auth_missing", "auth_failed", "no_match",
                                                                "limits_exceeded")}
    for stem, body in bodies.items():
        error = json.loads(body)["error"]
        assert set(error) == {"message", "type", "param", "code"}, stem
        assert PROXY_TEXT.fullmatch(body) and len(body) <= 255, stem
        assert getattr(auth, f"error_headers_{stem}") == "application/json"
    assert "/admin/applications" in json.loads(bodies["limits_exceeded"])["error"]["message"]
    assert (auth.error_status_auth_missing, auth.error_status_auth_failed, auth.error_status_no_match,
            auth.error_status_limits_exceeded) == (401, 403, 404, 429)


@pytest.mark.parametrize("body", ["it's", "stop!", "a*b", "<b>", "one\ntwo", "", "é", "x" * 256])
def test_an_error_body_porta_would_refuse_is_refused_before_anything_changes(body: str) -> None:
    from maas_helpers.catalogue import Authentication

    with pytest.raises(ValueError, match="3scale accepts 1 to 255 characters"):
        Authentication(error_no_match=body)
