"""Products: services with 3scale's create side effects, their proxy (settings and policy chain) and the
proxy configs (content, deploy to staging, promote). Every write of these goes through here.
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from maas_sandbox.admin.conventions import BadRequest, ErrorMessage, NotFound, Unprocessable, as_bool
from maas_sandbox.admin.domain_backends import (
    create_backend_api,
    create_backend_usage,
    normalise_endpoint,
    update_backend_api,
)
from maas_sandbox.admin.domain_common import (
    BLANK,
    TAKEN,
    fail,
    get_or_404,
    new_system_name,
    provider_account_id,
)
from maas_sandbox.admin.domain_metrics import (
    create_hits,
    create_mapping_rule,
    delete_owned_metrics,
    owner_rules,
    pattern_parts,
)
from maas_sandbox.admin.domain_policies import APICAST, validate_policy_chain, with_routing
from maas_sandbox.context import Sandbox

Obj = dict[str, Any]
ENVIRONMENTS = {"sandbox": "sandbox", "staging": "sandbox", "production": "production"}
BACKEND_VERSIONS = ("1", "2", "oidc")
DEPLOYMENT_OPTIONS = ("hosted", "self_managed")

SERVICE_DEFAULTS: Obj = {
    "description": "",
    "deployment_option": "hosted",
    "backend_version": "1",
    "state": "incomplete",
    "annotations": {},
    "intentions_required": False,
    "buyers_manage_apps": True,
    "buyers_manage_keys": True,
    "referrer_filters_required": False,
    "custom_keys_enabled": True,
    "buyer_key_regenerate_enabled": True,
    "mandatory_app_key": True,
    "buyer_can_select_plan": False,
    "buyer_plan_change_permission": "request",
}
SERVICE_BOOLS = (
    "intentions_required",
    "buyers_manage_apps",
    "buyers_manage_keys",
    "referrer_filters_required",
    "custom_keys_enabled",
    "buyer_key_regenerate_enabled",
    "mandatory_app_key",
    "buyer_can_select_plan",
)
SERVICE_UPDATABLE = ("name", "description", "deployment_option", "backend_version", "annotations",
                     "buyer_plan_change_permission", *SERVICE_BOOLS)

# What porta stores in a new proxy (reference §8); APIcast's own code defaults differ (401, "Limits exceeded").
_PLAIN = "text/plain; charset=us-ascii"
PROXY_DEFAULTS: Obj = {
    "api_backend": None,
    "credentials_location": "query",
    "auth_app_key": "app_key",
    "auth_app_id": "app_id",
    "auth_user_key": "user_key",
    "error_auth_failed": "Authentication failed",
    "error_status_auth_failed": 403,
    "error_headers_auth_failed": _PLAIN,
    "error_auth_missing": "Authentication parameters missing",
    "error_status_auth_missing": 403,
    "error_headers_auth_missing": _PLAIN,
    "error_no_match": "No Mapping Rule matched",
    "error_status_no_match": 404,
    "error_headers_no_match": _PLAIN,
    "error_limits_exceeded": "Usage limit exceeded",
    "error_status_limits_exceeded": 429,
    "error_headers_limits_exceeded": _PLAIN,
    "hostname_rewrite": None,
    "oauth_login_url": None,
    "api_test_path": "/",
    "oidc_issuer_endpoint": None,
    "oidc_issuer_type": "keycloak",
    "jwt_claim_with_client_id": None,
    "jwt_claim_with_client_id_type": "plain",
}
PROXY_PERMITTED = (
    "endpoint", "sandbox_endpoint", "api_backend", "credentials_location", "auth_app_key", "auth_app_id",
    "auth_user_key", "secret_token", "hostname_rewrite", "api_test_path", "oauth_login_url",
    "oidc_issuer_endpoint", "oidc_issuer_type", "jwt_claim_with_client_id", "jwt_claim_with_client_id_type",
    "error_auth_failed", "error_status_auth_failed", "error_headers_auth_failed",
    "error_auth_missing", "error_status_auth_missing", "error_headers_auth_missing",
    "error_no_match", "error_status_no_match", "error_headers_no_match",
    "error_limits_exceeded", "error_status_limits_exceeded", "error_headers_limits_exceeded",
)
CREDENTIALS_LOCATIONS = ("headers", "query", "authorization")
# porta app/models/proxy.rb (3scale-2.16-stable): the error bodies and their content types must match
# HTTP_HEADER (Ruby `\w`/`\d` are ASCII; `\Z` also accepts one final newline) and be at most 255 characters;
# so no `'`, `!`, `*`, `<`, `>`, `$`, `|`, non-ASCII or inner newline. Statuses: 200 <= status < 600.
ERROR_TEXTS = (
    "error_auth_failed", "error_auth_missing", "error_no_match", "error_limits_exceeded",
    "error_headers_auth_failed", "error_headers_auth_missing", "error_headers_no_match",
    "error_headers_limits_exceeded",
)
HTTP_HEADER = re.compile(r'[{}\[\]\d,.;@#~%&()?\w_"= /\\:+-]+\n?', re.ASCII)
PROXY_TEXT_MAX = 255
_SECRET_TOKEN = re.compile(r"[\w-]+")  # porta APP_OR_USER_KEY = /\A[\w\d_-]+\Z/


# -- services -----------------------------------------------------------------------------------
def _service_attrs(attrs: Obj, *, creating: bool) -> tuple[Obj, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    out: Obj = {}
    for key in SERVICE_UPDATABLE:
        if key not in attrs:
            continue
        value = attrs[key]
        if key in SERVICE_BOOLS:
            value = as_bool(value)
        elif key == "annotations":
            value = value if isinstance(value, dict) else {}
        elif value is not None:
            value = str(value)
        out[key] = value
    if (creating or "name" in out) and not (out.get("name") or "").strip():
        errors["name"] = [BLANK]
    if out.get("backend_version") is not None and out["backend_version"] not in BACKEND_VERSIONS:
        errors["backend_version"] = ["is not included in the list"]
    if out.get("deployment_option") is not None and out["deployment_option"] not in DEPLOYMENT_OPTIONS:
        errors["deployment_option"] = ["is not included in the list"]
    return out, errors


def create_service(sandbox: Sandbox, attrs: Obj) -> Obj:
    """A product with 3scale's create side effects: `hits`, service plan `Default`, proxy, rule `GET /`."""
    store = sandbox.store
    values, errors = _service_attrs(attrs, creating=True)
    system_name = new_system_name(sandbox, "service", attrs, values, errors)
    fail(errors)
    with store.transaction():
        slot = store.next_counter("gateway_slot")
        service = store.insert(
            "service",
            {**SERVICE_DEFAULTS, **values, "system_name": system_name, "account_id": provider_account_id(sandbox),
             "_gateway_slot": slot},
        )
        hits = create_hits(sandbox, "service", service["id"])
        store.insert("plan", {
            "type": "service_plan", "issuer_id": service["id"], "name": "Default", "system_name": "default",
            # porta service.rb create_default_service_plan: named Default but not the default plan
            "state": "published", "default": False, "description": None, "approval_required": False,
            "trial_period_days": 0, "cost_per_month": 0.0, "setup_fee": 0.0, "cancellation_period": 0,
            "custom": False,
        })
        staging, production = sandbox.gateway_urls(slot)
        store.insert("proxy", {
            "service_id": service["id"], **PROXY_DEFAULTS, "endpoint": production, "sandbox_endpoint": staging,
            "secret_token": f"Shared_secret_sent_from_proxy_to_API_backend_{secrets.token_hex(8)}",
            "policies_config": [dict(APICAST)], "lock_version": 0,
        })
        create_mapping_rule(sandbox, "service", service["id"],
                            {"http_method": "GET", "pattern": "/", "delta": 1, "metric_id": hits["id"]})
    return service


def update_service(sandbox: Sandbox, service_id: int, attrs: Obj) -> Obj:
    service = get_or_404(sandbox, "service", service_id)
    values, errors = _service_attrs(attrs, creating=False)
    fail(errors)
    return sandbox.store.update("service", service["id"], values)


def delete_service(sandbox: Sandbox, service_id: int) -> None:
    """Deletes the product and everything it owns; the last remaining product cannot be deleted (422)."""
    store = sandbox.store
    service = get_or_404(sandbox, "service", service_id)
    if len(store.list("service")) <= 1:
        raise Unprocessable({"base": ["This service cannot be deleted: it is the last one of the account"]})
    sid = service["id"]
    with store.transaction():
        delete_owned_metrics(sandbox, "service", sid)
        store.delete_where("mapping_rule", owner_type="service", owner_id=sid)
        store.delete_where("backend_usage", service_id=sid)
        store.delete_where("proxy", service_id=sid)
        store.delete_where("proxy_config", service_id=sid)
        for plan in store.list("plan", issuer_id=sid):
            if plan.get("type") == "account_plan":
                continue
            store.delete_where("limit", plan_id=plan["id"])
            store.delete_where("pricing_rule", plan_id=plan["id"])
            store.delete("plan", plan["id"])
        store.delete_where("application", service_id=sid)
        store.delete_where("service_subscription", service_id=sid)
        store.delete("service", sid)


# -- proxy --------------------------------------------------------------------------------------
def proxy_of(sandbox: Sandbox, service_id: int) -> Obj:
    proxy = sandbox.store.first("proxy", service_id=service_id)
    if proxy is None:
        raise NotFound()
    return proxy


def first_backend_endpoint(sandbox: Sandbox, service_id: int) -> str | None:
    usages = sorted(sandbox.store.list("backend_usage", service_id=service_id), key=lambda u: u["id"])
    for usage in usages:
        backend = sandbox.store.get("backend_api", usage["backend_id"])
        if backend:
            return backend["private_endpoint"]
    return None


def _error_text_problems(value: str | None) -> list[str]:
    """porta's validations of one error body or content type (format HTTP_HEADER, length <= 255)."""
    text = value or ""
    problems = [] if HTTP_HEADER.fullmatch(text) else ["is invalid"]
    if len(text) > PROXY_TEXT_MAX:
        problems.append(f"is too long (maximum is {PROXY_TEXT_MAX} characters)")
    return problems


def _proxy_changes(attrs: Obj) -> tuple[Obj, dict[str, list[str]]]:
    changes: Obj = {}
    errors: dict[str, list[str]] = {}
    for key in PROXY_PERMITTED:
        if key not in attrs:
            continue
        value = attrs[key]
        if key.startswith("error_status_"):
            try:
                value = int(value)
            except (TypeError, ValueError):  # proxy.rb: presence, then numericality
                errors[key] = (["can't be blank"] if value in (None, "") else []) + ["is not a number"]
                continue
            if not 200 <= value < 600:
                errors[key] = ["must be less than 600" if value >= 600 else "must be greater than or equal to 200"]
                continue
        elif value is not None:
            value = str(value)
        if key in ERROR_TEXTS:
            problems = _error_text_problems(value)
            if problems:
                errors[key] = problems
                continue
        changes[key] = value
    location = changes.get("credentials_location")
    if location is not None and location not in CREDENTIALS_LOCATIONS:
        errors["credentials_location"] = ["is not included in the list"]
    for key in ("endpoint", "sandbox_endpoint", "api_backend"):
        if changes.get(key) and normalise_endpoint(changes[key]) is None:
            errors[key] = ["Invalid URL format"]
    if "secret_token" in changes:  # porta app/models/proxy.rb: APP_OR_USER_KEY format, at most 255, never nil
        token = changes["secret_token"]
        if token is None or not _SECRET_TOKEN.fullmatch(token):
            errors["secret_token"] = ["is invalid"]
        elif len(token) > 255:
            errors["secret_token"] = ["is too long (maximum is 255 characters)"]
    return changes, errors


def update_proxy(sandbox: Sandbox, service_id: int, attrs: Obj) -> Obj:
    """Proxy PUT/PATCH: nothing permitted → 400; `api_backend` (legacy) creates/updates the `/` backend;
    a successful update deploys to staging, as porta does."""
    service = get_or_404(sandbox, "service", service_id)
    proxy = proxy_of(sandbox, service["id"])
    changes, errors = _proxy_changes(attrs)
    if not changes and not errors:
        raise BadRequest("Required parameter missing: proxy")
    fail(errors)
    store = sandbox.store
    with store.transaction():
        api_backend = changes.pop("api_backend", None)
        if api_backend:
            _set_legacy_api_backend(sandbox, service, api_backend)
        proxy = store.update("proxy", proxy["id"], {**changes, "lock_version": int(proxy.get("lock_version", 0)) + 1})
        deploy(sandbox, service["id"])
    return proxy


def _set_legacy_api_backend(sandbox: Sandbox, service: Obj, endpoint: str) -> None:
    root = sandbox.store.first("backend_usage", service_id=service["id"], path="/")
    if root is not None:
        update_backend_api(sandbox, root["backend_id"], {"private_endpoint": endpoint})
        return
    name = f"{service['name']} Backend"
    backend = create_backend_api(sandbox, {"name": name, "private_endpoint": endpoint,
                                           "system_name": f"{service['system_name']}_backend_{service['id']}"})
    create_backend_usage(sandbox, service["id"], backend["id"], "/")


def set_policy_chain(sandbox: Sandbox, service_id: int, raw: Any) -> list[Obj]:
    service = get_or_404(sandbox, "service", service_id)
    proxy = proxy_of(sandbox, service["id"])
    chain = validate_policy_chain(sandbox, raw)
    with sandbox.store.transaction():
        sandbox.store.update("proxy", proxy["id"], {"policies_config": chain,
                                                    "lock_version": int(proxy.get("lock_version", 0)) + 1})
        deploy(sandbox, service["id"])
    return chain


def _content_rule(sandbox: Sandbox, rule: Obj, *, prefix: str, owner_type: str, owner_id: int) -> Obj:
    metric = sandbox.store.get("metric", rule["metric_id"])
    pattern = rule["pattern"] if prefix == "/" else prefix + rule["pattern"]
    variables, query = pattern_parts(pattern)
    return {
        "id": rule["id"], "http_method": rule["http_method"], "pattern": pattern, "metric_id": rule["metric_id"],
        "metric_system_name": metric["system_name"] if metric else None, "delta": rule["delta"],
        "position": rule["position"], "last": bool(rule.get("last")), "parameters": variables,
        "querystring_parameters": query, "owner_id": owner_id, "owner_type": owner_type,
    }


def build_content(sandbox: Sandbox, service_id: int) -> Obj:
    """The proxy config `content`: the service's JSON with its `proxy` (porta apicast_v2_deployment_service.rb
    `json_source`, provider_source.rb SERVICE_SERIALIZE_OPTIONS) and no `backend_api_configs`; the gateway
    compiles it. No timestamps, so equal state = equal content."""
    store = sandbox.store
    service = get_or_404(sandbox, "service", service_id)
    proxy = proxy_of(sandbox, service_id)
    usages: list[tuple[Obj, Obj]] = []
    for usage in sorted(store.list("backend_usage", service_id=service_id), key=lambda u: u["id"]):
        backend = store.get("backend_api", usage["backend_id"])
        if backend:
            usages.append((usage, backend))
    rules = [_content_rule(sandbox, r, prefix="/", owner_type="Proxy", owner_id=proxy["id"])
             for r in owner_rules(sandbox, "service", service_id)]
    for usage, backend in usages:
        rules += [_content_rule(sandbox, r, prefix=usage["path"], owner_type="BackendApi", owner_id=backend["id"])
                  for r in owner_rules(sandbox, "backend_api", backend["id"])]
    chain = [{"name": p.get("name"), "version": p.get("version"), "configuration": p.get("configuration")}
             for p in proxy.get("policies_config") or [APICAST] if p.get("enabled")]  # PoliciesConfig#chain
    chain = with_routing(chain, usages)
    hosts: list[str] = []
    for url in (proxy.get("endpoint"), proxy.get("sandbox_endpoint")):
        host = urlsplit(url).hostname if url else None
        if host and host not in hosts:
            hosts.append(host)
    proxy_doc = {k: v for k, v in proxy.items()
                 if not k.startswith("_") and k not in ("created_at", "updated_at", "policies_config")}
    subpaths = any(u["path"].strip("/") for u, _ in usages)
    proxy_doc.update({
        # apicast_v2_deployment_service.rb: nil when a backend sits at a sub-path (the routing policy routes)
        "api_backend": usages[0][1]["private_endpoint"] if usages and not subpaths else None,
        "hosts": hosts,
        "backend": {"endpoint": sandbox.admin_url, "host": urlsplit(sandbox.admin_url).hostname},
        "policy_chain": chain,
        "proxy_rules": rules,
    })
    service_doc = {k: v for k, v in service.items()
                   if not k.startswith("_") and k not in ("created_at", "updated_at")}
    return {**service_doc, "account_id": provider_account_id(sandbox), "proxy": proxy_doc}


def environment(value: str, status: int = 400) -> str:
    """`sandbox` (alias `staging`) or `production`; anything else is porta's `InvalidEnvironmentError`, which
    the configs controllers render as `{"error": "invalid environment"}` — 400 under a service
    (`admin/api/services/proxy/configs_controller.rb`), 422 for the account list
    (`admin/api/account/proxy_configs_controller.rb`, its integration test)."""
    env = ENVIRONMENTS.get(str(value))
    if env is None:
        raise ErrorMessage("invalid environment", status)
    return env


def configs_of(sandbox: Sandbox, service_id: int, env: str) -> list[Obj]:
    found = sandbox.store.list("proxy_config", service_id=service_id, environment=env)
    return sorted(found, key=lambda c: c["version"])


def latest_config(sandbox: Sandbox, service_id: int, env: str) -> Obj | None:
    found = configs_of(sandbox, service_id, environment(env))
    return found[-1] if found else None


def deploy(sandbox: Sandbox, service_id: int) -> Obj | None:
    """Deploy to staging: a new `sandbox` version only if the content changed; none for a product without backend."""
    store = sandbox.store
    if not store.first("backend_usage", service_id=service_id):
        return None
    with store.transaction():
        content = build_content(sandbox, service_id)
        latest = latest_config(sandbox, service_id, "sandbox")
        if latest is not None and latest["content"] == content:
            return latest
        version = latest["version"] + 1 if latest else 1
        return store.insert("proxy_config", {"service_id": service_id, "environment": "sandbox",
                                             "version": version, "content": content})


def promote(sandbox: Sandbox, service_id: int, env: str, version: int, to: str) -> Obj:
    """Copy `env` version into `to`, keeping the version number; 422 when `to` already has it.

    porta proxy_config.rb EnvironmentClone sets `to` as given (the `staging` alias is only for reading), so a
    `to` other than `sandbox`/`production` fails `validates :environment, inclusion:` — a 422, not a 400."""
    source_env = environment(env)
    if to not in ("sandbox", "production"):
        raise Unprocessable({"environment": ["is not included in the list"]})
    target_env = to
    source = next((c for c in configs_of(sandbox, service_id, source_env) if c["version"] == int(version)), None)
    if source is None:
        raise NotFound()
    if any(c["version"] == source["version"] for c in configs_of(sandbox, service_id, target_env)):
        raise Unprocessable({"version": [TAKEN]})
    return sandbox.store.insert("proxy_config", {"service_id": service_id, "environment": target_env,
                                                 "version": source["version"], "content": source["content"]})
