"""Backend APIs (with their `hits.<id>` metric) and backend usages (a backend at a path of a product).
Every write of these goes through here.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from maas_sandbox.admin.conventions import Refused, Unprocessable
from maas_sandbox.admin.domain_common import (
    BLANK,
    TAKEN,
    fail,
    get_or_404,
    new_system_name,
    provider_account_id,
)
from maas_sandbox.admin.domain_metrics import create_hits, delete_owned_metrics
from maas_sandbox.context import Sandbox

Obj = dict[str, Any]
PATH_TAKEN = "This path is already taken. Specify a different path."


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
    system_name = new_system_name(sandbox, "backend_api", attrs, values, errors)
    fail(errors)
    with store.transaction():
        # porta backend_api_representer.rb includes annotations ({} for a new backend)
        backend = store.insert("backend_api", {"description": "", "annotations": {}, **values,
                                               "system_name": system_name, "account_id": provider_account_id(sandbox)})
        create_hits(sandbox, "backend_api", backend["id"])
    return backend


def update_backend_api(sandbox: Sandbox, backend_id: int, attrs: Obj) -> Obj:
    backend = get_or_404(sandbox, "backend_api", backend_id)
    values, errors = _backend_attrs(attrs, creating=False)
    fail(errors)
    return sandbox.store.update("backend_api", backend["id"], values)


def delete_backend_api(sandbox: Sandbox, backend_id: int) -> None:
    store = sandbox.store
    backend = get_or_404(sandbox, "backend_api", backend_id)
    if store.first("backend_usage", backend_id=backend["id"]):
        # backend_api.rb validate_destroyed_by_association_or_not_used_by_services; en.yml's text
        raise Refused({"base": ["cannot be deleted because it is used by at least one Product"]})
    with store.transaction():
        delete_owned_metrics(sandbox, "backend_api", backend["id"])
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


def delete_backend_usage(sandbox: Sandbox, usage: Obj) -> None:
    sandbox.store.delete("backend_usage", usage["id"])
