"""Master API tenant lifecycle: create (with its own admin access token) and schedule for deletion.

porta 3scale-2.16-stable: app/controllers/master/api/providers_controller.rb (create answers a
Signup::ResultWithAccessToken: `{"signup": {"account": ..., "access_token": ...}}`; destroy calls
schedule_for_deletion! and looks providers up without the deleted ones, so a second DELETE is a 404),
app/representers/signup_result_with_access_token_representer.rb, app/lib/signup/provider_account_manager.rb.

Sandbox design: one process serves one tenant's Admin API (the seeded provider). Tenants created here are
Master API records only: each gets an admin domain `<org>-admin.<sandbox host>` and an admin token of its own,
both reported as porta does, but their Admin API is not served (docs/sandbox.md).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from maas_sandbox.admin import domain_accounts as accounts
from maas_sandbox.admin import domain_provider as provider_domain
from maas_sandbox.admin.conventions import (
    NotFound,
    Unprocessable,
    master_api_router,
    path_id,
    public,
    read_params,
    sandbox_of,
)
from maas_sandbox.context import Sandbox

router = master_api_router(tags=["tenants"])
Obj = dict[str, Any]


def _subdomain(org_name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", org_name.lower()).strip("-") or "tenant"


def _view(tenant: Obj) -> Obj:
    return {k: v for k, v in public(tenant).items() if k not in ("admin_username", "admin_email")}


@router.post("/master/api/providers.json")
async def create_tenant(request: Request) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    org_name, username = str(params.get("org_name") or ""), str(params.get("username") or "")
    email, password = str(params.get("email") or ""), params.get("password")
    errors: dict[str, list[str]] = {}
    if not org_name.strip():
        errors["org_name"] = ["can't be blank"]
    if not username.strip():
        errors["username"] = ["can't be blank"]
    if not accounts._EMAIL.match(email):
        errors["email"] = ["should look like an email address"]
    if password not in (None, "") and len(str(password)) < 6:
        errors["password"] = ["is too short (minimum is 6 characters)"]
    if errors:
        raise Unprocessable(errors)
    base = urlsplit(sandbox.admin_url)
    existing = {t["subdomain"] for t in sandbox.store.list("tenant")}
    subdomain, n = _subdomain(org_name), 1
    while subdomain in existing:
        n += 1
        subdomain = f"{_subdomain(org_name)}-{n}"
    host = base.hostname or "127.0.0.1"
    port = f":{base.port}" if base.port else ""
    tenant, token, token_value = provider_domain.create_tenant(sandbox, {
        "org_name": org_name, "state": "approved", "subdomain": subdomain,
        "domain": f"{subdomain}.{host}", "admin_domain": f"{subdomain}-admin.{host}",
        "base_url": f"{base.scheme}://{subdomain}.{host}{port}",
        "admin_base_url": f"{base.scheme}://{subdomain}-admin.{host}{port}",
        "annotations": {}, "admin_username": username, "admin_email": email,
    })  # fmt: skip
    access_token = {"id": token["id"], "name": token["name"], "scopes": token["scopes"],
                    "permission": token["permission"], "expires_at": None, "value": token_value}  # fmt: skip
    return JSONResponse({"signup": {"account": _view(tenant), "access_token": access_token}}, status_code=201)


def _tenant(sandbox: Sandbox, tenant_id: str) -> Obj:
    tenant = sandbox.store.get("tenant", path_id(tenant_id))
    if tenant is None or tenant["state"] == "scheduled_for_deletion":
        raise NotFound()
    return tenant


@router.delete("/master/api/providers/{tenant_id}.json")
async def delete_tenant(request: Request, tenant_id: str) -> Response:
    sandbox = sandbox_of(request)
    tenant = _tenant(sandbox, tenant_id)
    tenant = provider_domain.update(sandbox, "tenant", tenant, {"state": "scheduled_for_deletion"})
    return JSONResponse({"signup": {"account": _view(tenant)}})
