"""Admin API, products half: proxy settings, deploy, proxy configs and promote, restart persistence."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from maas_sandbox import control

from harness.admin import AdminHTTP
from harness.names import unique

NOT_FOUND = {"status": "Not found"}

PROXY_DEFAULTS = {
    "auth_user_key": "user_key",
    "auth_app_id": "app_id",
    "auth_app_key": "app_key",
    "credentials_location": "query",
    "error_auth_failed": "Authentication failed",
    "error_status_auth_failed": 403,
    "error_auth_missing": "Authentication parameters missing",
    "error_status_auth_missing": 403,
    "error_no_match": "No Mapping Rule matched",
    "error_status_no_match": 404,
    "error_limits_exceeded": "Usage limit exceeded",
    "error_status_limits_exceeded": 429,
    "error_headers_auth_failed": "text/plain; charset=us-ascii",
    "error_headers_auth_missing": "text/plain; charset=us-ascii",
    "error_headers_no_match": "text/plain; charset=us-ascii",
    "error_headers_limits_exceeded": "text/plain; charset=us-ascii",
    "api_test_path": "/",
    "oidc_issuer_type": "keycloak",
}


def _product(threescale: Any) -> Any:
    name = unique("prod")
    return threescale.services.create(params={"name": name, "system_name": name.replace("-", "_")})


def _product_with_backend(threescale: Any, path: str = "/") -> tuple[Any, Any]:
    service = _product(threescale)
    backend = threescale.backends.create(params={"name": unique("be"), "private_endpoint": "http://127.0.0.1:9"})
    service.backend_usages.create(params={"backend_api_id": backend["id"], "path": path})
    return service, backend


def test_proxy_defaults(threescale: Any, admin_http: Any) -> None:
    service = _product(threescale)
    body = admin_http.get(f"/admin/api/services/{service['id']}/proxy.json").json()["proxy"]
    assert {k: body[k] for k in PROXY_DEFAULTS} == PROXY_DEFAULTS
    assert body["service_id"] == service["id"]
    assert body["secret_token"].startswith("Shared_secret_sent_from_proxy_to_API_backend_")
    assert len(body["secret_token"].rsplit("_", 1)[1]) == 16
    assert body["api_backend"] is None
    assert body["policies_config"] == [{"name": "apicast", "version": "builtin", "configuration": {}, "enabled": True}]
    assert "id" not in body and "lock_version" in body


def test_proxy_update_deploys_to_staging(threescale: Any, admin_http: Any) -> None:
    service, backend = _product_with_backend(threescale)
    sid = service["id"]
    base = f"/admin/api/services/{sid}/proxy"
    latest = admin_http.get(f"{base}/configs/sandbox/latest.json")
    assert (latest.status_code, latest.json()) == (404, NOT_FOUND)

    proxy = service.proxy.update(params={"credentials_location": "authorization", "auth_user_key": "Authorization",
                                         "error_status_auth_missing": 401})
    assert (proxy["credentials_location"], proxy["error_status_auth_missing"]) == ("authorization", 401)
    assert proxy["api_backend"] == "http://127.0.0.1:9"
    config = admin_http.get(f"{base}/configs/sandbox/latest.json").json()["proxy_config"]
    assert (config["version"], config["environment"]) == (1, "sandbox")
    assert config["content"]["proxy"]["credentials_location"] == "authorization"
    assert config["content"]["proxy"]["error_status_auth_missing"] == 401

    patched = admin_http.request("PATCH", f"{base}.json", json={"proxy": {"error_no_match": "no route"}})
    assert patched.status_code == 200
    assert patched.json()["proxy"]["lock_version"] == proxy["lock_version"] + 1
    assert admin_http.get(f"{base}/configs/sandbox/latest.json").json()["proxy_config"]["version"] == 2

    nothing = admin_http.put(f"{base}.json", data={"unknown": "x"})
    assert (nothing.status_code, nothing.text) == (400, "Required parameter missing: proxy")
    bad = admin_http.put(f"{base}.json", data={"credentials_location": "cookie"})
    assert (bad.status_code, bad.json()) == (422, {"errors": {"credentials_location": ["is not included in the list"]}})
    assert admin_http.get(f"{base}.json").json()["proxy"]["credentials_location"] == "authorization"
    assert admin_http.get("/admin/api/services/999999/proxy.json").status_code == 404
    assert admin_http.get(f"{base}.json", token=None).json() == {"error": "Access denied"}
    assert backend["id"]


def test_proxy_error_texts_follow_porta_validations(threescale: Any, admin_http: Any) -> None:
    """porta app/models/proxy.rb (3scale-2.16-stable): error bodies and content types match HTTP_HEADER
    (no ' ! * < > or inner newline, ASCII) and are at most 255 characters; statuses are 200 <= status < 600.
    A refused update changes nothing (no new staging config)."""
    service, _backend = _product_with_backend(threescale)
    base = f"/admin/api/services/{service['id']}/proxy"
    good = '{"error":{"message":"Bad key (see /admin/applications)","type":"invalid_request_error","code":null}}'
    ok = admin_http.put(f"{base}.json", json={"proxy": {"error_auth_failed": good,
                                                       "error_headers_auth_failed": "application/json"}})
    assert ok.status_code == 200 and ok.json()["proxy"]["error_auth_failed"] == good
    version = admin_http.get(f"{base}/configs/sandbox/latest.json").json()["proxy_config"]["version"]
    refused = {"error_no_match": "it's", "error_auth_missing": "stop!", "error_limits_exceeded": "<b>x</b>",
               "error_headers_no_match": "a*b", "error_headers_auth_missing": "one\ntwo", "error_auth_failed": "",
               "error_headers_limits_exceeded": "é"}
    for field, value in refused.items():
        bad = admin_http.put(f"{base}.json", json={"proxy": {field: value}})
        assert (bad.status_code, bad.json()) == (422, {"errors": {field: ["is invalid"]}}), field
    long = admin_http.put(f"{base}.json", json={"proxy": {"error_no_match": "x" * 256}})
    assert long.json() == {"errors": {"error_no_match": ["is too long (maximum is 255 characters)"]}}
    assert admin_http.put(f"{base}.json", json={"proxy": {"error_no_match": "x" * 255}}).status_code == 200
    low = admin_http.put(f"{base}.json", json={"proxy": {"error_status_no_match": 199}})
    assert low.json() == {"errors": {"error_status_no_match": ["must be greater than or equal to 200"]}}
    high = admin_http.put(f"{base}.json", json={"proxy": {"error_status_no_match": 600}})
    assert high.json() == {"errors": {"error_status_no_match": ["must be less than 600"]}}
    blank = admin_http.put(f"{base}.json", json={"proxy": {"error_status_no_match": ""}})
    assert blank.json() == {"errors": {"error_status_no_match": ["can't be blank", "is not a number"]}}
    proxy = admin_http.get(f"{base}.json").json()["proxy"]
    assert (proxy["error_auth_failed"], proxy["error_no_match"], proxy["error_status_no_match"]) == (good, "x" * 255,
                                                                                                     404)
    assert admin_http.get(f"{base}/configs/sandbox/latest.json").json()["proxy_config"]["version"] == version + 1


def test_legacy_api_backend_creates_a_backend(threescale: Any, admin_http: Any) -> None:
    service = _product(threescale)
    sid = service["id"]
    resp = admin_http.put(f"/admin/api/services/{sid}/proxy.json", data={"api_backend": "https://llm.example"})
    assert resp.json()["proxy"]["api_backend"] == "https://llm.example:443"
    usages = admin_http.get(f"/admin/api/services/{sid}/backend_usages.json").json()
    assert [u["backend_usage"]["path"] for u in usages] == ["/"]
    backend = admin_http.get(f"/admin/api/backend_apis/{usages[0]['backend_usage']['backend_id']}.json").json()
    assert backend["backend_api"]["name"] == f"{service['name']} Backend"


def test_deploy_versions_only_on_change_and_content_shape(threescale: Any, admin_http: Any) -> None:
    service = _product(threescale)
    sid = service["id"]
    base = f"/admin/api/services/{sid}/proxy"
    no_backend = admin_http.post(f"{base}/deploy.json")
    assert no_backend.status_code == 201
    assert admin_http.get(f"{base}/configs/sandbox.json").json() == {"proxy_configs": []}

    backend = threescale.backends.create(params={"name": unique("be"), "private_endpoint": "http://127.0.0.1:7"})
    bid = backend["id"]
    tokens = backend.metrics.create(params={"friendly_name": "Total tokens", "unit": "token"})
    backend.mapping_rules.create(params={"http_method": "POST", "pattern": "/chat/{kind}?stream={s}", "delta": 3,
                                         "metric_id": tokens["id"], "last": True})
    other = threescale.backends.create(params={"name": unique("be"), "private_endpoint": "http://127.0.0.1:8"})
    service.backend_usages.create(params={"backend_api_id": bid, "path": "/v1"})
    service.backend_usages.create(params={"backend_api_id": other["id"], "path": "/"})
    service.proxy.list().policies.update(params={"policies_config": [
        {"name": "cors", "version": "builtin", "configuration": {}, "enabled": False},
        {"name": "apicast", "version": "builtin", "configuration": {}, "enabled": True}]})

    first = admin_http.get(f"{base}/configs/sandbox/latest.json").json()["proxy_config"]
    assert admin_http.post(f"{base}/deploy.json").status_code == 201
    assert threescale.services.read(sid).proxy.list().deploy()
    listed = admin_http.get(f"{base}/configs/sandbox.json").json()["proxy_configs"]
    assert [c["proxy_config"]["version"] for c in listed] == [first["version"]]
    assert set(first) == {"id", "version", "environment", "content"}

    content = first["content"]
    assert (content["id"], content["system_name"], content["backend_version"]) == (sid, service["system_name"], "1")
    # porta apicast_v2_deployment_service.rb: the service JSON with its proxy, no backend_api_configs, and
    # api_backend nil because a backend is at a sub-path; routing_policy.rb then carries the URLs (paths in
    # descending order, config_path.rb regexes, replace_path removing the prefix), inserted before apicast.
    assert "backend_api_configs" not in content
    proxy = content["proxy"]
    assert proxy["api_backend"] is None
    assert proxy["hosts"] == [urlsplit(proxy["endpoint"]).hostname]
    assert [p["name"] for p in proxy["policy_chain"]] == ["routing", "apicast"]
    assert proxy["policy_chain"][0]["version"] == "builtin" and "enabled" not in proxy["policy_chain"][0]
    routing = proxy["policy_chain"][0]["configuration"]["rules"]
    assert routing == [
        {"url": "http://127.0.0.1:7", "owner_id": bid, "owner_type": "BackendApi",
         "condition": {"operations": [{"match": "path", "op": "matches", "value": "^(/v1/.*|/v1/?)"}]},
         "replace_path": "{{uri | remove_first: '/v1'}}"},
        {"url": "http://127.0.0.1:8", "owner_id": other["id"], "owner_type": "BackendApi",
         "condition": {"operations": [{"match": "path", "op": "matches", "value": "^(/.*)"}]}},
    ]
    rules = proxy["proxy_rules"]
    assert [(r["http_method"], r["pattern"], r["metric_system_name"], r["owner_type"]) for r in rules] == [
        ("GET", "/", "hits", "Proxy"),
        ("POST", "/v1/chat/{kind}?stream={s}", f"total_tokens.{bid}", "BackendApi"),
    ]
    assert (rules[1]["parameters"], rules[1]["querystring_parameters"], rules[1]["last"], rules[1]["delta"]) == (
        ["kind"], {"stream": "{s}"}, True, 3)

    # a change in a backend rule reaches the product only on the next deploy
    backend.mapping_rules.create(params={"http_method": "GET", "pattern": "/models", "delta": 1,
                                         "metric_id": tokens["id"]})
    assert admin_http.get(f"{base}/configs/sandbox/latest.json").json()["proxy_config"]["version"] == first["version"]
    admin_http.post(f"{base}/deploy.json")
    latest = admin_http.get(f"{base}/configs/sandbox/latest.json").json()["proxy_config"]
    assert latest["version"] == first["version"] + 1
    assert "/v1/models" in [r["pattern"] for r in latest["content"]["proxy"]["proxy_rules"]]


def test_configs_promote_and_environments(threescale: Any, admin_http: Any) -> None:
    service, _backend = _product_with_backend(threescale)
    sid = service["id"]
    base = f"/admin/api/services/{sid}/proxy"
    proxy = service.proxy.list()
    proxy.deploy()
    version = proxy.configs.latest("staging")["version"]
    assert admin_http.get(f"{base}/configs/production/latest.json").status_code == 404

    promoted = proxy.promote(version=version, from_env="sandbox", to_env="production")
    assert (promoted["environment"], promoted["version"]) == ("production", version)
    by_version = admin_http.get(f"{base}/configs/production/{version}.json").json()["proxy_config"]
    staged = admin_http.get(f"{base}/configs/sandbox/{version}.json").json()["proxy_config"]
    assert by_version["content"] == staged["content"]
    assert by_version["id"] != staged["id"]

    again = admin_http.post(f"{base}/configs/sandbox/{version}/promote.json", json={"to": "production"})
    assert (again.status_code, again.json()) == (422, {"errors": {"version": ["has already been taken"]}})
    no_to = admin_http.post(f"{base}/configs/sandbox/{version}/promote.json")
    assert (no_to.status_code, no_to.text) == (400, "Required parameter missing: to")
    # proxy_config.rb EnvironmentClone + `validates :environment, inclusion:`: an unknown `to` (and the reading
    # alias `staging`) is a 422 on `environment`
    for unknown in ("qa", "staging"):
        bad_to = admin_http.post(f"{base}/configs/sandbox/{version}/promote.json", json={"to": unknown})
        assert (bad_to.status_code, bad_to.json()) == (
            422, {"errors": {"environment": ["is not included in the list"]}})
    missing = admin_http.post(f"{base}/configs/sandbox/999/promote.json", data={"to": "production"})
    assert (missing.status_code, missing.json()) == (404, NOT_FOUND)
    bad_env = admin_http.get(f"{base}/configs/preprod.json")
    assert bad_env.status_code == 400
    assert admin_http.get(f"{base}/configs/staging.json").json() == admin_http.get(
        f"{base}/configs/sandbox.json").json()

    everything = admin_http.get("/admin/api/account/proxy_configs/production.json").json()["proxy_configs"]
    assert sid in [c["proxy_config"]["content"]["id"] for c in everything]
    host = by_version["content"]["proxy"]["hosts"][0]
    latest_only = admin_http.get("/admin/api/account/proxy_configs/production.json",
                                 params={"host": host, "version": "latest"}).json()["proxy_configs"]
    services = [c["proxy_config"]["content"]["id"] for c in latest_only]
    assert len(services) == len(set(services)) and sid in services
    nowhere = admin_http.get("/admin/api/account/proxy_configs/production.json", params={"host": "nowhere.example"})
    assert nowhere.json() == {"proxy_configs": []}


def test_state_survives_a_restart(start_sandbox: Any, tmp_path: Path) -> None:
    info = start_sandbox()
    port = urlsplit(info.admin_url).port
    http = AdminHTTP(info)
    api = "/admin/api"
    service = http.post(f"{api}/services.json", data={"name": "Persisted"}).json()["service"]
    backend = http.post(f"{api}/backend_apis.json", data={"name": "pbe", "private_endpoint": "http://h"}).json()
    http.post(f"{api}/services/{service['id']}/backend_usages.json",
              data={"backend_api_id": backend["backend_api"]["id"], "path": "/v1"})
    hits = http.get(f"{api}/services/{service['id']}/metrics.json").json()["metrics"][0]["metric"]["id"]
    http.post(f"{api}/services/{service['id']}/proxy/mapping_rules.json",
              data={"http_method": "POST", "pattern": "/v1/x", "delta": 2, "metric_id": hits})
    http.post(f"{api}/services/{service['id']}/proxy/deploy.json")
    http.post(f"{api}/services/{service['id']}/proxy/configs/sandbox/1/promote.json", data={"to": "production"})
    endpoint = http.get(f"{api}/services/{service['id']}/proxy.json").json()["proxy"]["endpoint"]

    assert control.down(info.state_dir)
    info = start_sandbox(info.state_dir, port)
    http = AdminHTTP(info)
    assert http.get(f"{api}/services/{service['id']}.json").json()["service"]["name"] == "Persisted"
    rules = http.get(f"{api}/services/{service['id']}/proxy/mapping_rules.json").json()["mapping_rules"]
    assert [r["mapping_rule"]["pattern"] for r in rules] == ["/", "/v1/x"]
    usages = http.get(f"{api}/services/{service['id']}/backend_usages.json").json()
    assert [u["backend_usage"]["path"] for u in usages] == ["/v1"]
    production = http.get(f"{api}/services/{service['id']}/proxy/configs/production/latest.json").json()
    assert production["proxy_config"]["version"] == 1
    assert http.get(f"{api}/services/{service['id']}/proxy.json").json()["proxy"]["endpoint"] == endpoint
    # gateway slots are never reused: a new product gets a fresh pair of ports
    newer = http.post(f"{api}/services.json", data={"name": "After restart"}).json()["service"]
    newer_endpoint = http.get(f"{api}/services/{newer['id']}/proxy.json").json()["proxy"]["endpoint"]
    assert urlsplit(newer_endpoint).port > urlsplit(endpoint).port
