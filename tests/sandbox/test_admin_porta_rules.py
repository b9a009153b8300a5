"""Regression tests, one per porta (3scale-2.16-stable) rule the sandbox follows; each docstring names the file."""

from __future__ import annotations

import logging
from typing import Any

from maas_sandbox.gateway.config import compile_content

from harness.names import unique

# state_machines' `state_event` on save: `invalid_event` "cannot transition when %s" (the state's human name)
DENIED_HIDE = {"errors": {"state_event": ["cannot transition when hidden"]}}


def _product_with_root_backend(threescale: Any) -> tuple[Any, Any]:
    name = unique("rules")
    service = threescale.services.create(params={"name": name, "system_name": name.replace("-", "_")})
    backend = threescale.backends.create(params={"name": unique("be"), "private_endpoint": "http://127.0.0.1:9"})
    service.backend_usages.create(params={"backend_api_id": backend["id"], "path": "/"})
    return service, backend


def test_config_content_is_the_service_json_with_proxy_api_backend(threescale: Any, admin_http: Any) -> None:
    """app/services/apicast_v2_deployment_service.rb + app/lib/apicast/provider_source.rb: the content is the
    service's JSON with its `proxy`; no `backend_api_configs`; with every backend at `/` the backend is
    `proxy.api_backend` and no routing policy is added (backend_api_logic/routing_policy.rb)."""
    service, backend = _product_with_root_backend(threescale)
    base = f"/admin/api/services/{service['id']}/proxy"
    assert admin_http.post(f"{base}/deploy.json").status_code == 201
    content = admin_http.get(f"{base}/configs/sandbox/latest.json").json()["proxy_config"]["content"]
    assert "backend_api_configs" not in content
    assert (content["id"], content["system_name"]) == (service["id"], service["system_name"])
    proxy = content["proxy"]
    assert proxy["api_backend"] == "http://127.0.0.1:9"
    assert [p["name"] for p in proxy["policy_chain"]] == ["apicast"]
    compiled = compile_content(content, "sandbox", 1)  # the gateway routes from that shape
    assert [(u.usage_path, u.host, u.port) for u in compiled.upstreams] == [("/", "127.0.0.1", 9)]


def test_backend_at_subpath_routes_through_the_routing_policy() -> None:
    """apicast_v2_deployment_service.rb sets `api_backend` nil when a backend is at a sub-path; the routing
    rules (routing_policy.rb) then carry the URLs, and the gateway builds its upstreams from them."""
    content = {"id": 7, "proxy": {"api_backend": None, "policy_chain": [
        {"name": "routing", "version": "builtin", "configuration": {"rules": [
            {"url": "http://127.0.0.1:7/base", "owner_id": 1, "owner_type": "BackendApi",
             "condition": {"operations": [{"match": "path", "op": "matches", "value": "^(/v1/.*|/v1/?)"}]},
             "replace_path": "{{uri | remove_first: '/v1'}}"},
            {"url": "http://127.0.0.1:8", "owner_id": 2, "owner_type": "BackendApi",
             "condition": {"operations": [{"match": "path", "op": "matches", "value": "^(/.*)"}]}}]}},
        {"name": "apicast", "version": "builtin", "configuration": {}}]}}
    compiled = compile_content(content, "sandbox", 1)
    assert [(u.usage_path, u.port, u.base_path) for u in compiled.upstreams] == [("/v1", 7, "/base"), ("/", 8, "")]
    assert compiled.upstream_for("/v1/chat").port == 7 and compiled.upstream_for("/v2").port == 8


def test_gateway_skips_a_policy_it_cannot_load(caplog: Any) -> None:
    """APIcast gateway/src/apicast/configuration.lua `build_policy_chain`: a policy that fails to load is
    logged ("failed to load policy") and left out; the rest of the chain still runs."""
    content = {"id": 9, "proxy": {"api_backend": "http://127.0.0.1:9", "policy_chain": [
        {"name": "nope", "version": "builtin", "configuration": {}},
        {"name": "cors", "version": "builtin", "configuration": {"allow_origin": "*"}},
        {"name": "apicast", "version": "builtin", "configuration": {}}]}}
    with caplog.at_level(logging.WARNING):
        compiled = compile_content(content, "sandbox", 1)
    assert compiled.cors is not None and compiled.apicast
    assert any("failed to load policy: nope version: builtin" in r.getMessage() for r in caplog.records)


def test_gateway_ignores_a_policy_whose_configuration_it_cannot_use(caplog: Any) -> None:
    """porta keeps any non-blank configuration (proxy.rb `configuration_is_object`); APIcast's
    policy_chain.lua `load_policy` ignores a policy whose `.new(configuration)` crashes."""
    chain = [{"name": "cors", "version": "builtin", "configuration": {"max_age": "soon"}},
             {"name": "headers", "version": "builtin", "configuration": "not an object"},
             {"name": "apicast", "version": "builtin", "configuration": {}}]
    with caplog.at_level(logging.ERROR):
        compiled = compile_content({"id": 3, "proxy": {"policy_chain": chain}}, "sandbox", 1)
    assert compiled.cors is None and compiled.apicast
    crashed = [r.getMessage() for r in caplog.records if "crashed in .new()" in r.getMessage()]
    assert len(crashed) == 2


def test_plan_json_has_no_description(threescale: Any, admin_http: Any) -> None:
    """app/representers/plan_representer.rb + application_plan_representer.rb: `description` is accepted
    (application_plans_controller.rb DEFAULT_PARAMS) but not represented."""
    service, _ = _product_with_root_backend(threescale)
    url = f"/admin/api/services/{service['id']}/application_plans.json"
    created = admin_http.post(url, json={"name": "Gold", "description": "shiny"})
    assert created.status_code == 201
    plan = created.json()["application_plan"]
    assert "description" not in plan
    assert {"id", "name", "state", "setup_fee", "cost_per_month", "trial_period_days", "cancellation_period",
            "approval_required", "default", "custom", "system_name"} <= set(plan)
    listed = admin_http.get(url).json()["plans"]
    assert all("description" not in p["application_plan"] for p in listed)


def test_plan_state_machine_hidden_first(threescale: Any, admin_http: Any) -> None:
    """app/models/plan.rb `state_machine initial: :hidden`: `publish` hidden → published, `hide` only from
    published; an event that cannot fire is a 422 and changes nothing."""
    service, _ = _product_with_root_backend(threescale)
    url = f"/admin/api/services/{service['id']}/application_plans"
    hidden = admin_http.post(f"{url}.json", json={"name": "Hidden"}).json()["application_plan"]
    assert hidden["state"] == "hidden"
    refused = admin_http.post(f"{url}.json", json={"name": "Also hidden", "state_event": "hide"})
    assert (refused.status_code, refused.json()) == (422, DENIED_HIDE)
    assert "Also hidden" not in [p["application_plan"]["name"] for p in admin_http.get(f"{url}.json").json()["plans"]]
    again = admin_http.put(f"{url}/{hidden['id']}.json", json={"state_event": "hide"})
    assert (again.status_code, again.json()) == (422, DENIED_HIDE)
    published = admin_http.put(f"{url}/{hidden['id']}.json", json={"state_event": "publish"})
    assert published.json()["application_plan"]["state"] == "published"
    twice = admin_http.put(f"{url}/{hidden['id']}.json", json={"state_event": "publish"})
    assert (twice.status_code, twice.json()) == (422, {"errors": {"state_event": ["cannot transition when published"]}})
    assert admin_http.put(f"{url}/{hidden['id']}.json", json={"state_event": "hide"}).json()[
        "application_plan"]["state"] == "hidden"
    # state_machines: an event the machine does not have invalidates `state_event` itself ("is invalid")
    unknown = admin_http.put(f"{url}/{hidden['id']}.json", json={"state_event": "archive"})
    assert (unknown.status_code, unknown.json()) == (422, {"errors": {"state_event": ["is invalid"]}})


def test_refused_plan_delete_is_403_with_errors_base(threescale: Any, admin_http: Any) -> None:
    """app/lib/three_scale/api/responder.rb `error_status` (:forbidden on DELETE) with plan.rb
    `can_be_destroyed?` and config/locales/en.yml `has_contracts` for application plans."""
    service, _ = _product_with_root_backend(threescale)
    plan = service.app_plans.create(params={"name": unique("p"), "state_event": "publish"})
    account = threescale.accounts.list()[0]
    account.applications.create(params={"plan_id": plan["id"], "name": unique("app"), "description": "x"})
    resp = admin_http.delete(f"/admin/api/services/{service['id']}/application_plans/{plan['id']}.json")
    assert (resp.status_code, resp.json()) == (403, {"errors": {"base": [
        "This application plan cannot be deleted! At least one application depends on it."]}})


def test_master_provider_update_takes_rails_timezones(admin_http: Any) -> None:
    """app/controllers/master/api/providers_controller.rb `update` assigns `timezone`; app/models/account.rb
    `validate_timezone` accepts ActiveSupport zone names in ALLOWED_TIMEZONES (account/provider_methods.rb:
    whole-hour offsets only), else "Timezone <name> is not allowed"; refused = nothing stored."""
    provider = admin_http.get("/admin/api/provider.json").json()["account"]
    url = f"/master/api/providers/{provider['id']}.json"
    ok = admin_http.put(url, token="master", json={"account": {"timezone": "Berlin"}})
    assert ok.status_code == 200 and "timezone" not in ok.json()["signup"]["account"]
    for name in ("Europe/Berlin", "Kolkata", "Mars"):
        bad = admin_http.put(url, token="master", json={"account": {"timezone": name, "org_name": "lost"}})
        assert (bad.status_code, bad.json()) == (422, {"errors": {"timezone": [f"Timezone {name} is not allowed"]}})
    assert admin_http.get("/admin/api/provider.json").json()["account"]["org_name"] == provider["org_name"]
    admin_http.put(url, token="master", json={"account": {"timezone": "UTC"}}).raise_for_status()


def test_own_routing_rules_join_the_generated_ones(threescale: Any, admin_http: Any) -> None:
    """backend_api_logic/routing_policy.rb `policy_chain`: with a backend at a sub-path the rules of a routing
    policy already in the chain are appended to the generated ones, in one policy before `apicast`; a routing
    configuration that is not a rule list (porta stores it) contributes nothing and breaks nothing."""
    name = unique("routing")
    service = threescale.services.create(params={"name": name, "system_name": name.replace("-", "_")})
    backend = threescale.backends.create(params={"name": unique("be"), "private_endpoint": "http://127.0.0.1:7"})
    service.backend_usages.create(params={"backend_api_id": backend["id"], "path": "/v1"})
    base = f"/admin/api/services/{service['id']}/proxy"
    own = {"url": "http://127.0.0.1:5", "condition": {"operations": [
        {"match": "header", "header_name": "X-Model", "op": "==", "value": "a"}]}}
    chain = [{"name": "routing", "version": "builtin", "configuration": {"rules": [own]}, "enabled": True},
             {"name": "cors", "version": "builtin", "configuration": {}, "enabled": True},
             {"name": "apicast", "version": "builtin", "configuration": {}, "enabled": True}]
    assert admin_http.put(f"{base}/policies.json", json={"policies_config": chain}).status_code == 200
    proxy = admin_http.get(f"{base}/configs/sandbox/latest.json").json()["proxy_config"]["content"]["proxy"]
    assert [p["name"] for p in proxy["policy_chain"]] == ["cors", "routing", "apicast"]
    rules = proxy["policy_chain"][1]["configuration"]["rules"]
    assert [r["url"] for r in rules] == ["http://127.0.0.1:7", "http://127.0.0.1:5"]

    chain[0]["configuration"] = {"rules": "not a list"}
    assert admin_http.put(f"{base}/policies.json", json={"policies_config": chain}).status_code == 200
    proxy = admin_http.get(f"{base}/configs/sandbox/latest.json").json()["proxy_config"]["content"]["proxy"]
    assert [r["url"] for r in proxy["policy_chain"][1]["configuration"]["rules"]] == ["http://127.0.0.1:7"]
    assert compile_content({"id": 1, "proxy": proxy}, "sandbox", 1).upstream_for("/v1/x").port == 7
