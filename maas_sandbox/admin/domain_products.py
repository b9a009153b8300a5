"""Products-half domain: services, backend APIs, metrics, mapping rules, usages, proxy, policy chains, configs.

Every writer (Admin API routes, the seed, the portal) goes through these functions so 3scale's side effects
happen the same way whoever asks. Validation errors are raised as the Admin API's own errors
(`Unprocessable` → 422 `{"errors": {...}}`, `NotFound` → 404) because their bodies are part of the contract.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from maas_sandbox.admin.conventions import BadRequest, NotFound, Refused, Unprocessable, as_bool
from maas_sandbox.context import Sandbox

Obj = dict[str, Any]

BLANK = "can't be blank"
TAKEN = "has already been taken"
PATH_TAKEN = "This path is already taken. Specify a different path."
ENVIRONMENTS = {"sandbox": "sandbox", "staging": "sandbox", "production": "production"}
HTTP_METHODS = ("GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS")
BACKEND_VERSIONS = ("1", "2", "oidc")
DEPLOYMENT_OPTIONS = ("hosted", "self_managed")
APICAST = {"name": "apicast", "version": "builtin", "configuration": {}, "enabled": True}

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


# -- small helpers ------------------------------------------------------------------------------
def system_name_from(text: str) -> str:
    """Generated system names: lower-case, runs of anything but letters/digits/`-` become `_`."""
    return re.sub(r"[^a-z0-9\-]+", "_", text.strip().lower()).strip("_") or "unnamed"


def _text(attrs: Obj, key: str) -> str | None:
    value = attrs.get(key)
    if value is None:
        return None
    return str(value)


def _check_system_name(errors: dict[str, list[str]], name: str) -> None:
    if not re.fullmatch(r"[\w\-.]+", name):
        errors.setdefault("system_name", []).append("invalid. Only ASCII letters, numbers, dashes and underscores "
                                                    "are allowed.")


def _fail(errors: dict[str, list[str]]) -> None:
    if errors:
        raise Unprocessable(errors)


def get_or_404(sandbox: Sandbox, kind: str, obj_id: int | str | None) -> Obj:
    obj = sandbox.store.get(kind, obj_id)
    if obj is None:
        raise NotFound()
    return obj


def provider_account_id(sandbox: Sandbox) -> int | None:
    provider = sandbox.store.first("provider")
    return provider["id"] if provider else None


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
    system_name = str(attrs.get("system_name") or system_name_from(values.get("name") or ""))
    _check_system_name(errors, system_name)
    if store.first("service", system_name=system_name):
        errors.setdefault("system_name", []).append(TAKEN)
    _fail(errors)
    with store.transaction():
        slot = store.next_counter("gateway_slot")
        service = store.insert(
            "service",
            {**SERVICE_DEFAULTS, **values, "system_name": system_name, "account_id": provider_account_id(sandbox),
             "_gateway_slot": slot},
        )
        hits = store.insert("metric", {
            "owner_type": "service", "owner_id": service["id"], "name": "hits", "system_name": "hits",
            "friendly_name": "Hits", "unit": "hit", "description": "Number of API hits", "parent_id": None,
        })
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
    _fail(errors)
    return sandbox.store.update("service", service["id"], values)


def delete_service(sandbox: Sandbox, service_id: int) -> None:
    """Deletes the product and everything it owns; the last remaining product cannot be deleted (422)."""
    store = sandbox.store
    service = get_or_404(sandbox, "service", service_id)
    if len(store.list("service")) <= 1:
        raise Unprocessable({"base": ["This service cannot be deleted: it is the last one of the account"]})
    sid = service["id"]
    with store.transaction():
        for metric in store.list("metric", owner_type="service", owner_id=sid):
            _delete_metric_dependents(sandbox, metric["id"])
            store.delete("metric", metric["id"])
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


# -- backend APIs -------------------------------------------------------------------------------
def normalise_endpoint(value: str) -> str | None:
    """porta always stores a port: `https://h` → `https://h:443`; None when not an http(s) URL."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    tail = parts.path.rstrip("/") if parts.path not in ("", "/") else ""
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{host}:{port}{tail}{query}"


def _backend_attrs(attrs: Obj, *, creating: bool) -> tuple[Obj, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    out: Obj = {}
    for key in ("name", "description", "private_endpoint"):
        if key in attrs and attrs[key] is not None:
            out[key] = str(attrs[key])
    if (creating or "name" in out) and not (out.get("name") or "").strip():
        errors["name"] = [BLANK]
    if creating or "private_endpoint" in out:
        raw = out.get("private_endpoint") or ""
        if not raw.strip():
            errors["private_endpoint"] = [BLANK]
        else:
            normalised = normalise_endpoint(raw)
            if normalised is None:
                errors["private_endpoint"] = ["Invalid URL format"]
            else:
                out["private_endpoint"] = normalised
    return out, errors


def create_backend_api(sandbox: Sandbox, attrs: Obj) -> Obj:
    """A backend with its `hits.<id>` metric."""
    store = sandbox.store
    values, errors = _backend_attrs(attrs, creating=True)
    system_name = str(attrs.get("system_name") or system_name_from(values.get("name") or ""))
    _check_system_name(errors, system_name)
    if store.first("backend_api", system_name=system_name):
        errors.setdefault("system_name", []).append(TAKEN)
    _fail(errors)
    with store.transaction():
        # porta backend_api_representer.rb includes annotations ({} for a new backend)
        backend = store.insert("backend_api", {"description": "", "annotations": {}, **values,
                                               "system_name": system_name, "account_id": provider_account_id(sandbox)})
        store.insert("metric", {
            "owner_type": "backend_api", "owner_id": backend["id"], "name": "hits",
            "system_name": f"hits.{backend['id']}", "friendly_name": "Hits", "unit": "hit",
            "description": "Number of API hits", "parent_id": None,
        })
    return backend


def update_backend_api(sandbox: Sandbox, backend_id: int, attrs: Obj) -> Obj:
    backend = get_or_404(sandbox, "backend_api", backend_id)
    values, errors = _backend_attrs(attrs, creating=False)
    _fail(errors)
    return sandbox.store.update("backend_api", backend["id"], values)


def delete_backend_api(sandbox: Sandbox, backend_id: int) -> None:
    store = sandbox.store
    backend = get_or_404(sandbox, "backend_api", backend_id)
    if store.first("backend_usage", backend_id=backend["id"]):
        # backend_api.rb validate_destroyed_by_association_or_not_used_by_services; en.yml's text
        raise Refused({"base": ["cannot be deleted because it is used by at least one Product"]})
    with store.transaction():
        for metric in store.list("metric", owner_type="backend_api", owner_id=backend["id"]):
            _delete_metric_dependents(sandbox, metric["id"])
            store.delete("metric", metric["id"])
        store.delete_where("mapping_rule", owner_type="backend_api", owner_id=backend["id"])
        store.delete("backend_api", backend["id"])


# -- backend usages -----------------------------------------------------------------------------
def normalise_usage_path(path: Any) -> str:
    """`v1//x/` → `/v1/x`: one leading slash, no empty segments, no trailing slash (root stays `/`)."""
    segments = [s for s in str(path or "/").split("/") if s]
    return "/" + "/".join(segments)


def _check_usage_path(sandbox: Sandbox, service_id: int, path: str, exclude: int | None) -> None:
    if not re.fullmatch(r"/[\w\-.~%!$&'()*+,;=:@/]*", path):
        raise Unprocessable({"path": ["is invalid"]})
    for usage in sandbox.store.list("backend_usage", service_id=service_id):
        if usage["id"] != exclude and usage["path"] == path:
            raise Unprocessable({"path": [PATH_TAKEN]})


def create_backend_usage(sandbox: Sandbox, service_id: int, backend_id: int, path: str = "/") -> Obj:
    store = sandbox.store
    service = get_or_404(sandbox, "service", service_id)
    backend = get_or_404(sandbox, "backend_api", backend_id)
    normalised = normalise_usage_path(path)
    if store.first("backend_usage", service_id=service["id"], backend_id=backend["id"]):
        raise Unprocessable({"backend_api_id": [TAKEN]})
    _check_usage_path(sandbox, service["id"], normalised, None)
    return store.insert("backend_usage", {"service_id": service["id"], "backend_id": backend["id"],
                                          "path": normalised})


def update_backend_usage(sandbox: Sandbox, usage: Obj, path: Any) -> Obj:
    normalised = normalise_usage_path(path)
    _check_usage_path(sandbox, usage["service_id"], normalised, usage["id"])
    return sandbox.store.update("backend_usage", usage["id"], {"path": normalised})


# -- metrics and methods ------------------------------------------------------------------------
def hits_of(sandbox: Sandbox, owner_type: str, owner_id: int) -> Obj | None:
    for metric in sandbox.store.list("metric", owner_type=owner_type, owner_id=owner_id, parent_id=None):
        if metric["system_name"].split(".")[0] == "hits":
            return metric
    return None


def create_metric(sandbox: Sandbox, owner_type: str, owner_id: int, attrs: Obj, *, parent_id: int | None = None) -> Obj:
    """A metric (parent_id None) or a method (parent_id = the owner's `hits`). Backend names get `.<id>`."""
    store = sandbox.store
    errors: dict[str, list[str]] = {}
    friendly = str(attrs.get("friendly_name") or "").strip()
    if not friendly:
        errors["friendly_name"] = [BLANK]
    unit = str(attrs.get("unit") or "").strip()
    if parent_id is not None:
        parent = store.get("metric", parent_id)
        hits = hits_of(sandbox, owner_type, owner_id)
        if parent is None or hits is None or parent["id"] != hits["id"]:
            raise Unprocessable({"base": ["You can only create methods under 'hits'"]})
        unit = parent.get("unit") or "hit"
    elif not unit:
        errors["unit"] = [BLANK]
    base = str(attrs.get("system_name") or "").strip() or system_name_from(friendly or "")
    _check_system_name(errors, base)
    system_name = f"{base}.{owner_id}" if owner_type == "backend_api" and not base.endswith(f".{owner_id}") else base
    if store.first("metric", owner_type=owner_type, owner_id=owner_id, system_name=system_name):
        errors.setdefault("system_name", []).append(TAKEN)
    _fail(errors)
    return store.insert("metric", {
        "owner_type": owner_type, "owner_id": owner_id, "name": base, "system_name": system_name,
        "friendly_name": friendly, "unit": unit, "description": _text(attrs, "description"), "parent_id": parent_id,
    })


def update_metric(sandbox: Sandbox, metric: Obj, attrs: Obj) -> Obj:
    changes: Obj = {}
    if "friendly_name" in attrs:
        if not str(attrs["friendly_name"] or "").strip():
            raise Unprocessable({"friendly_name": [BLANK]})
        changes["friendly_name"] = str(attrs["friendly_name"]).strip()
    if "unit" in attrs and metric.get("parent_id") is None:
        if not str(attrs["unit"] or "").strip():
            raise Unprocessable({"unit": [BLANK]})
        changes["unit"] = str(attrs["unit"]).strip()
    if "description" in attrs:
        changes["description"] = _text(attrs, "description")
    return sandbox.store.update("metric", metric["id"], changes)


def _delete_metric_dependents(sandbox: Sandbox, metric_id: int) -> None:
    store = sandbox.store
    for child in store.list("metric", parent_id=metric_id):
        _delete_metric_dependents(sandbox, child["id"])
        store.delete("metric", child["id"])
    store.delete_where("limit", metric_id=metric_id)
    store.delete_where("pricing_rule", metric_id=metric_id)
    store.delete_where("mapping_rule", metric_id=metric_id)


def delete_metric(sandbox: Sandbox, metric: Obj) -> None:
    """Deletes a metric with its methods, limits, pricing rules and mapping rules; `hits` stays (403, metric.rb
    `destroyable?`, en.yml `cannot_delete_hits`)."""
    if metric.get("parent_id") is None and metric["system_name"].split(".")[0] == "hits":
        raise Refused({"base": ["The Hits metric cannot be deleted"]})
    with sandbox.store.transaction():
        _delete_metric_dependents(sandbox, metric["id"])
        sandbox.store.delete("metric", metric["id"])


# -- mapping rules ------------------------------------------------------------------------------
# porta's pattern grammar (RFC 2396 character classes): absolute path of segments with `{var}` placeholders,
# optional `$`, optional query whose values may be `{var}`.
_UNRESERVED = r"\-_.!~*'()a-zA-Z\d"
_ESCAPED = r"%[a-fA-F\d]{2}"
_RESERVED = r";/?:@&=+$,\[\]"
_VARIABLE = r"\{[_\w]+\}"
_PARAM = rf"(?:[{_UNRESERVED}:@&=+,]|{_ESCAPED}|{_VARIABLE})*"
_SEGMENT = rf"{_PARAM}(?:;{_PARAM})*"
_QUERY = rf"(?:[{_UNRESERVED}{_RESERVED}]|{_ESCAPED}|[_\w]+={_VARIABLE})*"
PATTERN_RE = re.compile(rf"/{_SEGMENT}(?:/{_SEGMENT})*[$]?(?:\?(?:{_QUERY}))?")


def pattern_parts(pattern: str) -> tuple[list[str], dict[str, str]]:
    """(path variable names, querystring parameters) as porta derives them for the proxy config."""
    path, _, query = pattern.partition("?")
    variables = re.findall(r"\{([_\w]+)\}", path)
    params: dict[str, str] = {}
    if query:
        for pair in query.split("&"):
            key, _, value = pair.partition("=")
            params[key] = value
    return variables, params


def _pattern_errors(pattern: str) -> list[str]:
    """All of porta's pattern validations run, so one pattern can collect several messages."""
    errors: list[str] = []
    if not PATTERN_RE.fullmatch(pattern):
        errors.append("is invalid")
    if len(pattern) > 255:
        errors.append("is too long (maximum is 255 characters)")
    variables, query = pattern_parts(pattern)
    query_text = pattern.partition("?")[2]
    keys = [pair.partition("=")[0] for pair in query_text.split("&") if pair] if query_text else []
    names = variables + keys
    if len(names) != len(set(names)):
        errors.append("Can't have repeated variable names")
    if any(re.search(_VARIABLE, key) for key in query):
        errors.append("Can't use variables as keys in the querystring")
    return errors


def _delta_errors(value: Any) -> list[str]:
    if value is None or value == "":
        return ["is not a number"]
    if isinstance(value, bool):
        return ["is not a number"]
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return ["is not a number"]
    if not re.fullmatch(r"[+-]?\d+", text) and not (isinstance(value, float) and value.is_integer()):
        return ["must be an integer"]
    return [] if number > 0 else ["must be greater than 0"]


def _rule_values(sandbox: Sandbox, owner_type: str, owner_id: int, attrs: Obj, current: Obj | None) -> Obj:
    merged = {**(current or {}), **{k: attrs[k] for k in ("http_method", "pattern", "delta", "metric_id", "last")
                                    if k in attrs}}
    errors: dict[str, list[str]] = {}
    method = str(merged.get("http_method") or "").strip()
    if not method:
        errors["http_method"] = [BLANK, "is not included in the list"]
    elif method not in HTTP_METHODS:
        errors["http_method"] = ["is not included in the list"]
    pattern = str(merged.get("pattern") or "").strip()
    if not pattern:
        errors["pattern"] = [BLANK]
    else:
        found = _pattern_errors(pattern)
        if found:
            errors["pattern"] = found
    delta_errors = _delta_errors(merged.get("delta"))
    if delta_errors:
        errors["delta"] = delta_errors
    metric = sandbox.store.get("metric", merged.get("metric_id"))
    if metric is None or metric["owner_type"] != owner_type or metric["owner_id"] != owner_id:
        errors["metric_id"] = [BLANK]
    _fail(errors)
    return {"http_method": method, "pattern": pattern, "delta": int(float(str(merged["delta"]))),
            "metric_id": metric["id"] if metric else None, "last": as_bool(merged.get("last"))}


def owner_rules(sandbox: Sandbox, owner_type: str, owner_id: int) -> list[Obj]:
    rules = sandbox.store.list("mapping_rule", owner_type=owner_type, owner_id=owner_id)
    return sorted(rules, key=lambda r: (r.get("position") or 0, r["id"]))


def _place(sandbox: Sandbox, owner_type: str, owner_id: int, rule_id: int, position: Any) -> None:
    """acts_as_list: move a rule to `position` (1-based, clamped; None = keep/bottom), renumber the rest."""
    rules = [r for r in owner_rules(sandbox, owner_type, owner_id)]
    moving = next(r for r in rules if r["id"] == rule_id)
    rest = [r for r in rules if r["id"] != rule_id]
    if position in (None, ""):
        index = rules.index(moving)
    else:
        try:
            index = int(position) - 1
        except (TypeError, ValueError) as exc:
            raise Unprocessable({"position": ["is not a number"]}) from exc
    index = min(max(index, 0), len(rest))
    rest.insert(index, moving)
    for number, rule in enumerate(rest, start=1):
        if rule.get("position") != number:
            sandbox.store.update("mapping_rule", rule["id"], {"position": number}, stamp=rule["id"] == rule_id)


def create_mapping_rule(sandbox: Sandbox, owner_type: str, owner_id: int, attrs: Obj) -> Obj:
    """A rule of a product (`service`) or a backend (`backend_api`); new rules go last unless `position`."""
    values = _rule_values(sandbox, owner_type, owner_id, attrs, None)
    with sandbox.store.transaction():
        count = len(sandbox.store.list("mapping_rule", owner_type=owner_type, owner_id=owner_id))
        rule = sandbox.store.insert("mapping_rule", {"owner_type": owner_type, "owner_id": owner_id, **values,
                                                     "position": count + 1})
        if attrs.get("position") not in (None, ""):
            _place(sandbox, owner_type, owner_id, rule["id"], attrs["position"])
            rule = sandbox.store.get("mapping_rule", rule["id"]) or rule
    return rule


def update_mapping_rule(sandbox: Sandbox, rule: Obj, attrs: Obj) -> Obj:
    values = _rule_values(sandbox, rule["owner_type"], rule["owner_id"], attrs, rule)
    with sandbox.store.transaction():
        sandbox.store.update("mapping_rule", rule["id"], values)
        if attrs.get("position") not in (None, ""):
            _place(sandbox, rule["owner_type"], rule["owner_id"], rule["id"], attrs["position"])
    return sandbox.store.get("mapping_rule", rule["id"]) or rule


def delete_mapping_rule(sandbox: Sandbox, rule: Obj) -> None:
    with sandbox.store.transaction():
        sandbox.store.delete("mapping_rule", rule["id"])
        for number, other in enumerate(owner_rules(sandbox, rule["owner_type"], rule["owner_id"]), start=1):
            if other.get("position") != number:
                sandbox.store.update("mapping_rule", other["id"], {"position": number}, stamp=False)


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
            except (TypeError, ValueError):
                errors[key] = ["is not a number"]
                continue
            if not 100 <= value <= 599:
                errors[key] = ["must be less than 600" if value > 599 else "must be greater than or equal to 100"]
                continue
        elif value is not None:
            value = str(value)
        changes[key] = value
    location = changes.get("credentials_location")
    if location is not None and location not in CREDENTIALS_LOCATIONS:
        errors["credentials_location"] = ["is not included in the list"]
    for key in ("endpoint", "sandbox_endpoint", "api_backend"):
        if changes.get(key) and normalise_endpoint(changes[key]) is None:
            errors[key] = ["Invalid URL format"]
    return changes, errors


def update_proxy(sandbox: Sandbox, service_id: int, attrs: Obj) -> Obj:
    """Proxy PUT/PATCH: nothing permitted → 400; `api_backend` (legacy) creates/updates the `/` backend;
    a successful update deploys to staging, as porta does."""
    service = get_or_404(sandbox, "service", service_id)
    proxy = proxy_of(sandbox, service["id"])
    changes, errors = _proxy_changes(attrs)
    if not changes and not errors:
        raise BadRequest("Required parameter missing: proxy")
    _fail(errors)
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


# -- policy chain -------------------------------------------------------------------------------
# proxy.rb PoliciesConfig / PolicyConfig and config/locales/en.yml: the only checks porta makes on a chain
CHAIN_INVALID_FORMAT = 'has invalid format. The Correct format is: [{ "name": "apicast"... }]'
CHAIN_INVALID_POLICY = "contains some invalid policy"
CHAIN_MAX_LENGTH = 2 * 1024 * 1024  # PoliciesConfig::MAX_LENGTH (2.megabytes), the serialised chain


def _chain_entries(raw: Any) -> list[Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise Unprocessable({"policies_config": [CHAIN_INVALID_FORMAT]}) from exc
        if not isinstance(raw, list):
            raise Unprocessable({"policies_config": [CHAIN_INVALID_FORMAT]})
    if isinstance(raw, dict) and raw and all(str(k).isdigit() for k in raw):  # form encoding of an array
        raw = [raw[k] for k in sorted(raw, key=int)]
    if isinstance(raw, dict):  # PoliciesConfigParams: `[params].flatten`, one policy on its own
        raw = [raw]
    if not isinstance(raw, list):
        raise Unprocessable({"policies_config": [CHAIN_INVALID_FORMAT]})
    return raw


def _blank(value: Any) -> bool:
    """Rails' `blank?`: nil, false, empty or whitespace-only strings, empty collections."""
    if value is None or value is False:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | dict) and not value


def _policy_config(entry: Any) -> tuple[Obj, Obj]:
    """One chain entry as porta keeps it (`to_h`: name, version, configuration, enabled; nils dropped) and
    its PolicyConfig validation errors (name and version present, configuration an object or `{}`)."""
    attrs = entry if isinstance(entry, dict) else {}
    enabled = attrs.get("enabled")
    if isinstance(enabled, str):  # form encoding; porta would keep the string (any non-nil string is truthy)
        enabled = as_bool(enabled)
    kept = {"name": attrs.get("name"), "version": attrs.get("version"),
            "configuration": attrs.get("configuration"), "enabled": enabled}
    kept = {k: v for k, v in kept.items() if v is not None}
    errors: Obj = {}
    for key in ("name", "version"):
        if _blank(attrs.get(key)):
            errors[key] = [BLANK]
    configuration = attrs.get("configuration")
    if configuration != {} and _blank(configuration):
        errors["configuration"] = [BLANK]
    return kept, errors


def validate_policy_chain(sandbox: Sandbox, raw: Any) -> list[Obj]:
    """The chain porta stores: any entry with a name, a version and an object configuration, `apicast`
    appended when missing (proxy.rb `policies_normalize`). Which policies exist and whether a configuration
    fits its schema is not checked here (porta does not; the kit checks its catalogue before apply, and the
    gateway skips a policy it cannot load, as APIcast does)."""
    chain: list[Obj] = []
    invalid = False
    views: list[Obj] = []
    for entry in _chain_entries(raw):
        kept, errors = _policy_config(entry)
        chain.append(kept)
        views.append({**kept, "errors": errors} if errors else kept)
        invalid = invalid or bool(errors)
    if not any(p.get("name") == "apicast" for p in chain):
        chain.append(dict(APICAST))
        views.append(dict(APICAST))
    too_long = len(json.dumps(chain)) > CHAIN_MAX_LENGTH
    if invalid and not too_long:  # policy-level errors: the chain itself, each entry with its errors
        raise Unprocessable(body={"policies_config": views})
    if too_long:
        messages = [CHAIN_INVALID_POLICY] if invalid else []
        raise Unprocessable({"policies_config": [*messages,
                                                 f"is too long (maximum is {CHAIN_MAX_LENGTH} characters)"]})
    return chain


def set_policy_chain(sandbox: Sandbox, service_id: int, raw: Any) -> list[Obj]:
    service = get_or_404(sandbox, "service", service_id)
    proxy = proxy_of(sandbox, service["id"])
    chain = validate_policy_chain(sandbox, raw)
    with sandbox.store.transaction():
        sandbox.store.update("proxy", proxy["id"], {"policies_config": chain,
                                                    "lock_version": int(proxy.get("lock_version", 0)) + 1})
        deploy(sandbox, service["id"])
    return chain


# -- proxy configs: content, deploy, promote -------------------------------------------------------
def _routing_policy(usages: list[tuple[Obj, Obj]]) -> Obj:
    """porta's backend_api_logic/routing_policy.rb Builder: one rule per backend usage with a private endpoint,
    paths in descending order (`sorted_for_proxy_config`), the path regex of config_path.rb `to_regex` (not
    escaped) and a `replace_path` dropping the prefix when the usage is not at `/`."""
    rules = []
    for usage, backend in sorted(usages, key=lambda ub: ub[0]["path"], reverse=True):
        if not backend.get("private_endpoint"):
            continue
        path = "/" + usage["path"].strip("/")
        regex = "^(/.*)" if path == "/" else f"^({path}/.*|{path}/?)"
        rule: Obj = {"url": backend["private_endpoint"], "owner_id": backend["id"], "owner_type": "BackendApi",
                     "condition": {"operations": [{"match": "path", "op": "matches", "value": regex}]}}
        if path != "/":
            rule["replace_path"] = "{{uri | remove_first: '" + path + "'}}"
        rules.append(rule)
    return {"name": "routing", "version": "builtin", "configuration": {"rules": rules}}


def routing_rules(policy: Obj) -> list[Obj]:
    """A routing policy's rules, ignoring what is not a list of objects (porta stores any configuration)."""
    configuration = policy.get("configuration")
    rules = configuration.get("rules") if isinstance(configuration, dict) else None
    return [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []


def _with_routing(chain: list[Obj], usages: list[tuple[Obj, Obj]]) -> list[Obj]:
    """routing_policy.rb `policy_chain`: with a backend at a sub-path, the generated routing policy (plus the
    rules of any routing policy already in the chain) goes right before `apicast`."""
    if not any(u["path"].strip("/") for u, _ in usages):
        return chain
    others = [p for p in chain if p["name"] != "routing"]
    routing = _routing_policy(usages)
    for policy in chain:
        if policy["name"] == "routing":
            routing["configuration"]["rules"] += routing_rules(policy)
    if not routing["configuration"]["rules"]:
        return others
    at = next((i for i, p in enumerate(others) if p["name"] == "apicast"), len(others))
    return [*others[:at], routing, *others[at:]]


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
    chain = _with_routing(chain, usages)
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


def environment(value: str) -> str:
    """`sandbox` (alias `staging`) or `production`; anything else is a 400."""
    env = ENVIRONMENTS.get(str(value))
    if env is None:
        raise BadRequest(f"Environment {value} is not supported. Use sandbox or production")
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
    """Copy `env` version into `to`, keeping the version number; 422 when `to` already has it."""
    source_env, target_env = environment(env), environment(to)
    source = next((c for c in configs_of(sandbox, service_id, source_env) if c["version"] == int(version)), None)
    if source is None:
        raise NotFound()
    if any(c["version"] == source["version"] for c in configs_of(sandbox, service_id, target_env)):
        raise Unprocessable({"version": [TAKEN]})
    return sandbox.store.insert("proxy_config", {"service_id": service_id, "environment": target_env,
                                                 "version": source["version"], "content": source["content"]})
