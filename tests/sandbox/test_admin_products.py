"""Admin API, products half: services, backend APIs, metrics/methods, mapping rules, backend usages.

Driven with the real `3scale-api` client where it covers the resource, and plain requests for exact status codes,
error bodies and envelopes the client hides.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from threescale_api.errors import ApiClientError

from harness.names import unique

ACCESS_DENIED = {"error": "Access denied"}


def _product(threescale: Any, **extra: Any) -> Any:
    name = unique("prod")
    return threescale.services.create(params={"name": name, "system_name": name.replace("-", "_"), **extra})


def _backend(threescale: Any, endpoint: str = "http://127.0.0.1:9") -> Any:
    return threescale.backends.create(params={"name": unique("backend"), "private_endpoint": endpoint})


# -- services -----------------------------------------------------------------------------------
def test_service_create_has_3scale_side_effects(threescale: Any, admin_http: Any) -> None:
    service = _product(threescale, description="Granite 3 chat")
    assert service["state"] == "incomplete"
    assert service["backend_version"] == "1"
    assert service["deployment_option"] == "hosted"
    assert service["buyer_can_select_plan"] is False
    assert service["description"] == "Granite 3 chat"
    assert not any(key.startswith("_") for key in service.entity)

    metrics = service.metrics.list()
    assert [(m["system_name"], m["unit"], m["friendly_name"]) for m in metrics] == [("hits", "hit", "Hits")]
    rules = service.proxy.list().mapping_rules.list()
    assert [(r["http_method"], r["pattern"], r["delta"], r["metric_id"], r["last"]) for r in rules] == [
        ("GET", "/", 1, metrics[0]["id"], False)
    ]
    plans = admin_http.get(f"/admin/api/services/{service['id']}/service_plans.json").json()["plans"]
    assert [(p["service_plan"]["name"], p["service_plan"]["state"], p["service_plan"]["default"]) for p in plans] == [
        ("Default", "published", False)  # porta service.rb create_default_service_plan
    ]
    app_plans = admin_http.get(f"/admin/api/services/{service['id']}/application_plans.json").json()["plans"]
    assert app_plans == []


def test_service_endpoints_are_the_products_gateway_slot(threescale: Any, sandbox: Any) -> None:
    first, second = _product(threescale), _product(threescale)
    ports = []
    for service in (first, second):
        proxy = service.proxy.list()
        staging, production = urlsplit(proxy["sandbox_endpoint"]), urlsplit(proxy["endpoint"])
        assert staging.hostname == production.hostname == "127.0.0.1"
        assert production.port == staging.port + 1
        base = urlsplit(sandbox.admin_url).port
        assert (staging.port - base - 8) % 2 == 0 and staging.port >= base + 10
        ports.append(staging.port)
    assert ports[1] == ports[0] + 2


def test_service_read_list_update_delete(threescale: Any, admin_http: Any) -> None:
    service = _product(threescale)
    sid = service["id"]
    read = admin_http.get(f"/admin/api/services/{sid}.json")
    assert read.status_code == 200
    body = read.json()["service"]
    assert body["name"] == service["name"]
    assert {"rel": "self", "href": f"{admin_http.base}/admin/api/services/{sid}"} in body["links"]

    listed = admin_http.get("/admin/api/services.json").json()
    assert "metadata" not in listed
    assert sid in [item["service"]["id"] for item in listed["services"]]

    service.update(params={"name": "Renamed", "buyer_can_select_plan": True, "system_name": "ignored"})
    again = threescale.services.read(sid)
    assert again["name"] == "Renamed"
    assert again["buyer_can_select_plan"] is True
    assert again["system_name"] == service["system_name"]

    assert threescale.services.delete(sid) is True
    gone = admin_http.get(f"/admin/api/services/{sid}.json")
    assert (gone.status_code, gone.json()) == (404, {"status": "Not found"})
    assert admin_http.delete(f"/admin/api/services/{sid}.json").status_code == 404
    assert admin_http.get("/admin/api/services/not-a-number.json").status_code == 404


def test_service_validation_errors(admin_http: Any) -> None:
    name = unique("dup")
    created = admin_http.post("/admin/api/services.json", data={"name": name, "system_name": name})
    assert created.status_code == 201
    duplicate = admin_http.post("/admin/api/services.json", json={"service": {"name": "x", "system_name": name}})
    assert (duplicate.status_code, duplicate.json()) == (422, {"errors": {"system_name": ["has already been taken"]}})
    blank = admin_http.post("/admin/api/services.json", data={"description": "no name"})
    assert (blank.status_code, blank.json()) == (422, {"errors": {"name": ["can't be blank"]}})
    wrong_wrapper = admin_http.post("/admin/api/services.json", json={"service": "flat"})
    assert (wrong_wrapper.status_code, wrong_wrapper.json()) == (422, {"error": "Wrong type for parameter: service"})
    bad_version = admin_http.post("/admin/api/services.json", data={"name": unique("v"), "backend_version": "9"})
    assert bad_version.json() == {"errors": {"backend_version": ["is not included in the list"]}}


@pytest.mark.parametrize("path", ["/admin/api/services.json", "/admin/api/backend_apis.json"])
@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_missing_or_wrong_token_is_403(admin_http: Any, path: str, token: str | None) -> None:
    for method in ("GET", "POST"):
        resp = admin_http.request(method, path, token=token, data={"name": "x", "private_endpoint": "http://a"})
        assert (resp.status_code, resp.json()) == (403, ACCESS_DENIED)


def test_last_service_cannot_be_deleted(fresh_sandbox: Any) -> None:
    from threescale_api import ThreeScaleClient

    client = ThreeScaleClient(url=fresh_sandbox.admin_url, token=fresh_sandbox.admin_token, ssl_verify=False)
    services = client.services.list()
    for extra in services[1:]:
        client.services.delete(extra["id"])
    last = client.services.list()
    assert len(last) == 1
    resp = requests.delete(f"{fresh_sandbox.admin_url}/admin/api/services/{last[0]['id']}.json",
                           params={"access_token": fresh_sandbox.admin_token}, timeout=30)
    assert (resp.status_code, resp.json()) == (
        422, {"errors": {"base": ["This service cannot be deleted: it is the last one of the account"]}})
    assert client.services.read(last[0]["id"]).exists()


def test_deleting_a_service_removes_what_it_owns(threescale: Any, admin_http: Any) -> None:
    service = _product(threescale)
    backend = _backend(threescale)
    sid = service["id"]
    service.backend_usages.create(params={"backend_api_id": backend["id"], "path": "/"})
    metric = service.metrics.create(params={"friendly_name": "Total tokens", "unit": "token"})
    plan = admin_http.post(f"/admin/api/services/{sid}/application_plans.json", data={"name": "Gold"}).json()
    plan_id = plan["application_plan"]["id"]
    limit = admin_http.post(f"/admin/api/application_plans/{plan_id}/metrics/{metric['id']}/limits.json",
                            data={"period": "day", "value": 10})
    assert limit.status_code == 201
    assert admin_http.post(f"/admin/api/services/{sid}/proxy/deploy.json").status_code == 201
    assert admin_http.get(f"/admin/api/services/{sid}/proxy/configs/sandbox/latest.json").status_code == 200

    assert admin_http.delete(f"/admin/api/services/{sid}.json").status_code == 200
    configs = admin_http.get("/admin/api/account/proxy_configs/sandbox.json").json()["proxy_configs"]
    assert sid not in [c["proxy_config"]["content"]["id"] for c in configs]
    plans = admin_http.get("/admin/api/application_plans.json").json()["plans"]
    assert plan_id not in [p["application_plan"]["id"] for p in plans]
    assert admin_http.get(f"/admin/api/application_plans/{plan_id}/limits.json").status_code == 404
    # the backend survives (it belongs to the account) and is deletable now that nothing uses it
    assert admin_http.get(f"/admin/api/backend_apis/{backend['id']}.json").status_code == 200
    assert admin_http.delete(f"/admin/api/backend_apis/{backend['id']}.json").status_code == 200


# -- backend APIs -------------------------------------------------------------------------------
def test_backend_api_crud(threescale: Any, admin_http: Any) -> None:
    backend = threescale.backends.create(params={"name": unique("llm"), "private_endpoint": "https://models.local"})
    assert backend["private_endpoint"] == "https://models.local:443"
    assert backend["system_name"] == backend["name"]
    metrics = backend.metrics.list()
    assert [m["system_name"] for m in metrics] == [f"hits.{backend['id']}"]
    assert "name" not in metrics[0].entity

    body = admin_http.get(f"/admin/api/backend_apis/{backend['id']}.json").json()["backend_api"]
    assert set(body) >= {"id", "name", "system_name", "description", "private_endpoint", "account_id",
                         "created_at", "updated_at", "links"}
    listed = admin_http.get("/admin/api/backend_apis.json").json()
    assert backend["id"] in [b["backend_api"]["id"] for b in listed["backend_apis"]]

    backend.update(params={"private_endpoint": "http://10.0.0.1:8000/v1/", "description": "vLLM"})
    again = threescale.backends.read(backend["id"])
    assert (again["private_endpoint"], again["description"]) == ("http://10.0.0.1:8000/v1", "vLLM")

    assert threescale.backends.delete(backend["id"]) is True
    assert admin_http.get(f"/admin/api/backend_apis/{backend['id']}.json").status_code == 404


def test_backend_api_validation(admin_http: Any) -> None:
    name = unique("be")
    assert admin_http.post("/admin/api/backend_apis.json", data={"name": name, "private_endpoint": "http://a"}).ok
    duplicate = admin_http.post("/admin/api/backend_apis.json", data={"name": name, "private_endpoint": "http://a"})
    assert (duplicate.status_code, duplicate.json()) == (422, {"errors": {"system_name": ["has already been taken"]}})
    invalid = admin_http.post("/admin/api/backend_apis.json", data={"name": unique("b"), "private_endpoint": "ftp:x"})
    assert (invalid.status_code, invalid.json()) == (422, {"errors": {"private_endpoint": ["Invalid URL format"]}})
    blank = admin_http.post("/admin/api/backend_apis.json", json={"backend_api": {}})
    assert blank.json() == {"errors": {"name": ["can't be blank"], "private_endpoint": ["can't be blank"]}}


def test_backend_in_use_cannot_be_deleted(threescale: Any, admin_http: Any) -> None:
    """porta: backend_api.rb `validate_destroyed_by_association_or_not_used_by_services` (en.yml text) and
    three_scale/api/responder.rb `error_status`: a refused DELETE is 403 with the record's errors."""
    service, backend = _product(threescale), _backend(threescale)
    service.backend_usages.create(params={"backend_api_id": backend["id"]})
    resp = admin_http.delete(f"/admin/api/backend_apis/{backend['id']}.json")
    assert resp.status_code == 403
    assert resp.json() == {"errors": {"base": ["cannot be deleted because it is used by at least one Product"]}}
    assert admin_http.get(f"/admin/api/backend_apis/{backend['id']}.json").ok  # nothing lost


def test_backend_metrics_methods_and_rules(threescale: Any, admin_http: Any) -> None:
    backend = _backend(threescale)
    bid = backend["id"]
    tokens = backend.metrics.create(params={"friendly_name": "Prompt tokens", "unit": "token"})
    assert tokens["system_name"] == f"prompt_tokens.{bid}"
    hits = next(m for m in backend.metrics.list() if m["system_name"] == f"hits.{bid}")
    method = hits.methods.create(params={"friendly_name": "Chat"})
    assert (method["system_name"], method["parent_id"]) == (f"chat.{bid}", hits["id"])

    rule = backend.mapping_rules.create(params={"http_method": "POST", "pattern": "/chat/completions",
                                                "delta": 1, "metric_id": method["id"]})
    assert (rule["position"], rule["last"]) == (1, False)
    rule.update(params={"last": True})
    assert threescale.backends.read(bid).mapping_rules.read(rule["id"])["last"] is True
    listed = admin_http.get(f"/admin/api/backend_apis/{bid}/mapping_rules.json").json()
    assert [r["mapping_rule"]["pattern"] for r in listed["mapping_rules"]] == ["/chat/completions"]

    foreign = admin_http.post(f"/admin/api/backend_apis/{bid}/mapping_rules.json",
                              data={"http_method": "GET", "pattern": "/", "delta": 1,
                                    "metric_id": _product(threescale).metrics.list()[0]["id"]})
    # porta backend_apis/mapping_rules_controller.rb `metric_params`: `backend_api.metrics.find` → 404
    assert (foreign.status_code, foreign.json()) == (404, {"status": "Not found"})

    assert admin_http.delete(f"/admin/api/backend_apis/{bid}/metrics/{hits['id']}/methods/{method['id']}.json").ok
    assert admin_http.get(f"/admin/api/backend_apis/{bid}/mapping_rules/{rule['id']}.json").status_code == 404


# -- metrics and methods ------------------------------------------------------------------------
def test_metrics_and_methods(threescale: Any, admin_http: Any) -> None:
    service = _product(threescale)
    sid = service["id"]
    metric = service.metrics.create(params={"friendly_name": "Completion tokens", "unit": "token",
                                            "description": "tokens generated"})
    assert (metric["system_name"], metric["name"], metric["unit"]) == ("completion_tokens", "completion_tokens",
                                                                      "token")
    assert "parent_id" not in metric.entity
    hits = service.metrics.read_by_name("hits")
    method = hits.methods.create(params={"friendly_name": "Embeddings", "system_name": "embeddings"})
    assert (method["unit"], method["parent_id"]) == ("hit", hits["id"])

    listed = admin_http.get(f"/admin/api/services/{sid}/metrics.json").json()["metrics"]
    assert {m["metric"]["system_name"]: m["metric"].get("parent_id") for m in listed} == {
        "hits": None, "completion_tokens": None, "embeddings": hits["id"]}
    methods = admin_http.get(f"/admin/api/services/{sid}/metrics/{hits['id']}/methods.json").json()
    assert [m["method"]["id"] for m in methods["methods"]] == [method["id"]]

    updated = admin_http.put(f"/admin/api/services/{sid}/metrics/{metric['id']}.json",
                             data={"friendly_name": "Output tokens"}).json()["metric"]
    assert (updated["friendly_name"], updated["system_name"]) == ("Output tokens", "completion_tokens")
    upd_method = admin_http.put(f"/admin/api/services/{sid}/metrics/{hits['id']}/methods/{method['id']}.json",
                                json={"method": {"description": "vectors"}}).json()["method"]
    assert upd_method["description"] == "vectors"

    dup = admin_http.post(f"/admin/api/services/{sid}/metrics.json",
                          data={"friendly_name": "x", "unit": "u", "system_name": "completion_tokens"})
    assert (dup.status_code, dup.json()) == (422, {"errors": {"system_name": ["has already been taken"]}})
    blank = admin_http.post(f"/admin/api/services/{sid}/metrics.json", data={"description": "x"})
    assert blank.json() == {"errors": {"friendly_name": ["can't be blank"], "unit": ["can't be blank"]}}
    not_hits = admin_http.post(f"/admin/api/services/{sid}/metrics/{metric['id']}/methods.json",
                               data={"friendly_name": "nested"})
    assert (not_hits.status_code, not_hits.json()) == (
        422, {"errors": {"base": ["You can only create methods under 'hits'"]}})
    keep_hits = admin_http.delete(f"/admin/api/services/{sid}/metrics/{hits['id']}.json")
    # porta metric.rb destroyable? + en.yml cannot_delete_hits; the responder makes a refused DELETE a 403
    assert (keep_hits.status_code, keep_hits.json()) == (
        403, {"errors": {"base": ["The Hits metric cannot be deleted"]}})
    wrong_parent = admin_http.get(f"/admin/api/services/{sid}/metrics/{metric['id']}/methods/{method['id']}.json")
    assert wrong_parent.status_code == 404


def test_deleting_a_metric_deletes_its_rules_and_limits(threescale: Any, admin_http: Any) -> None:
    service = _product(threescale)
    sid = service["id"]
    metric = service.metrics.create(params={"friendly_name": "Total tokens", "unit": "token"})
    rule = service.proxy.list().mapping_rules.create(params={"http_method": "POST", "pattern": "/v1/x", "delta": 5,
                                                             "metric_id": metric["id"]})
    plan = admin_http.post(f"/admin/api/services/{sid}/application_plans.json", data={"name": "P"}).json()
    plan_id = plan["application_plan"]["id"]
    limit = admin_http.post(f"/admin/api/application_plans/{plan_id}/metrics/{metric['id']}/limits.json",
                            data={"period": "month", "value": 1000}).json()["limit"]

    assert admin_http.delete(f"/admin/api/services/{sid}/metrics/{metric['id']}.json").status_code == 200
    assert admin_http.get(f"/admin/api/services/{sid}/metrics/{metric['id']}.json").status_code == 404
    assert admin_http.get(f"/admin/api/services/{sid}/proxy/mapping_rules/{rule['id']}.json").status_code == 404
    limits = admin_http.get(f"/admin/api/application_plans/{plan_id}/limits.json").json()["limits"]
    assert limit["id"] not in [item["limit"]["id"] for item in limits]


# -- mapping rules ------------------------------------------------------------------------------
def test_product_mapping_rules_crud_and_positions(threescale: Any, admin_http: Any) -> None:
    service = _product(threescale)
    sid = service["id"]
    hits = service.metrics.list()[0]["id"]
    rules = service.proxy.list().mapping_rules
    chat = rules.create(params={"http_method": "POST", "pattern": "/v1/chat/completions", "delta": "2",
                                "metric_id": hits, "last": "true"})
    assert (chat["position"], chat["delta"], chat["last"]) == (2, 2, True)
    first = rules.create(params={"http_method": "GET", "pattern": "/v1/models$", "delta": 1, "metric_id": hits,
                                 "position": 1})
    order = admin_http.get(f"/admin/api/services/{sid}/proxy/mapping_rules.json").json()["mapping_rules"]
    assert [(r["mapping_rule"]["pattern"], r["mapping_rule"]["position"]) for r in order] == [
        ("/v1/models$", 1), ("/", 2), ("/v1/chat/completions", 3)]
    assert first["position"] == 1

    patched = admin_http.request("PATCH", f"/admin/api/services/{sid}/proxy/mapping_rules/{chat['id']}.json",
                                 json={"mapping_rule": {"pattern": "/v1/completions", "position": 1}})
    assert patched.status_code == 200
    assert (patched.json()["mapping_rule"]["pattern"], patched.json()["mapping_rule"]["position"]) == (
        "/v1/completions", 1)
    put = admin_http.put(f"/admin/api/services/{sid}/proxy/mapping_rules/{chat['id']}.json", data={"delta": 0})
    assert (put.status_code, put.json()) == (422, {"errors": {"delta": ["must be greater than 0"]}})

    assert admin_http.delete(f"/admin/api/services/{sid}/proxy/mapping_rules/{first['id']}.json").status_code == 200
    order = admin_http.get(f"/admin/api/services/{sid}/proxy/mapping_rules.json").json()["mapping_rules"]
    assert [r["mapping_rule"]["position"] for r in order] == [1, 2]
    assert admin_http.get(f"/admin/api/services/{sid}/proxy/mapping_rules/{first['id']}.json").status_code == 404


@pytest.mark.parametrize(
    ("pattern", "errors"),
    [
        ("/v1/chat/completions", None),
        ("/v1/models/{model}$", None),
        ("/search?q={query}&lang=en", None),
        ("/a;b/{c_d}/x.json", None),
        ("v1/chat", ["invalid"]),
        ("/v1 chat", ["invalid"]),
        ("/v1/{a-b}", ["invalid"]),
        ("/v1$/x", ["invalid"]),
        ("/{id}/{id}", ["Can't have repeated variable names"]),
        ("/x/{id}?id={other}", ["Can't have repeated variable names"]),
        ("/x?{key}=1", ["invalid", "Can't use variables as keys in the querystring"]),
        ("/" + "a" * 255, ["is too long (maximum is 255 characters)"]),
    ],
)
def test_mapping_rule_pattern_validation(admin_http: Any, threescale: Any, pattern: str,
                                         errors: list[str] | None, product_for_rules: Any) -> None:
    sid, hits = product_for_rules
    resp = admin_http.post(f"/admin/api/services/{sid}/proxy/mapping_rules.json",
                           json={"http_method": "GET", "pattern": pattern, "delta": 1, "metric_id": hits})
    if errors is None:
        assert resp.status_code == 201, resp.text
        assert resp.json()["mapping_rule"]["pattern"] == pattern
    else:
        assert (resp.status_code, resp.json()) == (422, {"errors": {"pattern": errors}})


@pytest.fixture(scope="module")
def product_for_rules(threescale: Any) -> tuple[int, int]:
    service = _product(threescale)
    return service["id"], service.metrics.list()[0]["id"]


def test_mapping_rule_required_fields_and_enums(admin_http: Any, product_for_rules: Any) -> None:
    sid, hits = product_for_rules
    empty = admin_http.post(f"/admin/api/services/{sid}/proxy/mapping_rules.json", json={"mapping_rule": {}})
    assert (empty.status_code, empty.json()) == (422, {"errors": {
        "http_method": ["can't be blank", "is not included in the list"],
        "pattern": ["can't be blank"],
        "delta": ["is not a number"],
        "metric_id": ["can't be blank"],
    }})
    bad = admin_http.post(f"/admin/api/services/{sid}/proxy/mapping_rules.json",
                          data={"http_method": "get", "pattern": "/", "delta": "1.5", "metric_id": hits})
    assert bad.json() == {"errors": {"http_method": ["is not included in the list"],
                                     "delta": ["must be an integer"]}}
    word = admin_http.post(f"/admin/api/services/{sid}/proxy/mapping_rules.json",
                           data={"http_method": "GET", "pattern": "/", "delta": "many", "metric_id": hits})
    assert word.json() == {"errors": {"delta": ["is not a number"]}}
    wrong_owner = admin_http.get(f"/admin/api/services/{sid}/proxy/mapping_rules/999999.json")
    assert (wrong_owner.status_code, wrong_owner.json()) == (404, {"status": "Not found"})


# -- backend usages -----------------------------------------------------------------------------
def test_backend_usages(threescale: Any, admin_http: Any) -> None:
    service = _product(threescale)
    sid = service["id"]
    first, second, third = _backend(threescale), _backend(threescale), _backend(threescale)
    usage = service.backend_usages.create(params={"backend_api_id": first["id"], "path": "v1//chat/"})
    assert (usage["path"], usage["backend_id"], usage["service_id"]) == ("/v1/chat", first["id"], sid)
    assert "backend_api_id" not in usage.entity

    listed = admin_http.get(f"/admin/api/services/{sid}/backend_usages.json").json()
    assert isinstance(listed, list)
    assert [u["backend_usage"]["id"] for u in listed] == [usage["id"]]

    taken = admin_http.post(f"/admin/api/services/{sid}/backend_usages.json",
                            json={"backend_api_config": {"backend_api_id": second["id"], "path": "/v1/chat/"}})
    assert (taken.status_code, taken.json()) == (422, {"errors": {"path": [
        "This path is already taken. Specify a different path."]}})
    again = admin_http.post(f"/admin/api/services/{sid}/backend_usages.json",
                            data={"backend_api_id": first["id"], "path": "/other"})
    assert (again.status_code, again.json()) == (422, {"errors": {"backend_api_id": ["has already been taken"]}})
    missing = admin_http.post(f"/admin/api/services/{sid}/backend_usages.json", data={"path": "/x"})
    assert (missing.status_code, missing.text) == (400, "Required parameter missing: backend_api_id")

    root = admin_http.post(f"/admin/api/services/{sid}/backend_usages.json", data={"backend_api_id": second["id"]})
    assert (root.status_code, root.json()["backend_usage"]["path"]) == (201, "/")
    clash = admin_http.put(f"/admin/api/services/{sid}/backend_usages/{root.json()['backend_usage']['id']}.json",
                           data={"path": "/v1/chat"})
    assert clash.status_code == 422
    moved = admin_http.put(f"/admin/api/services/{sid}/backend_usages/{usage['id']}.json", data={"path": "/v2"})
    assert moved.json()["backend_usage"]["path"] == "/v2"
    assert admin_http.get(f"/admin/api/services/{sid}/backend_usages/{usage['id']}.json").json()[
        "backend_usage"]["path"] == "/v2"

    assert admin_http.delete(f"/admin/api/services/{sid}/backend_usages/{usage['id']}.json").status_code == 200
    assert admin_http.get(f"/admin/api/services/{sid}/backend_usages/{usage['id']}.json").status_code == 404
    third_usage = service.backend_usages.create(params={"backend_api_id": third["id"], "path": "/v2"})
    assert third_usage["path"] == "/v2"


def test_client_errors_surface_as_api_client_error(threescale: Any) -> None:
    with pytest.raises(ApiClientError) as info:
        threescale.services.create(params={"description": "nameless"})
    assert info.value.code == 422
