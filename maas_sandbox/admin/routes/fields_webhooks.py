"""Fields definitions and the webhooks settings API.

porta 3scale-2.16-stable: app/controllers/admin/api/fields_definitions_controller.rb (create permits target,
label, required, hidden, read_only, choices, name; update the same with position instead of name),
app/representers/fields_definition_representer.rb, app/models/fields_definition.rb (target one of Account,
User, Cinstance; name and label required, name unique per target), app/lib/fields/fields.rb defaults
(org_name, username, email, name, description exist from the tenant's creation).
Webhooks: app/controllers/admin/api/web_hooks_controller.rb and app/models/web_hook.rb (one settings record per
provider; the event switches are booleans). The sandbox stores the settings; deliveries are not sent.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from maas_sandbox.admin import domain_provider as provider_domain
from maas_sandbox.admin.conventions import (
    NotFound,
    Unprocessable,
    admin_router,
    as_bool,
    deleted,
    path_id,
    public,
    read_params,
    sandbox_of,
    wrapped,
)
from maas_sandbox.context import Sandbox

router = admin_router(tags=["fields definitions", "webhooks"])
Obj = dict[str, Any]
API = "/admin/api"
TARGETS = ("Account", "User", "Cinstance")
WEBHOOK_SWITCHES = (
    "provider_actions",
    "account_created_on", "account_updated_on", "account_deleted_on", "account_plan_changed_on",
    "user_created_on", "user_updated_on", "user_deleted_on",
    "application_created_on", "application_updated_on", "application_deleted_on", "application_suspended_on",
    "application_plan_changed_on", "application_user_key_updated_on",
    "application_key_created_on", "application_key_deleted_on", "application_key_updated_on",
)  # fmt: skip


def _fields(sandbox: Sandbox) -> list[Obj]:
    return provider_domain.fields_definitions(sandbox)


def _field(sandbox: Sandbox, field_id: str) -> Obj:
    _fields(sandbox)
    field = sandbox.store.get("fields_definition", path_id(field_id))
    if field is None:
        raise NotFound()
    return field


def _values(sandbox: Sandbox, attrs: Obj, current: Obj | None) -> Obj:
    allowed = {"target", "label", "required", "hidden", "read_only", "choices"} | (
        {"position"} if current else {"name"}
    )
    out: Obj = {}
    for key in allowed & attrs.keys():
        value = attrs[key]
        if key in ("required", "hidden", "read_only"):
            value = as_bool(value)
        elif key == "choices":
            value = [str(v) for v in (value if isinstance(value, list) else [value] if value else [])]
        elif key == "position":
            try:
                value = int(value)
            except (TypeError, ValueError) as exc:
                raise Unprocessable({"position": ["is not a number"]}) from exc
        out[key] = value
    merged = {**(current or {}), **out}
    errors: dict[str, list[str]] = {}
    if merged.get("target") not in TARGETS:
        errors["target"] = ["is not included in the list"]
    if not str(merged.get("name") or "").strip():
        errors["name"] = ["can't be blank"]
    elif any(
        f["id"] != (current or {}).get("id") and f["target"] == merged.get("target") and f["name"] == merged["name"]
        for f in sandbox.store.list("fields_definition")
    ):
        errors["name"] = ["has already been taken"]
    if not str(merged.get("label") or "").strip():
        errors["label"] = ["can't be blank"]
    if merged.get("required") and (merged.get("hidden") or merged.get("read_only")):
        errors["required"] = ["Fields cannot be required AND hidden/read_only"]  # fields_definition.rb
    if errors:
        raise Unprocessable(errors)
    return out


@router.get(API + "/fields_definitions.json")
async def list_fields(request: Request) -> Response:
    sandbox = sandbox_of(request)
    rows = sorted(_fields(sandbox), key=lambda f: (f["position"], f["id"]))
    return JSONResponse({"fields_definitions": [{"fields_definition": public(f)} for f in rows]})


@router.post(API + "/fields_definitions.json")
async def create_field(request: Request) -> Response:
    sandbox = sandbox_of(request)
    attrs = wrapped(await read_params(request), "fields_definition")
    rows = _fields(sandbox)
    values = {"required": False, "hidden": False, "read_only": False, "choices": [], **_values(sandbox, attrs, None)}
    values["position"] = max((f["position"] for f in rows), default=-1) + 1
    field = provider_domain.create(sandbox, "fields_definition", values)
    return JSONResponse({"fields_definition": public(field)}, status_code=201)


@router.get(API + "/fields_definitions/{field_id}.json")
async def read_field(request: Request, field_id: str) -> Response:
    sandbox = sandbox_of(request)
    return JSONResponse({"fields_definition": public(_field(sandbox, field_id))})


@router.put(API + "/fields_definitions/{field_id}.json")
async def update_field(request: Request, field_id: str) -> Response:
    sandbox = sandbox_of(request)
    attrs = wrapped(await read_params(request), "fields_definition")
    field = _field(sandbox, field_id)
    updated = provider_domain.update(sandbox, "fields_definition", field, _values(sandbox, attrs, field))
    return JSONResponse({"fields_definition": public(updated)})


@router.delete(API + "/fields_definitions/{field_id}.json")
async def delete_field(request: Request, field_id: str) -> Response:
    sandbox = sandbox_of(request)
    provider_domain.delete(sandbox, "fields_definition", _field(sandbox, field_id))
    return deleted()


# -- webhooks -------------------------------------------------------------------------------------
def _webhook(sandbox: Sandbox) -> Obj:
    stored = sandbox.store.kv_get("webhook") or {}
    return {"url": stored.get("url", ""), "active": stored.get("active", False),
            **{k: stored.get(k, False) for k in WEBHOOK_SWITCHES}}  # fmt: skip


@router.get(API + "/webhooks.json")
async def read_webhook(request: Request) -> Response:
    sandbox = sandbox_of(request)
    return JSONResponse({"webhook": _webhook(sandbox)})


@router.put(API + "/webhooks.json")
async def update_webhook(request: Request) -> Response:
    sandbox = sandbox_of(request)
    attrs = wrapped(await read_params(request), "webhook")
    current = _webhook(sandbox)
    if "url" in attrs:
        url = str(attrs["url"] or "")
        if url and not url.startswith(("http://", "https://")):
            raise Unprocessable({"url": ["is invalid"]})
        current["url"] = url
    for key in ("active", *WEBHOOK_SWITCHES):
        if key in attrs:
            current[key] = as_bool(attrs[key])
    if current["active"] and not current["url"]:
        raise Unprocessable({"url": ["can't be blank"]})
    provider_domain.save_webhook(sandbox, current)
    return JSONResponse({"webhook": current})
