"""Services (products), their metrics and methods, and backend usages (reference §4–§6)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from maas_sandbox.admin import domain_backends as db
from maas_sandbox.admin import domain_common as dc
from maas_sandbox.admin import domain_metrics as dm
from maas_sandbox.admin import domain_services as ds
from maas_sandbox.admin.conventions import (
    NotFound,
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

router = admin_router(tags=["products"])
Obj = dict[str, Any]
SERVICES = "/admin/api/services"


def _service(sandbox: Sandbox, service_id: str) -> Obj:
    return dc.get_or_404(sandbox, "service", path_id(service_id))


# -- services -----------------------------------------------------------------------------------
@router.get(f"{SERVICES}.json")
async def list_services(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    rows, _meta = render.page(params, sandbox.store.list("service"))
    return JSONResponse({"services": [{"service": render.service(request, s)} for s in rows]})


@router.post(f"{SERVICES}.json")
async def create_service(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    service = ds.create_service(sandbox, wrapped(params, "service"))
    return JSONResponse({"service": render.service(request, service)}, status_code=201)


@router.get(SERVICES + "/{service_id}.json")
async def read_service(request: Request, service_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    return JSONResponse({"service": render.service(request, _service(sandbox, service_id))})


@router.put(SERVICES + "/{service_id}.json")
async def update_service(request: Request, service_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    service = ds.update_service(sandbox, path_id(service_id), wrapped(params, "service"))
    return JSONResponse({"service": render.service(request, service)})


@router.delete(SERVICES + "/{service_id}.json")
async def delete_service(request: Request, service_id: str) -> Response:
    sandbox = sandbox_of(request)
    ds.delete_service(sandbox, path_id(service_id))
    return deleted()


# -- product metrics and methods ----------------------------------------------------------------
def _metric_of(sandbox: Sandbox, owner_type: str, owner_id: int, metric_id: str, *, method: bool) -> Obj:
    metric = dc.get_or_404(sandbox, "metric", path_id(metric_id))
    if metric["owner_type"] != owner_type or metric["owner_id"] != owner_id:
        raise NotFound()
    if method and metric.get("parent_id") is None:
        raise NotFound()
    return metric


async def metrics_list(request: Request, owner_type: str, owner_id: int, *, paginate: bool) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    rows = sandbox.store.list("metric", owner_type=owner_type, owner_id=owner_id)
    meta = None
    if paginate:
        rows, meta = render.page(params, rows)
    body: Obj = {"metrics": [{"metric": render.metric(request, m)} for m in rows]}
    if meta:
        body["metadata"] = meta
    return JSONResponse(body)


async def metric_create(request: Request, owner_type: str, owner_id: int) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    metric = dm.create_metric(sandbox, owner_type, owner_id, wrapped(params, "metric"))
    return JSONResponse({"metric": render.metric(request, metric)}, status_code=201)


async def methods_list(request: Request, owner_type: str, owner_id: int, metric_id: str,
                       *, paginate: bool) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    parent = _metric_of(sandbox, owner_type, owner_id, metric_id, method=False)
    rows = sandbox.store.list("metric", parent_id=parent["id"])
    meta = None
    if paginate:
        rows, meta = render.page(params, rows)
    body: Obj = {"methods": [{"method": render.metric(request, m)} for m in rows]}
    if meta:
        body["metadata"] = meta
    return JSONResponse(body)


async def method_create(request: Request, owner_type: str, owner_id: int, metric_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    parent = _metric_of(sandbox, owner_type, owner_id, metric_id, method=False)
    attrs = {**wrapped(params, "metric"), **(params.get("method") if isinstance(params.get("method"), dict) else {})}
    method = dm.create_metric(sandbox, owner_type, owner_id, attrs, parent_id=parent["id"])
    return JSONResponse({"method": render.metric(request, method)}, status_code=201)


async def one_method(request: Request, owner_type: str, owner_id: int, metric_id: str, method_id: str) -> Obj:
    sandbox = sandbox_of(request)
    parent = _metric_of(sandbox, owner_type, owner_id, metric_id, method=False)
    method = _metric_of(sandbox, owner_type, owner_id, method_id, method=True)
    if method["parent_id"] != parent["id"]:
        raise NotFound()
    return method


async def metric_or_method_update(request: Request, metric: Obj, entity: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    attrs = {**wrapped(params, "metric"), **(params.get(entity) if isinstance(params.get(entity), dict) else {})}
    updated = dm.update_metric(sandbox, metric, attrs)
    return JSONResponse({entity: render.metric(request, updated)})


@router.get(SERVICES + "/{service_id}/metrics.json")
async def list_metrics(request: Request, service_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    service = _service(sandbox, service_id)
    return await metrics_list(request, "service", service["id"], paginate=False)


@router.post(SERVICES + "/{service_id}/metrics.json")
async def create_metric(request: Request, service_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    service = _service(sandbox, service_id)
    return await metric_create(request, "service", service["id"])


@router.get(SERVICES + "/{service_id}/metrics/{metric_id}.json")
async def read_metric(request: Request, service_id: str, metric_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    service = _service(sandbox, service_id)
    metric = _metric_of(sandbox, "service", service["id"], metric_id, method=False)
    return JSONResponse({"metric": render.metric(request, metric)})


@router.put(SERVICES + "/{service_id}/metrics/{metric_id}.json")
async def update_metric(request: Request, service_id: str, metric_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    service = _service(sandbox, service_id)
    metric = _metric_of(sandbox, "service", service["id"], metric_id, method=False)
    return await metric_or_method_update(request, metric, "metric")


@router.delete(SERVICES + "/{service_id}/metrics/{metric_id}.json")
async def delete_metric(request: Request, service_id: str, metric_id: str) -> Response:
    sandbox = sandbox_of(request)
    service = _service(sandbox, service_id)
    dm.delete_metric(sandbox, _metric_of(sandbox, "service", service["id"], metric_id, method=False))
    return deleted()


@router.get(SERVICES + "/{service_id}/metrics/{metric_id}/methods.json")
async def list_methods(request: Request, service_id: str, metric_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    service = _service(sandbox, service_id)
    return await methods_list(request, "service", service["id"], metric_id, paginate=False)


@router.post(SERVICES + "/{service_id}/metrics/{metric_id}/methods.json")
async def create_method(request: Request, service_id: str, metric_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    service = _service(sandbox, service_id)
    return await method_create(request, "service", service["id"], metric_id)


@router.get(SERVICES + "/{service_id}/metrics/{metric_id}/methods/{method_id}.json")
async def read_method(request: Request, service_id: str, metric_id: str, method_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    service = _service(sandbox, service_id)
    method = await one_method(request, "service", service["id"], metric_id, method_id)
    return JSONResponse({"method": render.metric(request, method)})


@router.put(SERVICES + "/{service_id}/metrics/{metric_id}/methods/{method_id}.json")
async def update_method(request: Request, service_id: str, metric_id: str, method_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    service = _service(sandbox, service_id)
    method = await one_method(request, "service", service["id"], metric_id, method_id)
    return await metric_or_method_update(request, method, "method")


@router.delete(SERVICES + "/{service_id}/metrics/{metric_id}/methods/{method_id}.json")
async def delete_method(request: Request, service_id: str, metric_id: str, method_id: str) -> Response:
    sandbox = sandbox_of(request)
    service = _service(sandbox, service_id)
    dm.delete_metric(sandbox, await one_method(request, "service", service["id"], metric_id, method_id))
    return deleted()


# -- backend usages -----------------------------------------------------------------------------
def _usage(sandbox: Sandbox, service: Obj, usage_id: str) -> Obj:
    usage = dc.get_or_404(sandbox, "backend_usage", path_id(usage_id))
    if usage["service_id"] != service["id"]:
        raise NotFound()
    return usage


@router.get(SERVICES + "/{service_id}/backend_usages.json")
async def list_usages(request: Request, service_id: str) -> JSONResponse:
    """A bare array, as porta answers."""
    sandbox = sandbox_of(request)
    params = await read_params(request)
    service = _service(sandbox, service_id)
    rows, _meta = render.page(params, sandbox.store.list("backend_usage", service_id=service["id"]))
    return JSONResponse([{"backend_usage": render.backend_usage(request, u)} for u in rows])


@router.post(SERVICES + "/{service_id}/backend_usages.json")
async def create_usage(request: Request, service_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    service = _service(sandbox, service_id)
    attrs = wrapped(params, "backend_api_config")
    backend_id = attrs.get("backend_api_id")
    if backend_id in (None, ""):
        raise required_missing("backend_api_id")
    usage = db.create_backend_usage(sandbox, service["id"], path_id(str(backend_id)), attrs.get("path") or "/")
    return JSONResponse({"backend_usage": render.backend_usage(request, usage)}, status_code=201)


@router.get(SERVICES + "/{service_id}/backend_usages/{usage_id}.json")
async def read_usage(request: Request, service_id: str, usage_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    usage = _usage(sandbox, _service(sandbox, service_id), usage_id)
    return JSONResponse({"backend_usage": render.backend_usage(request, usage)})


@router.put(SERVICES + "/{service_id}/backend_usages/{usage_id}.json")
async def update_usage(request: Request, service_id: str, usage_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    usage = _usage(sandbox, _service(sandbox, service_id), usage_id)
    attrs = wrapped(params, "backend_api_config")
    if "path" in attrs:
        usage = db.update_backend_usage(sandbox, usage, attrs["path"])
    return JSONResponse({"backend_usage": render.backend_usage(request, usage)})


@router.delete(SERVICES + "/{service_id}/backend_usages/{usage_id}.json")
async def delete_usage(request: Request, service_id: str, usage_id: str) -> Response:
    sandbox = sandbox_of(request)
    usage = _usage(sandbox, _service(sandbox, service_id), usage_id)
    db.delete_backend_usage(sandbox, usage)
    return deleted()
