"""The planners after the products: methods and metrics, mapping rules, authentication, the policy chain, and
deploy → promote. Pure (desired + observed → actions with the exact Admin API requests); the requests are the
ones threescale_api sends and porta routes: app/controllers/admin/api/metrics_controller.rb,
metric_methods_controller.rb, services/mapping_rules_controller.rb, services/proxies_controller.rb (`update`,
`deploy`), services/proxy/policies_controller.rb, services/proxy/configs_controller.rb (`promote`, `to`).
tests/sandbox/test_reconcile*.py check that porta (the sandbox) accepts them."""

from __future__ import annotations

import pytest

from maas_helpers.catalogue import Authentication, Product, product_for_model
from maas_helpers.config import ModelEndpoint
from maas_helpers.errors import MaasError
from maas_helpers.reconcile.actions import Links, Write
from maas_helpers.reconcile.context import _waves
from maas_helpers.reconcile.products import (
    plan_authentication,
    plan_deploy,
    plan_mapping_rules,
    plan_metrics,
    plan_policies,
    plan_promote,
    staging_differences,
)
from maas_helpers.results import Change, FieldChange

LINKS = Links("https://admin.example")
SID = 5
HITS = {"id": 1, "system_name": "hits", "friendly_name": "Hits", "unit": "hit", "description": None}


def _product(url: str = "http://granite.llm:8080", **update: object) -> Product:
    """One method and one metric, so the expected requests can be written out in full."""
    product = product_for_model(ModelEndpoint(name="granite", url=url))
    return product.model_copy(update={"methods": [product.methods[2]], "metrics": [product.metrics[0]], **update})


def _observed_metrics(product: Product) -> list[dict[str, object]]:
    method, metric = product.methods[0], product.metrics[0]
    return [HITS,
            {"id": 11, "system_name": method.system_name, "friendly_name": method.friendly_name,
             "description": method.description, "parent_id": 1},
            {"id": 12, "system_name": metric.system_name, "friendly_name": metric.friendly_name, "unit": metric.unit,
             "description": metric.description}]


# --- methods and metrics --------------------------------------------------------------------------------------

def test_a_new_method_goes_under_hits_and_a_new_metric_under_the_product() -> None:
    product = _product()
    method, metric = product.methods[0], product.metrics[0]
    actions = plan_metrics(product, SID, [HITS], LINKS)
    assert [(a.kind, a.name, a.change, a.detail) for a in actions] == [
        ("method", "granite: v1-chat-completions", Change.CREATED, "Chat Completions"),
        ("metric", "granite: prompt_tokens", Change.CREATED, "unit token")]
    assert actions[0].writes == (Write("POST", "/admin/api/services/{}/metrics/{}/methods.json",
                                       {"system_name": method.system_name, "friendly_name": "Chat Completions",
                                        "description": ""}, args=(SID, 1)),)
    assert str(actions[0].writes[0]) == "POST /admin/api/services/5/metrics/1/methods.json"
    assert actions[1].writes == (Write("POST", "/admin/api/services/{}/metrics.json",
                                       {"system_name": "prompt_tokens", "friendly_name": metric.friendly_name,
                                        "unit": "token", "description": metric.description}, args=(SID,)),)
    assert {a.link for a in actions} == {"https://admin.example/apiconfig/services/5/metrics"}


def test_metrics_in_sync_plan_no_write() -> None:
    product = _product()
    actions = plan_metrics(product, SID, _observed_metrics(product), LINKS)
    assert [(a.change, a.writes, a.changes) for a in actions] == [(Change.UNCHANGED, (), ())] * 2


def test_a_changed_unit_and_method_name_are_one_put_each_with_old_and_new() -> None:
    product = _product()
    observed = _observed_metrics(product)
    observed[1] = {**observed[1], "friendly_name": "Chat"}
    observed[2] = {**observed[2], "unit": "tokens"}
    method, metric = plan_metrics(product, SID, observed, LINKS)
    assert (method.change, method.changes) == (Change.UPDATED, (FieldChange("friendly_name", "Chat",
                                                                            "Chat Completions"),))
    assert method.writes == (Write("PUT", "/admin/api/services/{}/metrics/{}/methods/{}.json",
                                   {"friendly_name": "Chat Completions"}, args=(SID, 1, 11)),)
    assert method.detail == "friendly_name: 'Chat' → 'Chat Completions'"
    assert metric.writes == (Write("PUT", "/admin/api/services/{}/metrics/{}.json", {"unit": "token"},
                                   args=(SID, 12)),)
    assert metric.changes == (FieldChange("unit", "tokens", "token"),)


def test_a_product_not_created_yet_lists_its_objects_without_writes() -> None:
    product = _product()
    actions = plan_metrics(product, None, [], LINKS, missing="")
    assert [(a.kind, a.name, a.change, a.detail, a.writes) for a in actions] == [
        ("method", "granite: v1-chat-completions", Change.CREATED, "", ()),
        ("metric", "granite: prompt_tokens", Change.CREATED, "", ())]
    assert plan_metrics(product, None, [], LINKS)[0].detail == "product does not exist yet"


def test_methods_without_hits_are_a_clear_error() -> None:
    with pytest.raises(MaasError, match="product granite: 3scale lists no `hits` metric"):
        plan_metrics(_product(), SID, [], LINKS)


# --- mapping rules -----------------------------------------------------------------------------------------------

def _rule(rid: int, method: str, pattern: str, metric_id: int = 11, delta: int = 1) -> dict[str, object]:
    return {"id": rid, "http_method": method, "pattern": pattern, "metric_id": metric_id, "delta": delta,
            "last": False}


def test_rules_are_created_and_the_default_and_strays_deleted() -> None:
    product = _product()
    rules = [_rule(1, "GET", "/", metric_id=1), _rule(2, "GET", "/old")]
    actions = plan_mapping_rules(product, SID, _observed_metrics(product), rules, LINKS)
    assert [(a.name, a.change, a.detail) for a in actions] == [
        ("granite: POST /v1/chat/completions$", Change.CREATED, "→ v1-chat-completions +1"),
        ("granite: GET /", Change.DELETED, "the default rule prefix-matches every GET and double-counts hits"),
        ("granite: GET /old", Change.DELETED, "not in the catalogue")]
    assert actions[0].writes == (Write("POST", "/admin/api/services/{}/proxy/mapping_rules.json",
                                       {"http_method": "POST", "pattern": "/v1/chat/completions$", "delta": 1,
                                        "metric_id": 11, "last": False}, args=(SID,),
                                       provides="rule:granite: POST /v1/chat/completions$"),)
    assert [str(w) for a in actions[1:] for w in a.writes] == [
        "DELETE /admin/api/services/5/proxy/mapping_rules/1.json",
        "DELETE /admin/api/services/5/proxy/mapping_rules/2.json"]
    assert actions[1].writes[0].body is None
    assert actions[0].link == "https://admin.example/apiconfig/services/5/proxy_rules"


def test_the_default_rule_stays_when_the_product_keeps_it_and_in_sync_rules_plan_no_write() -> None:
    product = _product(delete_default_rule=False)
    rules = [_rule(1, "GET", "/", metric_id=1), _rule(3, "POST", "/v1/chat/completions$")]
    actions = plan_mapping_rules(product, SID, _observed_metrics(product), rules, LINKS)
    assert [(a.name, a.change, a.writes) for a in actions] == [
        ("granite: POST /v1/chat/completions$", Change.UNCHANGED, ())]


def test_a_changed_delta_is_one_put_of_that_field() -> None:
    product = _product()
    product.methods[0].delta = 2
    actions = plan_mapping_rules(product, SID, _observed_metrics(product),
                                 [_rule(3, "POST", "/v1/chat/completions$")], LINKS)
    (action,) = actions
    assert (action.change, action.changes) == (Change.UPDATED, (FieldChange("delta", 1, 2),))
    assert action.writes == (Write("PUT", "/admin/api/services/{}/proxy/mapping_rules/{}.json", {"delta": 2},
                                   args=(SID, 3)),)


def test_new_rules_go_out_one_after_the_other_in_catalogue_order() -> None:
    """3scale positions rules in creation order (porta proxy_rule.rb `acts_as_list`): side by side creates would
    list them differently from run to run."""
    product = _product()
    product.methods.append(product.methods[0].model_copy(update={"system_name": "extra", "pattern": "/extra$"}))
    metrics = [*_observed_metrics(product), {"id": 12, "system_name": "extra"}]
    actions = plan_mapping_rules(product, SID, metrics, [], LINKS)
    assert [[a.name for a in wave] for wave in _waves(actions)] == [
        ["granite: POST /v1/chat/completions$"], ["granite: POST /extra$"]]


def test_planning_a_rule_for_a_method_not_created_yet() -> None:
    """While planning, the method's metric has no id yet: the rule is a create (nothing is sent)."""
    (action,) = plan_mapping_rules(_product(), SID, [HITS], [], LINKS)
    assert action.change is Change.CREATED and action.writes[0].body["metric_id"] is None


# --- authentication and the policy chain ---------------------------------------------------------------------

PROXY = {**Authentication().model_dump(), "endpoint": "http://granite.gw:8080"}


def test_authentication_in_sync_update_and_missing() -> None:
    product = _product()
    same = plan_authentication(product, SID, PROXY, LINKS)
    assert (same.change, same.writes) == (Change.UNCHANGED, ())
    assert same.detail == ("API key in the Authorization header (HTTP Basic or Bearer); missing key → 401; "
                           "errors as OpenAI-shaped JSON")
    assert same.link == "https://admin.example/apiconfig/services/5/integration"
    stale = plan_authentication(product, SID, {**PROXY, "credentials_location": "query",
                                               "error_status_auth_missing": 403}, LINKS)
    assert stale.change is Change.UPDATED
    assert stale.writes == (Write("PUT", "/admin/api/services/{}/proxy.json",
                                  {"credentials_location": "authorization", "error_status_auth_missing": 401},
                                  args=(SID,)),)
    assert stale.detail == "credentials_location: 'query' → 'authorization'; error_status_auth_missing: 403 → 401"
    missing = plan_authentication(product, None, None, LINKS)
    assert (missing.change, missing.writes, missing.link) == (Change.UPDATED, (), None)


def test_secret_token_is_generated_once_0600_set_masked_and_then_unchanged(tmp_path) -> None:
    r"""porta app/models/proxy.rb: `secret_token` matches APP_OR_USER_KEY (/\A[\w\d_-]+\Z/), at most 255
    characters; its default is `Shared_secret_sent_from_proxy_to_API_backend_` + 64 random bits."""
    import re

    from maas_helpers.reconcile.products import proxy_secret_token

    product = _product()
    token = proxy_secret_token(tmp_path, product)
    assert token == proxy_secret_token(tmp_path, product)  # kept, not regenerated
    (path,) = tmp_path.glob("*.secret")
    assert path.stat().st_mode & 0o777 == 0o600
    assert re.fullmatch(r"[\w-]+", token) and 32 <= len(token) <= 255
    default = {**PROXY, "secret_token": "Shared_secret_sent_from_proxy_to_API_backend_0123456789abcdef"}
    action = plan_authentication(product, SID, default, LINKS, token)
    assert action.change is Change.UPDATED
    assert action.writes[0].body == {"secret_token": token}
    shown = f"{action.detail} {action.changes!r} {action.writes!r}"
    assert token not in shown and "****" + token[-4:] in action.detail
    again = plan_authentication(product, SID, {**PROXY, "secret_token": token}, LINKS, token)
    assert (again.change, again.writes) == (Change.UNCHANGED, ())
    assert token not in again.detail


def test_a_different_chain_is_replaced_whole_in_one_put() -> None:
    product = _product()
    chain = [p.model_dump() for p in product.policies]
    same = plan_policies(product, SID, chain, LINKS)
    assert (same.change, same.writes, same.detail) == (Change.UNCHANGED, (), "cors → llm-metrics → apicast")
    old = [{"name": "apicast", "version": "builtin", "configuration": {}, "enabled": True}]
    stale = plan_policies(product, SID, old, LINKS)
    assert stale.change is Change.UPDATED and stale.detail == "cors → llm-metrics → apicast"
    assert stale.writes == (Write("PUT", "/admin/api/services/{}/proxy/policies.json",
                                  {"policies_config": chain, "service_id": SID}, args=(SID,)),)
    assert stale.changes == (FieldChange("policies_config", old, chain),)
    assert plan_policies(product, None, None, LINKS).writes == ()


# --- deploy and promote ----------------------------------------------------------------------------------------

def _staging(product: Product, version: int = 3, api_backend: str = "http://granite.llm:8080",
             **proxy: object) -> dict[str, object]:
    """A latest staging config as porta renders it (proxy_config content: proxy settings, chain, rules)."""
    chain = [{k: p.model_dump()[k] for k in ("name", "version", "configuration")} for p in product.policies]
    rules = [{"http_method": "POST", "pattern": "/v1/chat/completions$", "metric_system_name": "v1-chat-completions",
              "delta": 1, "owner_type": "Proxy"}]
    return {"version": version, "content": {"proxy": {**PROXY, "api_backend": api_backend, "policy_chain": chain,
                                                      "proxy_rules": rules, **proxy}}}


def _differences(product: Product, staging: dict[str, object] | None) -> list[str]:
    return staging_differences(product, PROXY, _observed_metrics(product),
                               [_rule(3, "POST", "/v1/chat/completions$")], staging)


def test_staging_differences_name_what_changed() -> None:
    product = _product()
    assert _differences(product, _staging(product)) == []
    assert _differences(product, None) == ["no staging configuration yet"]
    assert _differences(product, _staging(product, error_status_auth_missing=403, policy_chain=[], proxy_rules=[],
                                          api_backend="http://other:8080")) == [
        "error_status_auth_missing", "policy chain", "mapping rules", "backend"]


def test_a_backend_url_without_port_matches_the_deployed_one_with_it() -> None:
    """porta stores (and deploys) the private endpoint with the scheme's port (backend_api.rb)."""
    product = _product(url="http://granite.llm")
    product.backend.private_endpoint = "http://granite.llm/"
    assert _differences(product, _staging(product, api_backend="http://granite.llm:80")) == []


def test_deploy_when_staging_differs_then_promote_the_version_it_made() -> None:
    product = _product()
    deploy = plan_deploy(product, SID, _staging(product), ["mapping rules"], LINKS)
    assert (deploy.change, deploy.detail) == (Change.CREATED, "new version: mapping rules changed")
    assert deploy.writes == (Write("POST", "/admin/api/services/{}/proxy/deploy.json", args=(SID,)),)
    assert deploy.link == "https://admin.example/apiconfig/services/5/proxy_configs"
    # round two, with the staging version 3scale made
    promote = plan_promote(product, SID, {"version": 4}, {"version": 3}, LINKS)
    assert (promote.change, promote.detail) == (Change.CREATED, "promoted v4")
    assert promote.writes == (Write("POST", "/admin/api/services/{}/proxy/configs/sandbox/{}/promote.json",
                                    {"to": "production"}, args=(SID, 4)),)
    assert promote.writes[0].resolved({}) == ("/admin/api/services/5/proxy/configs/sandbox/4/promote.json",
                                              {"to": "production"})
    assert promote.changes == (FieldChange("version", 3, 4),)
    first = plan_promote(product, SID, {"version": 1}, None, LINKS)
    assert first.changes == (FieldChange("version", None, 1),) and first.writes


def test_up_to_date_staging_and_production_plan_no_write() -> None:
    product = _product()
    deploy = plan_deploy(product, SID, _staging(product, version=7), [], LINKS)
    assert (deploy.change, deploy.detail, deploy.writes) == (Change.UNCHANGED, "v7", ())
    promote = plan_promote(product, SID, {"version": 7}, {"version": 7}, LINKS)
    assert (promote.change, promote.detail, promote.writes) == (Change.UNCHANGED, "v7 = staging", ())


def test_planning_a_deploy_promotes_the_version_still_to_come() -> None:
    promote = plan_promote(_product(), SID, None, {"version": 3}, LINKS)
    assert (promote.change, promote.detail, promote.writes) == (Change.CREATED, "promote the new staging version", ())
    missing = [plan_deploy(_product(), None, None, [], LINKS), plan_promote(_product(), None, None, None, LINKS)]
    assert [(a.kind, a.change, a.detail, a.writes, a.link) for a in missing] == [
        ("staging config", Change.CREATED, "", (), None), ("production config", Change.CREATED, "", (), None)]
