"""The llm-metrics policy manifest: valid against APIcast's manifest schema, a usable draft-07
configuration schema, the shared cases conform to it, and the committed OpenShift manifests are
exactly what policies/render_manifests.py renders from it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
POLICY_DIR = REPO / "policies" / "llm-metrics" / "1.0.0"
CASES_FILE = REPO / "policies" / "llm-metrics" / "cases.json"
UPSTREAM_SCHEMA = (
    REPO.parent / "shared" / "reference" / "data" / "apicast-policy-manifests" / "manifest-schema.json"
)


def _load_render_module() -> ModuleType:
    path = REPO / "policies" / "render_manifests.py"
    spec = importlib.util.spec_from_file_location("render_manifests", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render = _load_render_module()


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return json.loads((POLICY_DIR / "apicast-policy.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def config_validator(manifest: dict[str, Any]) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(manifest["configuration"])


def test_manifest_validates_against_apicast_manifest_schema(manifest: dict[str, Any]) -> None:
    if not UPSTREAM_SCHEMA.exists():
        pytest.skip(f"upstream APIcast manifest schema not available at {UPSTREAM_SCHEMA}")
    schema = json.loads(UPSTREAM_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(manifest)


def test_manifest_identity(manifest: dict[str, Any]) -> None:
    assert manifest["name"] == "llm-metrics"
    assert manifest["version"] == "1.0.0"
    assert manifest["$schema"] == "http://apicast.io/policy-v1.1/schema#manifest#"
    assert len(manifest["summary"]) <= 75
    # APIcast's order checker resolves `order` names with the builtin loader only: a custom policy's
    # name is nil there and the gateway fails to start (policy_order_checker.lua, "table index is nil").
    assert "order" not in manifest
    assert "before the 3scale APIcast policy" in "".join(manifest["description"])


def test_configuration_is_a_valid_draft7_schema(manifest: dict[str, Any]) -> None:
    configuration = manifest["configuration"]
    jsonschema.Draft7Validator.check_schema(configuration)
    assert configuration["additionalProperties"] is False
    assert configuration["definitions"]["rule"]["additionalProperties"] is False
    assert set(configuration["properties"]) == {
        "enable_sse_support",
        "force_include_usage",
        "rules",
        "quota",
        "model_label",
        "estimate_missing_usage",
        "max_request_body_size",
    }


def test_defaults_are_the_documented_ones(manifest: dict[str, Any]) -> None:
    props = manifest["configuration"]["properties"]
    assert props["enable_sse_support"]["default"] is True
    assert props["force_include_usage"]["default"] is True
    assert props["model_label"]["default"] is True
    assert props["quota"]["properties"]["enabled"]["default"] is False
    fields = ("prompt_tokens", "completion_tokens", "total_tokens")
    assert props["rules"]["default"] == [{"metric": f, "usage": f, "statuses": [200]} for f in fields]


GOOD_CONFIGS: list[dict[str, Any]] = [
    {},
    {"enable_sse_support": False, "force_include_usage": False, "model_label": False},
    {"rules": [{"metric": "tokens", "usage": "total_tokens"}]},
    {"rules": [{"metric": "tokens", "usage": "total_tokens", "statuses": [200, 201]}]},
    {"quota": {"enabled": True}},
    {
        "quota": {"enabled": True, "metrics": ["total_tokens"]},
        "rules": [{"metric": "total_tokens", "usage": "total_tokens"}],
    },
]

BAD_CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("unknown top-level property", {"enable_sse": True}),
    (
        "guide's liquid rule shape",
        {"rules": [{"metric": "total_tokens", "increment": "{{llm_usage.total_tokens}}"}]},
    ),
    ("rule without usage", {"rules": [{"metric": "tokens"}]}),
    ("unknown usage field", {"rules": [{"metric": "tokens", "usage": "cached_tokens"}]}),
    ("extra rule property", {"rules": [{"metric": "t", "usage": "total_tokens", "condition": {}}]}),
    ("empty metric name", {"rules": [{"metric": "", "usage": "total_tokens"}]}),
    ("empty rules", {"rules": []}),
    ("status as string", {"rules": [{"metric": "t", "usage": "total_tokens", "statuses": ["200"]}]}),
    ("status out of range", {"rules": [{"metric": "t", "usage": "total_tokens", "statuses": [700]}]}),
    ("boolean as string", {"enable_sse_support": "true"}),
    ("quota enabled as string", {"quota": {"enabled": "yes"}}),
    ("unknown quota property", {"quota": {"enabled": True, "limit": 1000}}),
    ("quota metrics not strings", {"quota": {"metrics": [1]}}),
]


@pytest.mark.parametrize("config", GOOD_CONFIGS)
def test_example_configs_validate(
    config_validator: jsonschema.Draft7Validator, config: dict[str, Any]
) -> None:
    config_validator.validate(config)


@pytest.mark.parametrize(("why", "config"), BAD_CONFIGS, ids=[b[0] for b in BAD_CONFIGS])
def test_bad_configs_fail(
    config_validator: jsonschema.Draft7Validator, why: str, config: dict[str, Any]
) -> None:
    assert not config_validator.is_valid(config), why


def test_shared_cases_are_well_formed(config_validator: jsonschema.Draft7Validator) -> None:
    cases = json.loads(CASES_FILE.read_text(encoding="utf-8"))["cases"]
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    for case in cases:
        config_validator.validate(case["config"])
        response = case["response"]
        assert ("body" in response) != ("chunks" in response), case["name"]
        assert response.get("body_encoding", "identity") in {"identity", "base64"}
        assert isinstance(response["status"], int)
        expect = case["expect"]
        assert not ({"upstream_request_body", "upstream_request_json"} <= set(expect)), case["name"]
        assert all(isinstance(v, int) and v > 0 for v in expect["usage"].values()), case["name"]
        assert ("model" in expect) == bool(expect["usage"]), case["name"]


def test_committed_manifests_match_the_renderer() -> None:
    for name, text in render.rendered_files().items():
        committed = (REPO / "manifests" / "custom-policy" / name).read_text(encoding="utf-8")
        assert committed == text, f"manifests/custom-policy/{name} is stale: run policies/render_manifests.py"


def test_custom_policy_definition_carries_the_real_schema(manifest: dict[str, Any]) -> None:
    cpd = render.render_custom_policy_definition(manifest, "my-ns")
    assert cpd["apiVersion"] == "capabilities.3scale.net/v1beta1"
    assert cpd["kind"] == "CustomPolicyDefinition"
    assert cpd["metadata"]["namespace"] == "my-ns"
    assert cpd["spec"]["name"] == "llm-metrics" and cpd["spec"]["version"] == "1.0.0"
    schema = cpd["spec"]["schema"]
    assert schema["configuration"] == manifest["configuration"]
    assert "someAttr" not in json.dumps(schema)
    assert schema["description"] == manifest["description"]
    assert "order" not in schema  # the operator's schema type has no such field
    # It round-trips through YAML unchanged.
    assert yaml.safe_load(render.to_yaml(cpd)) == cpd


def test_policy_secret_holds_every_file_of_the_version_dir() -> None:
    secret = render.render_policy_secret(POLICY_DIR, "my-ns")
    assert secret["kind"] == "Secret"
    assert secret["metadata"]["namespace"] == "my-ns"
    assert secret["metadata"]["labels"] == {"apimanager.apps.3scale.net/watched-by": "apimanager"}
    files = {p.name: p.read_text(encoding="utf-8") for p in POLICY_DIR.iterdir() if p.is_file()}
    assert {"init.lua", "apicast-policy.json", "llm_metrics.lua"} <= set(files)
    assert secret["stringData"] == files
    assert yaml.safe_load(render.to_yaml(secret)) == secret


def test_apimanager_snippet_mounts_the_secret_in_both_gateways(manifest: dict[str, Any]) -> None:
    snippet = yaml.safe_load((REPO / "manifests" / "custom-policy" / render.APIMANAGER_FILE).read_text())
    secret_name = render.render_policy_secret(POLICY_DIR, "x")["metadata"]["name"]
    for gateway in ("stagingSpec", "productionSpec"):
        assert snippet["spec"]["apicast"][gateway]["customPolicies"] == [
            {"name": "llm-metrics", "version": "1.0.0", "secretRef": {"name": secret_name}}
        ]
