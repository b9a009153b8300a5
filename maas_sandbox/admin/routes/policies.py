"""Policy chains of products, the tenant's custom policy registry, and the list of known policies (§9)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from maas_sandbox.admin import domain_common as dc
from maas_sandbox.admin import domain_policies as dpol
from maas_sandbox.admin import domain_services as ds
from maas_sandbox.admin.builtin_policies import builtin_manifests
from maas_sandbox.admin.conventions import (
    NotFound,
    Unprocessable,
    admin_router,
    deleted,
    path_id,
    read_params,
    required_missing,
    sandbox_of,
    wrapped,
)
from maas_sandbox.admin.routes import p_render as render
from maas_sandbox.context import Sandbox

router = admin_router(tags=["policies"])
Obj = dict[str, Any]
REGISTRY = "/admin/api/registry/policies"
MANIFEST_KEYS = ("$schema", "name", "version", "summary", "configuration")


# -- product policy chain -----------------------------------------------------------------------
@router.get("/admin/api/services/{service_id}/proxy/policies.json")
async def read_chain(request: Request, service_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    service = dc.get_or_404(sandbox, "service", path_id(service_id))
    proxy = ds.proxy_of(sandbox, service["id"])
    return JSONResponse({"policies_config": proxy.get("policies_config") or [dict(dpol.APICAST)]})


@router.put("/admin/api/services/{service_id}/proxy/policies.json")
async def update_chain(request: Request, service_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    service = dc.get_or_404(sandbox, "service", path_id(service_id))
    raw = wrapped(params, "proxy").get("policies_config")
    if raw is None or raw == "":
        raise required_missing("policies_config")
    chain = ds.set_policy_chain(sandbox, service["id"], raw)
    return JSONResponse({"policies_config": chain})


# -- registry -----------------------------------------------------------------------------------
def _find(sandbox: Sandbox, ref: str) -> Obj:
    """A registry policy by numeric id or by `name-version` (the name may itself contain dashes)."""
    if ref.isdigit():
        found = sandbox.store.get("registry_policy", int(ref))
    else:
        name, _, version = ref.rpartition("-")
        found = sandbox.store.first("registry_policy", name=name, version=version) if name else None
    if found is None:
        raise NotFound()
    return found


def _policy_values(sandbox: Sandbox, attrs: Obj, current: Obj | None) -> Obj:
    merged = {**(current or {}), **{k: attrs[k] for k in ("name", "version", "schema") if k in attrs}}
    errors: dict[str, list[str]] = {}
    for key in ("name", "version", "schema"):
        if merged.get(key) in (None, "", {}):
            errors[key] = ["can't be blank"]
    schema = merged.get("schema")
    if isinstance(schema, str) and schema:
        try:
            schema = json.loads(schema)
        except ValueError:
            errors["schema"] = ["is not valid JSON"]
    if "schema" not in errors and schema not in (None, "", {}):
        errors.update(_manifest_errors(schema))
    name, version = str(merged.get("name") or ""), str(merged.get("version") or "")
    if version == "builtin":
        errors.setdefault("version", []).append("builtin is reserved for APIcast's own policies")
    clash = sandbox.store.first("registry_policy", name=name, version=version)
    if clash is not None and (current is None or clash["id"] != current["id"]):
        errors.setdefault("version", []).append("has already been taken")
    if errors:
        raise Unprocessable(errors)
    return {"name": name, "version": version, "schema": schema}


def _manifest_errors(schema: Any) -> dict[str, list[str]]:
    """The manifest must be a policy manifest whose `configuration` is a usable JSON schema."""
    if not isinstance(schema, dict):
        return {"schema": ["must be a JSON object"]}
    missing = [key for key in MANIFEST_KEYS if key not in schema]
    if missing:
        return {"schema": [f"{key} is missing" for key in missing]}
    if len(str(schema["summary"])) > 75:
        return {"schema": ["summary is too long (maximum is 75 characters)"]}
    configuration = schema["configuration"]
    if not isinstance(configuration, dict):
        return {"schema": ["configuration must be a JSON schema object"]}
    try:
        jsonschema.validators.validator_for(configuration).check_schema(configuration)
    except jsonschema.SchemaError as exc:
        return {"schema": [f"configuration is not a valid JSON schema: {exc.message}"]}
    return {}


@router.get(f"{REGISTRY}.json")
async def list_registry(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    rows = sandbox.store.list("registry_policy")
    return JSONResponse({"policies": [{"policy": render.registry_policy(p)} for p in rows]})


@router.post(f"{REGISTRY}.json")
async def create_registry_policy(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    values = _policy_values(sandbox, wrapped(params, "policy"), None)
    policy = dpol.create_registry_policy(sandbox, values)
    return JSONResponse({"policy": render.registry_policy(policy)}, status_code=201)


@router.get(REGISTRY + "/{ref}.json")
async def read_registry_policy(request: Request, ref: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    return JSONResponse({"policy": render.registry_policy(_find(sandbox, ref))})


@router.put(REGISTRY + "/{ref}.json")
async def update_registry_policy(request: Request, ref: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    current = _find(sandbox, ref)
    values = _policy_values(sandbox, wrapped(params, "policy"), current)
    policy = dpol.update_registry_policy(sandbox, current, values)
    return JSONResponse({"policy": render.registry_policy(policy)})


@router.delete(REGISTRY + "/{ref}.json")
async def delete_registry_policy(request: Request, ref: str) -> Response:
    sandbox = sandbox_of(request)
    dpol.delete_registry_policy(sandbox, _find(sandbox, ref))
    return deleted()


@router.get("/admin/api/policies.json")
async def list_policies(request: Request) -> JSONResponse:
    """Policies by name, `{<name>: [manifest, ...]}` unwrapped as porta renders Policies::PoliciesListService:
    the builtins (porta asks APIcast's registry) then the tenant's registry policies."""
    sandbox = sandbox_of(request)
    grouped: dict[str, list[Obj]] = {}
    for name, manifest in builtin_manifests().items():
        grouped.setdefault(name, []).append(manifest)
    for policy in sandbox.store.list("registry_policy"):
        grouped.setdefault(policy["name"], []).append(policy["schema"])
    return JSONResponse(grouped)
