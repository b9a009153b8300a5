"""Policy chains as porta validates them (proxy.rb PoliciesConfig / PolicyConfig) and the routing policy porta
generates for backends at sub-paths (backend_api_logic/routing_policy.rb), pure functions (the proxy's write,
`set_policy_chain`, is domain_services'); and the writes of the policy registry.
"""

from __future__ import annotations

import json
from typing import Any

from maas_sandbox.admin.conventions import Unprocessable, as_bool
from maas_sandbox.admin.domain_common import BLANK
from maas_sandbox.context import Sandbox

Obj = dict[str, Any]
APICAST = {"name": "apicast", "version": "builtin", "configuration": {}, "enabled": True}


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


# -- routing policy ------------------------------------------------------------------------------
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


def with_routing(chain: list[Obj], usages: list[tuple[Obj, Obj]]) -> list[Obj]:
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


# -- the policy registry (custom policies' manifests; the route validates them) -------------------------------
def create_registry_policy(sandbox: Sandbox, values: Obj) -> Obj:
    return sandbox.store.insert("registry_policy", values)


def update_registry_policy(sandbox: Sandbox, policy: Obj, values: Obj) -> Obj:
    return sandbox.store.update("registry_policy", policy["id"], values)


def delete_registry_policy(sandbox: Sandbox, policy: Obj) -> None:
    sandbox.store.delete("registry_policy", policy["id"])
