"""Metrics, methods and mapping rules of a product (`service`) or a backend (`backend_api`), with porta's
validations (metric.rb, proxy_rule.rb) and acts_as_list positions. Every write of these goes through here.
"""

from __future__ import annotations

import re
from typing import Any

from maas_sandbox.admin.conventions import NotFound, Refused, Unprocessable, as_bool
from maas_sandbox.admin.domain_common import BLANK, TAKEN, check_system_name, fail, system_name_from, text_of
from maas_sandbox.context import Sandbox

Obj = dict[str, Any]
HTTP_METHODS = ("GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS")


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
    check_system_name(errors, base)
    system_name = f"{base}.{owner_id}" if owner_type == "backend_api" and not base.endswith(f".{owner_id}") else base
    if store.first("metric", owner_type=owner_type, owner_id=owner_id, system_name=system_name):
        errors.setdefault("system_name", []).append(TAKEN)
    fail(errors)
    return store.insert("metric", {
        "owner_type": owner_type, "owner_id": owner_id, "name": base, "system_name": system_name,
        "friendly_name": friendly, "unit": unit, "description": text_of(attrs, "description"), "parent_id": parent_id,
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
        changes["description"] = text_of(attrs, "description")
    return sandbox.store.update("metric", metric["id"], changes)


def create_hits(sandbox: Sandbox, owner_type: str, owner_id: int) -> Obj:
    """The `hits` metric porta creates with every product and backend (metric.rb; a backend's is named
    `hits.<backend id>` in the API, backend_api.rb)."""
    system_name = "hits" if owner_type == "service" else f"hits.{owner_id}"
    return sandbox.store.insert("metric", {
        "owner_type": owner_type, "owner_id": owner_id, "name": "hits", "system_name": system_name,
        "friendly_name": "Hits", "unit": "hit", "description": "Number of API hits", "parent_id": None,
    })


def delete_owned_metrics(sandbox: Sandbox, owner_type: str, owner_id: int) -> None:
    """Every metric of a product or backend, with what hangs on them (inside the caller's transaction)."""
    for metric in sandbox.store.list("metric", owner_type=owner_type, owner_id=owner_id):
        delete_metric_dependents(sandbox, metric["id"])
        sandbox.store.delete("metric", metric["id"])


def delete_metric_dependents(sandbox: Sandbox, metric_id: int) -> None:
    store = sandbox.store
    for child in store.list("metric", parent_id=metric_id):
        delete_metric_dependents(sandbox, child["id"])
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
        delete_metric_dependents(sandbox, metric["id"])
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
        errors.append("invalid")  # porta en.yml `activerecord.errors.messages.invalid`
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
        # porta mapping_rules_controller.rb `metric_params`: a given metric_id is `service.metrics.find` (404);
        # none given leaves the presence validation to say it
        if attrs.get("metric_id") not in (None, ""):
            raise NotFound()
        errors["metric_id"] = [BLANK]
    fail(errors)
    return {"http_method": method, "pattern": pattern, "delta": int(float(str(merged["delta"]))),
            "metric_id": metric["id"] if metric else None, "last": as_bool(merged.get("last"))}


def owner_rules(sandbox: Sandbox, owner_type: str, owner_id: int) -> list[Obj]:
    rules = sandbox.store.list("mapping_rule", owner_type=owner_type, owner_id=owner_id)
    return sorted(rules, key=lambda r: (r.get("position") or 0, r["id"]))


def _position(value: Any) -> int:
    """porta stores `position` in an integer column (Rails casts with `to_i`: "3x" → 3, "x" → 0) and
    acts_as_list's `check_top_position` lifts anything under the top (1) to 1; there is no clamp at the bottom."""
    if isinstance(value, bool):
        return 1
    found = re.match(r"\s*[+-]?\d+", str(value))
    return max(int(found.group()) if found else 0, 1)


def _shift(sandbox: Sandbox, rules: list[Obj], low: int, high: int | None, by: int) -> None:
    """acts_as_list moves the other rules between two positions by one, leaving gaps as they are."""
    for rule in rules:
        pos = rule.get("position") or 0
        if pos >= low and (high is None or pos <= high):
            sandbox.store.update("mapping_rule", rule["id"], {"position": pos + by}, stamp=False)


def create_mapping_rule(sandbox: Sandbox, owner_type: str, owner_id: int, attrs: Obj) -> Obj:
    """A rule of a product (`service`) or a backend (`backend_api`). porta proxy_rule.rb `acts_as_list
    add_new_at: :bottom`: without `position` after the last one; with one, there (the rules at or below it move
    down one), kept even past the end (porta test/integration/user-management-api/services/mapping_rules_test.rb
    `test__with_position_and_last`)."""
    values = _rule_values(sandbox, owner_type, owner_id, attrs, None)
    with sandbox.store.transaction():
        rules = owner_rules(sandbox, owner_type, owner_id)
        if attrs.get("position") in (None, ""):
            position = max((r.get("position") or 0 for r in rules), default=0) + 1
        else:
            position = _position(attrs["position"])
            _shift(sandbox, rules, position, None, 1)
        return sandbox.store.insert("mapping_rule", {"owner_type": owner_type, "owner_id": owner_id, **values,
                                                     "position": position})


def update_mapping_rule(sandbox: Sandbox, rule: Obj, attrs: Obj) -> Obj:
    """acts_as_list `update_positions`: moving up shifts the rules in between down, moving down shifts them up."""
    values = _rule_values(sandbox, rule["owner_type"], rule["owner_id"], attrs, rule)
    with sandbox.store.transaction():
        if attrs.get("position") not in (None, ""):
            new, old = _position(attrs["position"]), rule.get("position") or 0
            others = [r for r in owner_rules(sandbox, rule["owner_type"], rule["owner_id"]) if r["id"] != rule["id"]]
            if new < old:
                _shift(sandbox, others, new, old - 1, 1)
            elif new > old:
                _shift(sandbox, others, old + 1, new, -1)
            values["position"] = new
        sandbox.store.update("mapping_rule", rule["id"], values)
    return sandbox.store.get("mapping_rule", rule["id"]) or rule


def delete_mapping_rule(sandbox: Sandbox, rule: Obj) -> None:
    with sandbox.store.transaction():
        sandbox.store.delete("mapping_rule", rule["id"])  # acts_as_list: the rules below move up one
        _shift(sandbox, owner_rules(sandbox, rule["owner_type"], rule["owner_id"]), (rule.get("position") or 0) + 1,
               None, -1)
