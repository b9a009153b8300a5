"""Backend APIs with their metrics, methods and mapping rules (reference §3)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from maas_sandbox.admin import domain_backends as db
from maas_sandbox.admin import domain_common as dc
from maas_sandbox.admin import domain_metrics as dm
from maas_sandbox.admin.conventions import (
    NotFound,
    admin_router,
    deleted,
    path_id,
    read_params,
    sandbox_of,
    wrapped,
)
from maas_sandbox.admin.routes import p_render as render
from maas_sandbox.admin.routes import products as shared
from maas_sandbox.context import Sandbox

router = admin_router(tags=["backends"])
Obj = dict[str, Any]
BACKENDS = "/admin/api/backend_apis"


def _backend(sandbox: Sandbox, backend_id: str) -> Obj:
    return dc.get_or_404(sandbox, "backend_api", path_id(backend_id))


@router.get(f"{BACKENDS}.json")
async def list_backends(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    rows, _meta = render.page(params, sandbox.store.list("backend_api"))
    return JSONResponse({"backend_apis": [{"backend_api": render.backend_api(request, b)} for b in rows]})


@router.post(f"{BACKENDS}.json")
async def create_backend(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    backend = db.create_backend_api(sandbox, wrapped(params, "backend_api"))
    return JSONResponse({"backend_api": render.backend_api(request, backend)}, status_code=201)


@router.get(BACKENDS + "/{backend_id}.json")
async def read_backend(request: Request, backend_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    return JSONResponse({"backend_api": render.backend_api(request, _backend(sandbox, backend_id))})


@router.put(BACKENDS + "/{backend_id}.json")
async def update_backend(request: Request, backend_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    backend = db.update_backend_api(sandbox, path_id(backend_id), wrapped(params, "backend_api"))
    return JSONResponse({"backend_api": render.backend_api(request, backend)})


@router.delete(BACKENDS + "/{backend_id}.json")
async def delete_backend(request: Request, backend_id: str) -> Response:
    sandbox = sandbox_of(request)
    db.delete_backend_api(sandbox, path_id(backend_id))
    return deleted()


# -- metrics and methods ------------------------------------------------------------------------
@router.get(BACKENDS + "/{backend_id}/metrics.json")
async def list_metrics(request: Request, backend_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    return await shared.metrics_list(request, "backend_api", _backend(sandbox, backend_id)["id"], paginate=True)


@router.post(BACKENDS + "/{backend_id}/metrics.json")
async def create_metric(request: Request, backend_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    return await shared.metric_create(request, "backend_api", _backend(sandbox, backend_id)["id"])


@router.get(BACKENDS + "/{backend_id}/metrics/{metric_id}.json")
async def read_metric(request: Request, backend_id: str, metric_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    metric = shared._metric_of(sandbox, "backend_api", _backend(sandbox, backend_id)["id"], metric_id, method=False)
    return JSONResponse({"metric": render.metric(request, metric)})


@router.put(BACKENDS + "/{backend_id}/metrics/{metric_id}.json")
async def update_metric(request: Request, backend_id: str, metric_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    metric = shared._metric_of(sandbox, "backend_api", _backend(sandbox, backend_id)["id"], metric_id, method=False)
    return await shared.metric_or_method_update(request, metric, "metric")


@router.delete(BACKENDS + "/{backend_id}/metrics/{metric_id}.json")
async def delete_metric(request: Request, backend_id: str, metric_id: str) -> Response:
    sandbox = sandbox_of(request)
    metric = shared._metric_of(sandbox, "backend_api", _backend(sandbox, backend_id)["id"], metric_id, method=False)
    dm.delete_metric(sandbox, metric)
    return deleted()


@router.get(BACKENDS + "/{backend_id}/metrics/{metric_id}/methods.json")
async def list_methods(request: Request, backend_id: str, metric_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    owner = _backend(sandbox, backend_id)["id"]
    return await shared.methods_list(request, "backend_api", owner, metric_id, paginate=True)


@router.post(BACKENDS + "/{backend_id}/metrics/{metric_id}/methods.json")
async def create_method(request: Request, backend_id: str, metric_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    return await shared.method_create(request, "backend_api", _backend(sandbox, backend_id)["id"], metric_id)


@router.get(BACKENDS + "/{backend_id}/metrics/{metric_id}/methods/{method_id}.json")
async def read_method(request: Request, backend_id: str, metric_id: str, method_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    owner = _backend(sandbox, backend_id)["id"]
    method = await shared.one_method(request, "backend_api", owner, metric_id, method_id)
    return JSONResponse({"method": render.metric(request, method)})


@router.put(BACKENDS + "/{backend_id}/metrics/{metric_id}/methods/{method_id}.json")
async def update_method(request: Request, backend_id: str, metric_id: str, method_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    owner = _backend(sandbox, backend_id)["id"]
    method = await shared.one_method(request, "backend_api", owner, metric_id, method_id)
    return await shared.metric_or_method_update(request, method, "method")


@router.delete(BACKENDS + "/{backend_id}/metrics/{metric_id}/methods/{method_id}.json")
async def delete_method(request: Request, backend_id: str, metric_id: str, method_id: str) -> Response:
    sandbox = sandbox_of(request)
    owner = _backend(sandbox, backend_id)["id"]
    dm.delete_metric(sandbox, await shared.one_method(request, "backend_api", owner, metric_id, method_id))
    return deleted()


# -- mapping rules ------------------------------------------------------------------------------
def rule_of(sandbox: Sandbox, owner_type: str, owner_id: int, rule_id: str) -> Obj:
    rule = dc.get_or_404(sandbox, "mapping_rule", path_id(rule_id))
    if rule["owner_type"] != owner_type or rule["owner_id"] != owner_id:
        raise NotFound()
    return rule


@router.get(BACKENDS + "/{backend_id}/mapping_rules.json")
async def list_rules(request: Request, backend_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    rules = dm.owner_rules(sandbox, "backend_api", _backend(sandbox, backend_id)["id"])
    rows, meta = render.page(params, rules)
    body: Obj = {"mapping_rules": [{"mapping_rule": render.mapping_rule(request, r)} for r in rows]}
    if meta:
        body["metadata"] = meta
    return JSONResponse(body)


@router.post(BACKENDS + "/{backend_id}/mapping_rules.json")
async def create_rule(request: Request, backend_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    owner = _backend(sandbox, backend_id)["id"]
    rule = dm.create_mapping_rule(sandbox, "backend_api", owner, wrapped(params, "mapping_rule"))
    return JSONResponse({"mapping_rule": render.mapping_rule(request, rule)}, status_code=201)


@router.get(BACKENDS + "/{backend_id}/mapping_rules/{rule_id}.json")
async def read_rule(request: Request, backend_id: str, rule_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    rule = rule_of(sandbox, "backend_api", _backend(sandbox, backend_id)["id"], rule_id)
    return JSONResponse({"mapping_rule": render.mapping_rule(request, rule)})


@router.put(BACKENDS + "/{backend_id}/mapping_rules/{rule_id}.json")
@router.patch(BACKENDS + "/{backend_id}/mapping_rules/{rule_id}.json")
async def update_rule(request: Request, backend_id: str, rule_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    rule = rule_of(sandbox, "backend_api", _backend(sandbox, backend_id)["id"], rule_id)
    rule = dm.update_mapping_rule(sandbox, rule, wrapped(params, "mapping_rule"))
    return JSONResponse({"mapping_rule": render.mapping_rule(request, rule)})


@router.delete(BACKENDS + "/{backend_id}/mapping_rules/{rule_id}.json")
async def delete_rule(request: Request, backend_id: str, rule_id: str) -> Response:
    sandbox = sandbox_of(request)
    dm.delete_mapping_rule(sandbox, rule_of(sandbox, "backend_api", _backend(sandbox, backend_id)["id"], rule_id))
    return deleted()
