"""How products-half objects look on the wire (field sets of porta's representers, plus `links`).

No `router` here: this module only shapes responses for products.py, backends.py, proxy.py and policies.py.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from maas_sandbox.admin import domain_services as ds
from maas_sandbox.admin.conventions import link, page_of, public
from maas_sandbox.context import Sandbox

Obj = dict[str, Any]
_INTERNAL = ("owner_type", "owner_id")


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def service(request: Request, obj: Obj) -> Obj:
    base = f"{base_url(request)}/admin/api/services/{obj['id']}"
    return {**public(obj), "links": [
        link("metrics", f"{base}/metrics"), link("self", base), link("service_plans", f"{base}/service_plans"),
        link("application_plans", f"{base}/application_plans"), link("features", f"{base}/features"),
    ]}


def backend_api(request: Request, obj: Obj) -> Obj:
    base = f"{base_url(request)}/admin/api/backend_apis/{obj['id']}"
    return {**public(obj), "links": [link("metrics", f"{base}/metrics"), link("mapping_rules", f"{base}/mapping_rules"),
                                     link("self", base)]}


def _owner_base(request: Request, obj: Obj) -> str:
    kind = "services" if obj["owner_type"] == "service" else "backend_apis"
    return f"{base_url(request)}/admin/api/{kind}/{obj['owner_id']}"


def metric(request: Request, obj: Obj) -> Obj:
    """Backend metrics carry no `name`; only methods carry `parent_id`."""
    body = {k: v for k, v in public(obj).items() if k not in _INTERNAL}
    if obj["owner_type"] == "backend_api":
        body.pop("name", None)
    if obj.get("parent_id") is None:
        body.pop("parent_id", None)
    owner = _owner_base(request, obj)
    if obj.get("parent_id") is None:
        links = [link("parent", owner), link("self", f"{owner}/metrics/{obj['id']}")]
    else:
        links = [link("parent", f"{owner}/metrics/{obj['parent_id']}"),
                 link("self", f"{owner}/metrics/{obj['parent_id']}/methods/{obj['id']}")]
    return {**body, "links": links}


def mapping_rule(request: Request, obj: Obj) -> Obj:
    body = {k: v for k, v in public(obj).items() if k not in _INTERNAL}
    owner = _owner_base(request, obj)
    rules = f"{owner}/proxy/mapping_rules" if obj["owner_type"] == "service" else f"{owner}/mapping_rules"
    parent = f"{owner}/proxy" if obj["owner_type"] == "service" else owner
    return {**body, "links": [link("self", f"{rules}/{obj['id']}"), link("parent", parent)]}


def backend_usage(request: Request, obj: Obj) -> Obj:
    base = base_url(request)
    return {**public(obj), "links": [
        link("service", f"{base}/admin/api/services/{obj['service_id']}"),
        link("backend_api", f"{base}/admin/api/backend_apis/{obj['backend_id']}"),
    ]}


def proxy(request: Request, sandbox: Sandbox, obj: Obj) -> Obj:
    """porta's proxy representation has no `id`; `api_backend` is the first backend's endpoint."""
    body = {k: v for k, v in public(obj).items() if k != "id"}
    body["api_backend"] = ds.first_backend_endpoint(sandbox, obj["service_id"])
    base = f"{base_url(request)}/admin/api/services/{obj['service_id']}"
    return {**body, "links": [link("service", base), link("self", f"{base}/proxy"),
                              link("proxy_configs", f"{base}/proxy/configs")]}


def proxy_config(obj: Obj) -> Obj:
    return {k: obj[k] for k in ("id", "version", "environment", "content")}


def registry_policy(obj: Obj) -> Obj:
    return {k: obj.get(k) for k in ("id", "name", "version", "schema", "created_at", "updated_at")}


def page(params: Obj, items: list[Obj]) -> tuple[list[Obj], Obj | None]:
    return page_of(params, items)
