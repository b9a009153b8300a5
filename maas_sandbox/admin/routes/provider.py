"""The provider (tenant) account: tenant Admin API `provider.json` and the Master API provider update (§2).

The Master API provider update assigns `timezone` (porta master/api/providers_controller.rb `update`
assigns the `account` params; account.rb `validate_timezone`): a Rails zone name with a whole-hour offset
(rails_zones.py), else 422 `Timezone <name> is not allowed`. Like porta's account_representer.rb, no
representation shows it; the sandbox keeps it as `_timezone_name` (and its tz identifier, `_timezone`, the
analytics default).
Sandbox addition: the Master API call also accepts `multiple_applications` (boolean: porta's provider switch
of that name), stored as `_multiple_applications` and shown as `multiple_applications_allowed`; real 3scale
sets it only in the Admin Portal UI.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from maas_sandbox.admin import domain_provider as provider_domain
from maas_sandbox.admin import rails_zones
from maas_sandbox.admin.conventions import (
    NotFound,
    Unprocessable,
    admin_router,
    as_bool,
    link,
    master_api_router,
    path_id,
    public,
    read_params,
    sandbox_of,
    wrapped,
)
from maas_sandbox.context import Sandbox

router = admin_router(tags=["provider"])
master_router = master_api_router(tags=["provider"])
Obj = dict[str, Any]
TENANT_FIELDS = ("from_email", "support_email", "finance_support_email", "site_access_code")
MASTER_FIELDS = ("org_name", *TENANT_FIELDS)
PROVIDER_EVENTS = {"approve": "approved", "suspend": "suspended", "resume": "approved"}


def provider_of(sandbox: Sandbox) -> Obj:
    provider = sandbox.store.first("provider")
    if provider is None:
        raise NotFound()
    return provider


def provider_view(sandbox: Sandbox, provider: Obj) -> Obj:
    view = public(provider)
    view["multiple_applications_allowed"] = provider.get("_multiple_applications") is not False
    view["links"] = [link("users", f"{sandbox.admin_url}/admin/api/accounts/{provider['id']}/users")]
    return view


def provider_timezone(sandbox: Sandbox) -> str:
    """The tenant's timezone (analytics default); UTC until set through the Master API."""
    provider = sandbox.store.first("provider")
    return (provider or {}).get("_timezone") or "UTC"


@router.get("/admin/api/provider.json")
async def read_provider(request: Request) -> Response:
    sandbox = sandbox_of(request)
    return JSONResponse({"account": provider_view(sandbox, provider_of(sandbox))})


@router.put("/admin/api/provider.json")
async def update_provider(request: Request) -> Response:
    """Tenant tokens may change only the e-mails and the portal access code; everything else is ignored."""
    sandbox = sandbox_of(request)
    params = await read_params(request)
    provider = provider_of(sandbox)
    attrs = wrapped(params, "account")
    changes = {k: _text(attrs[k]) for k in TENANT_FIELDS if k in attrs}
    provider = provider_domain.update(sandbox, "provider", provider, changes)
    return JSONResponse({"account": provider_view(sandbox, provider)})


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _master_provider(sandbox: Sandbox, provider_id: str) -> Obj:
    provider = provider_of(sandbox)
    if provider["id"] != path_id(provider_id):
        raise NotFound()
    return provider


@master_router.get("/master/api/providers/{provider_id}.json")
async def master_read_provider(request: Request, provider_id: str) -> Response:
    sandbox = sandbox_of(request)
    provider = _master_provider(sandbox, provider_id)
    return JSONResponse({"signup": {"account": provider_view(sandbox, provider)}})


@master_router.put("/master/api/providers/{provider_id}.json")
async def master_update_provider(request: Request, provider_id: str) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    provider = _master_provider(sandbox, provider_id)
    attrs = wrapped(params, "account")
    changes: Obj = {k: _text(attrs[k]) for k in MASTER_FIELDS if k in attrs}
    if "org_name" in changes and not changes["org_name"].strip():
        raise Unprocessable({"org_name": ["can't be blank"]})
    if "timezone" in attrs:
        name = _valid_timezone(_text(attrs["timezone"]))
        changes.update({"_timezone_name": name, "_timezone": rails_zones.ZONES[name]})
    if attrs.get("multiple_applications") not in (None, ""):
        changes["_multiple_applications"] = as_bool(attrs["multiple_applications"])
    event = attrs.get("state_event")
    if event not in (None, ""):
        if event not in PROVIDER_EVENTS:
            raise Unprocessable({"state": [f'cannot transition via "{event}"']})
        changes["state"] = PROVIDER_EVENTS[str(event)]
    provider = provider_domain.update(sandbox, "provider", provider, changes)
    return JSONResponse({"signup": {"account": provider_view(sandbox, provider)}})


def _valid_timezone(name: str) -> str:
    if not rails_zones.allowed(name):
        raise Unprocessable({"timezone": [f"Timezone {name} is not allowed"]})
    return name
