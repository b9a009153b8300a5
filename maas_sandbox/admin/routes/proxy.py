"""Proxy settings, product mapping rules, deploy, proxy configs and promote (reference §7, §8, §10)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

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
from maas_sandbox.admin.routes.backends import rule_of
from maas_sandbox.context import Sandbox

router = admin_router(tags=["proxy"])
Obj = dict[str, Any]
PROXY = "/admin/api/services/{service_id}/proxy"


def _service(sandbox: Sandbox, service_id: str) -> Obj:
    return dc.get_or_404(sandbox, "service", path_id(service_id))


def _configs_body(configs: list[Obj]) -> JSONResponse:
    return JSONResponse({"proxy_configs": [{"proxy_config": render.proxy_config(c)} for c in configs]})


# -- proxy --------------------------------------------------------------------------------------
@router.get(f"{PROXY}.json")
async def read_proxy(request: Request, service_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    service = _service(sandbox, service_id)
    return JSONResponse({"proxy": render.proxy(request, sandbox, ds.proxy_of(sandbox, service["id"]))})


@router.put(f"{PROXY}.json")
@router.patch(f"{PROXY}.json")
async def update_proxy(request: Request, service_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    service = _service(sandbox, service_id)
    proxy = ds.update_proxy(sandbox, service["id"], wrapped(params, "proxy"))
    # porta proxies_controller.rb#update: a successful update deploys to staging (ProxyDeploymentService)
    ds.deploy(sandbox, service["id"])
    proxy = ds.proxy_of(sandbox, service["id"])
    return JSONResponse({"proxy": render.proxy(request, sandbox, proxy)})


@router.post(f"{PROXY}/deploy.json")
async def deploy(request: Request, service_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    service = _service(sandbox, service_id)
    ds.deploy(sandbox, service["id"])
    proxy = ds.proxy_of(sandbox, service["id"])
    return JSONResponse({"proxy": render.proxy(request, sandbox, proxy)}, status_code=201)


# -- product mapping rules ----------------------------------------------------------------------
@router.get(f"{PROXY}/mapping_rules.json")
async def list_rules(request: Request, service_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    rules = dm.owner_rules(sandbox, "service", _service(sandbox, service_id)["id"])
    return JSONResponse({"mapping_rules": [{"mapping_rule": render.mapping_rule(request, r)} for r in rules]})


@router.post(f"{PROXY}/mapping_rules.json")
async def create_rule(request: Request, service_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    owner = _service(sandbox, service_id)["id"]
    rule = dm.create_mapping_rule(sandbox, "service", owner, wrapped(params, "mapping_rule"))
    return JSONResponse({"mapping_rule": render.mapping_rule(request, rule)}, status_code=201)


@router.get(PROXY + "/mapping_rules/{rule_id}.json")
async def read_rule(request: Request, service_id: str, rule_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    rule = rule_of(sandbox, "service", _service(sandbox, service_id)["id"], rule_id)
    return JSONResponse({"mapping_rule": render.mapping_rule(request, rule)})


@router.put(PROXY + "/mapping_rules/{rule_id}.json")
@router.patch(PROXY + "/mapping_rules/{rule_id}.json")
async def update_rule(request: Request, service_id: str, rule_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    rule = rule_of(sandbox, "service", _service(sandbox, service_id)["id"], rule_id)
    rule = dm.update_mapping_rule(sandbox, rule, wrapped(params, "mapping_rule"))
    return JSONResponse({"mapping_rule": render.mapping_rule(request, rule)})


@router.delete(PROXY + "/mapping_rules/{rule_id}.json")
async def delete_rule(request: Request, service_id: str, rule_id: str) -> Response:
    sandbox = sandbox_of(request)
    dm.delete_mapping_rule(sandbox, rule_of(sandbox, "service", _service(sandbox, service_id)["id"], rule_id))
    return deleted()


# -- proxy configs ------------------------------------------------------------------------------
@router.get(PROXY + "/configs/{env}.json")
async def list_configs(request: Request, service_id: str, env: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    service = _service(sandbox, service_id)
    return _configs_body(ds.configs_of(sandbox, service["id"], ds.environment(env)))


@router.get(PROXY + "/configs/{env}/latest.json")
async def latest_config(request: Request, service_id: str, env: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    service = _service(sandbox, service_id)
    config = ds.latest_config(sandbox, service["id"], env)
    if config is None:
        raise NotFound()
    return JSONResponse({"proxy_config": render.proxy_config(config)})


def _version(sandbox: Sandbox, service_id: int, env: str, version: str) -> Obj:
    number = path_id(version)
    found = next((c for c in ds.configs_of(sandbox, service_id, ds.environment(env)) if c["version"] == number), None)
    if found is None:
        raise NotFound()
    return found


@router.get(PROXY + "/configs/{env}/{version}.json")
async def read_config(request: Request, service_id: str, env: str, version: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    service = _service(sandbox, service_id)
    return JSONResponse({"proxy_config": render.proxy_config(_version(sandbox, service["id"], env, version))})


@router.post(PROXY + "/configs/{env}/{version}/promote.json")
async def promote(request: Request, service_id: str, env: str, version: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    service = _service(sandbox, service_id)
    target = params.get("to")
    if not target:
        raise required_missing("to")
    source = _version(sandbox, service["id"], env, version)
    config = ds.promote(sandbox, service["id"], env, source["version"], str(target))
    return JSONResponse({"proxy_config": render.proxy_config(config)}, status_code=201)


@router.get("/admin/api/account/proxy_configs/{env}.json")
async def account_configs(request: Request, env: str) -> JSONResponse:
    """Every product's configs of one environment; `host` filters by gateway host, `version=latest`."""
    sandbox = sandbox_of(request)
    params = await read_params(request)
    environment = ds.environment(env, status=422)
    configs = sorted(sandbox.store.list("proxy_config", environment=environment),
                     key=lambda c: (c["service_id"], c["version"]))
    host = params.get("host")
    if host:
        configs = [c for c in configs if host in (c["content"].get("proxy") or {}).get("hosts", [])]
    version = params.get("version")
    if version == "latest":
        latest: dict[int, Obj] = {}
        for config in configs:
            latest[config["service_id"]] = config
        configs = list(latest.values())
    elif version not in (None, ""):
        configs = [c for c in configs if str(c["version"]) == str(version)]
    return _configs_body(configs)
