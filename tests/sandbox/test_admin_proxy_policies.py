"""Policy chains, the custom policy registry and our builtin policy manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from maas_sandbox.admin.builtin_policies import builtin_manifests

from harness.names import unique

REPO = Path(__file__).resolve().parents[2]
LLM_METRICS = REPO / "policies" / "llm-metrics" / "1.0.0" / "apicast-policy.json"
APICAST = {"name": "apicast", "version": "builtin", "configuration": {}, "enabled": True}
UPSTREAM_BUILTINS = ("apicast", "cors", "custom_metrics", "rate_limit_headers", "routing")


def _product(threescale: Any) -> Any:
    name = unique("prod")
    return threescale.services.create(params={"name": name, "system_name": name.replace("-", "_")})


@pytest.fixture(scope="module")
def llm_metrics(threescale: Any, admin_http: Any) -> dict[str, Any]:
    """Registers the project's llm-metrics manifest through the registry API, as the helpers library does."""
    if not LLM_METRICS.exists():
        pytest.skip(f"llm-metrics manifest not found at {LLM_METRICS}")
    manifest = json.loads(LLM_METRICS.read_text())
    found = admin_http.get(f"/admin/api/registry/policies/{manifest['name']}-{manifest['version']}.json")
    if found.status_code == 200:
        return found.json()["policy"]
    policy = threescale.policy_registry.create(params={"name": manifest["name"], "version": manifest["version"],
                                                       "schema": manifest})
    return policy.entity


# -- product policy chains ----------------------------------------------------------------------
def test_chain_defaults_and_client_insert(threescale: Any, admin_http: Any) -> None:
    service = _product(threescale)
    proxy = service.proxy.list()
    assert proxy.policies.list().entity == {"policies_config": [APICAST]}
    cors = {"name": "cors", "version": "builtin", "configuration": {"allow_origin": "*", "max_age": 60},
            "enabled": True}
    proxy.policies.insert(0, cors)
    body = admin_http.get(f"/admin/api/services/{service['id']}/proxy/policies.json").json()
    assert body == {"policies_config": [cors, APICAST]}


def test_chain_as_json_string_gets_apicast_appended(threescale: Any, admin_http: Any) -> None:
    """porta proxy.rb PoliciesConfig: a JSON string is parsed, `apicast` appended when missing; an entry keeps
    exactly what was sent (`to_h` drops nils), so one sent without `enabled` is stored without it."""
    service = _product(threescale)
    chain = [{"name": "headers", "version": "builtin",
              "configuration": {"response": [{"op": "set", "header": "X-Model", "value": "granite"}]}}]
    resp = admin_http.put(f"/admin/api/services/{service['id']}/proxy/policies.json",
                          data={"policies_config": json.dumps(chain)})
    assert resp.status_code == 200
    assert resp.json()["policies_config"] == [*chain, APICAST]
    missing = admin_http.put(f"/admin/api/services/{service['id']}/proxy/policies.json", data={"x": "1"})
    assert (missing.status_code, missing.text) == (400, "Required parameter missing: policies_config")


def test_chain_stores_any_named_versioned_policy(threescale: Any, admin_http: Any) -> None:
    """porta proxy.rb `PolicyConfig` validates only name and version present and configuration an object (or
    `{}`); unknown policies and configurations outside the schema are stored (the kit's catalogue check and
    the gateway deal with them). Policy-level errors answer the chain with each entry's `errors`
    (policies_controller.rb `represent_on_error: :resource`); unparsable JSON is porta's invalid_format."""
    service = _product(threescale)
    path = f"/admin/api/services/{service['id']}/proxy/policies.json"
    unknown = {"name": "nope", "version": "builtin", "configuration": {}, "enabled": True}
    off_schema = {"name": "cors", "version": "builtin", "configuration": {"allow_methods": ["FETCH"]},
                  "enabled": True}
    stored = admin_http.put(path, json={"policies_config": [unknown, off_schema]})
    assert (stored.status_code, stored.json()) == (200, {"policies_config": [unknown, off_schema, APICAST]})
    assert admin_http.get(path).json() == {"policies_config": [unknown, off_schema, APICAST]}

    no_version = admin_http.put(path, json={"policies_config": [{"name": "cors", "configuration": {},
                                                                 "enabled": True}]})
    assert (no_version.status_code, no_version.json()) == (422, {"policies_config": [
        {"name": "cors", "configuration": {}, "enabled": True, "errors": {"version": ["can't be blank"]}},
        APICAST]})
    no_config = admin_http.put(path, json={"policies_config": [{"name": "cors", "version": "builtin"}]})
    assert no_config.json()["policies_config"][0]["errors"] == {"configuration": ["can't be blank"]}
    not_json = admin_http.put(path, data={"policies_config": "[{"})
    assert (not_json.status_code, not_json.json()) == (422, {"errors": {"policies_config": [
        'has invalid format. The Correct format is: [{ "name": "apicast"... }]']}})
    assert admin_http.get(path).json() == {"policies_config": [unknown, off_schema, APICAST]}  # nothing lost


def test_registry_crud(threescale: Any, admin_http: Any) -> None:
    name = unique("policy")
    schema = {"$schema": "http://apicast.io/policy-v1.1/schema#manifest#", "name": name, "version": "0.1",
              "summary": "test policy", "configuration": {"type": "object",
                                                          "properties": {"level": {"type": "integer"}}}}
    created = admin_http.post("/admin/api/registry/policies.json",
                              json={"name": name, "version": "0.1", "schema": json.dumps(schema)})
    assert created.status_code == 201
    policy = created.json()["policy"]
    assert (policy["name"], policy["version"], policy["schema"]) == (name, "0.1", schema)

    by_id = admin_http.get(f"/admin/api/registry/policies/{policy['id']}.json").json()["policy"]
    by_name = admin_http.get(f"/admin/api/registry/policies/{name}-0.1.json").json()["policy"]
    assert by_id == by_name
    listed = threescale.policy_registry.list()
    assert policy["id"] in [p["id"] for p in listed]

    duplicate = admin_http.post("/admin/api/registry/policies.json",
                                json={"policy": {"name": name, "version": "0.1", "schema": schema}})
    assert (duplicate.status_code, duplicate.json()) == (422, {"errors": {"version": ["has already been taken"]}})
    blank = admin_http.post("/admin/api/registry/policies.json", json={"policy": {"name": name}})
    assert blank.json() == {"errors": {"version": ["can't be blank"], "schema": ["can't be blank"]}}
    incomplete = admin_http.post("/admin/api/registry/policies.json",
                                 json={"name": name, "version": "0.2", "schema": {"name": name}})
    assert incomplete.json() == {"errors": {"schema": [
        "$schema is missing", "version is missing", "summary is missing", "configuration is missing"]}}

    updated = admin_http.put(f"/admin/api/registry/policies/{policy['id']}.json",
                             json={"policy": {"schema": {**schema, "summary": "changed"}}})
    assert updated.json()["policy"]["schema"]["summary"] == "changed"

    assert admin_http.delete(f"/admin/api/registry/policies/{name}-0.1.json").status_code == 200
    gone = admin_http.get(f"/admin/api/registry/policies/{policy['id']}.json")
    assert (gone.status_code, gone.json()) == (404, {"status": "Not found"})
    denied = admin_http.get("/admin/api/registry/policies.json", token="wrong")
    assert (denied.status_code, denied.json()) == (403, {"error": "Access denied"})


def test_llm_metrics_chain(threescale: Any, admin_http: Any, llm_metrics: dict[str, Any]) -> None:
    """The kit chain cors → llm-metrics 1.0.0 → apicast, with the manifest registered through the API."""
    assert (llm_metrics["name"], llm_metrics["version"]) == ("llm-metrics", "1.0.0")
    service = _product(threescale)
    path = f"/admin/api/services/{service['id']}/proxy/policies.json"
    chain = [
        {"name": "cors", "version": "builtin", "configuration": {"allow_origin": "*"}, "enabled": True},
        {"name": "llm-metrics", "version": "1.0.0", "enabled": True,
         "configuration": {"rules": [{"metric": "total_tokens", "usage": "total_tokens"}]}},
        APICAST,
    ]
    ok = admin_http.put(path, json={"policies_config": chain})
    assert (ok.status_code, ok.json()) == (200, {"policies_config": chain})


    policies = admin_http.get("/admin/api/policies.json").json()  # porta: unwrapped, PoliciesListService
    assert set(builtin_manifests()) <= set(policies)
    assert "1.0.0" in [m["version"] for m in policies["llm-metrics"]]


# -- our builtin manifests ----------------------------------------------------------------------
def test_builtin_manifests_satisfy_the_manifest_schema(reference_data: Path) -> None:
    schema = json.loads((reference_data / "apicast-policy-manifests" / "manifest-schema.json").read_text())
    manifests = builtin_manifests()
    assert set(manifests) == {"apicast", "cors", "custom_metrics", "headers", "rate_limit_headers", "routing"}
    for name, manifest in manifests.items():
        jsonschema.validate(manifest, schema)
        assert manifest["version"] == "builtin", name
        jsonschema.Draft7Validator.check_schema(manifest["configuration"])


# Configurations exercising every field of the upstream builtins; each is checked against the upstream schema
# first, so the expectations come from APIcast's manifests, not from ours.
SAMPLES: dict[str, list[Any]] = {
    "apicast": [{}],
    "rate_limit_headers": [{}],
    "cors": [
        {}, {"allow_headers": ["Authorization", "Content-Type"], "allow_methods": ["GET", "POST", "OPTIONS"],
             "allow_origin": "*", "allow_credentials": True, "max_age": 600},
        {"allow_methods": ["FETCH"]}, {"allow_credentials": "yes"}, {"max_age": 1.5}, {"allow_headers": "x"},
    ],
    "custom_metrics": [
        {}, {"rules": [{"metric": "tokens", "increment": "{{ resp.headers['x-tokens'] }}", "condition": {
            "combine_op": "or", "operations": [{"left": "{{status}}", "op": "==", "right": "200",
                                                "left_type": "liquid", "right_type": "plain"}]}}]},
        {"rules": []}, {"rules": [{"metric": "m", "increment": "1"}]},
        {"rules": [{"metric": "m", "increment": "1", "condition": {"combine_op": "xor", "operations": []}}]},
        {"rules": [{"metric": "m", "increment": "1", "condition": {"combine_op": "and", "operations": [
            {"left": "a", "op": "<", "right": "b"}]}}]},
    ],
    "routing": [
        {}, {"rules": [{"url": "http://a:80", "owner_id": 3, "replace_path": "{{uri}}", "host_header": "h",
                        "condition": {"combine_op": "or", "operations": [
                            {"match": "path", "op": "matches", "value": "^/v1"},
                            {"match": "header", "op": "==", "value": "x", "header_name": "X-Model"},
                            {"match": "query_arg", "op": "!=", "value": "1", "query_arg_name": "q"},
                            {"match": "jwt_claim", "op": "==", "value": "a", "jwt_claim_name": "azp"},
                            {"match": "liquid", "op": "==", "value": "a", "liquid_value": "{{x}}",
                             "value_type": "liquid"}]}}]},
        {"rules": [{"owner_id": 1}]},
        {"rules": [{"url": "u", "condition": {"operations": [{"match": "header", "op": "==", "value": "x"}]}}]},
        {"rules": [{"url": "u", "condition": {"operations": [{"match": "body", "op": "==", "value": "x"}]}}]},
        {"rules": [{"url": "u", "owner_id": "1"}]},
    ],
}


@pytest.mark.parametrize("name", UPSTREAM_BUILTINS)
def test_our_schemas_accept_what_upstream_accepts(reference_data: Path, name: str) -> None:
    upstream = json.loads((reference_data / "apicast-policy-manifests" / f"{name}.json").read_text())["configuration"]
    ours = builtin_manifests()[name]["configuration"]
    verdicts = []
    for sample in SAMPLES[name]:
        upstream_ok = jsonschema.Draft7Validator(upstream).is_valid(sample)
        assert jsonschema.Draft7Validator(ours).is_valid(sample) == upstream_ok, (name, sample)
        verdicts.append(upstream_ok)
    if name not in ("apicast", "rate_limit_headers"):
        assert True in verdicts and False in verdicts  # the samples really test both directions


def test_headers_policy_schema() -> None:
    ours = jsonschema.Draft7Validator(builtin_manifests()["headers"]["configuration"])
    assert ours.is_valid({"request": [{"op": "add", "header": "X-A", "value": "1"}],
                          "response": [{"op": "delete", "header": "Server"},
                                       {"op": "set", "header": "X-T", "value": "{{ now }}", "value_type": "liquid"}]})
    assert not ours.is_valid({"request": [{"op": "replace", "header": "X"}]})
    assert not ours.is_valid({"response": [{"op": "set"}]})
