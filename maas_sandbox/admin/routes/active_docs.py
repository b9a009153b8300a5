"""ActiveDocs (reference §15): OpenAPI/Swagger specs stored as JSON strings; entity `api_doc`, list `api_docs`.

Params are read from under `api_docs_service` or flat. The body is validated unless
`skip_swagger_validations`; an invalid one answers porta's messages ("Invalid JSON", "JSON Spec is invalid").
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from maas_sandbox.admin import domain_cms as cms
from maas_sandbox.admin.conventions import (
    NotFound,
    Unprocessable,
    admin_router,
    as_bool,
    collection,
    deleted,
    path_id,
    public,
    read_params,
    sandbox_of,
    single,
    wrapped,
)
from maas_sandbox.admin.domain_accounts import system_name_from
from maas_sandbox.context import Sandbox

router = admin_router(tags=["active_docs"])
Obj = dict[str, Any]
API = "/admin/api/active_docs"
WRAPPER = "api_docs_service"


def _looks_like_spec(spec: Any) -> bool:
    """OpenAPI 3, Swagger 2 (info + paths) or Swagger 1.2 (basePath + apis), as porta accepts."""
    if not isinstance(spec, dict):
        return False
    if isinstance(spec.get("openapi"), str) and spec["openapi"].startswith("3."):
        return isinstance(spec.get("info"), dict) and isinstance(spec.get("paths"), dict)
    if str(spec.get("swagger")) == "2.0":
        return isinstance(spec.get("info"), dict) and isinstance(spec.get("paths"), dict)
    return isinstance(spec.get("basePath"), str) and isinstance(spec.get("apis"), list)


def _body_errors(body: Any, skip_validation: bool) -> list[str]:
    if body is None or (isinstance(body, str) and not body.strip()):
        return ["can't be blank"]
    try:
        spec = json.loads(body)
    except (TypeError, ValueError):
        return ["Invalid JSON", "JSON Spec is invalid"] if not skip_validation else ["Invalid JSON"]
    if not skip_validation and not _looks_like_spec(spec):
        return ["JSON Spec is invalid"]
    return []


def _body_text(value: Any) -> Any:
    """JSON clients may send the spec as an object; 3scale stores (and returns) the string."""
    return json.dumps(value) if isinstance(value, dict | list) else value


def _service_id(sandbox: Sandbox, value: Any) -> int | None:
    if value in (None, ""):
        return None
    service = sandbox.store.get("service", value)
    if service is None:
        raise Unprocessable({"service_id": ["Service not found"]})
    return service["id"]


def _doc(sandbox: Sandbox, doc_id: str) -> Obj:
    doc = sandbox.store.get("active_doc", path_id(doc_id))
    if doc is None:
        raise NotFound()
    return doc


@router.get(API + ".json")
async def list_active_docs(request: Request) -> Response:
    sandbox = sandbox_of(request)
    return collection("api_docs", "api_doc", sandbox.store.list("active_doc"))


@router.post(API + ".json")
async def create_active_doc(request: Request) -> Response:
    sandbox = sandbox_of(request)
    attrs = wrapped(await read_params(request), WRAPPER)
    skip = as_bool(attrs.get("skip_swagger_validations"))
    body = _body_text(attrs.get("body"))
    errors: dict[str, list[str]] = {}
    name = str(attrs.get("name") or "").strip()
    if not name:
        errors["name"] = ["can't be blank"]
    if body_errors := _body_errors(body, skip):
        errors["body"] = body_errors
    system_name = str(attrs.get("system_name") or system_name_from(name or "api_docs"))
    if any(d["system_name"] == system_name for d in sandbox.store.list("active_doc")):
        errors["system_name"] = ["has already been taken"]
    if errors:
        raise Unprocessable(errors)
    doc = cms.create(
        sandbox,
        "active_doc",
        {
            "name": name,
            "system_name": system_name,
            "description": attrs.get("description"),
            "body": body,
            "service_id": _service_id(sandbox, attrs.get("service_id")),
            "published": as_bool(attrs.get("published")),
            "skip_swagger_validations": skip,
        },
    )
    return single("api_doc", public(doc), status=201)


@router.get(API + "/{doc_id}.json")
async def read_active_doc(request: Request, doc_id: str) -> Response:
    sandbox = sandbox_of(request)
    return single("api_doc", _doc(sandbox, doc_id))


@router.put(API + "/{doc_id}.json")
async def update_active_doc(request: Request, doc_id: str) -> Response:
    """system_name is fixed at creation; the rest may change."""
    sandbox = sandbox_of(request)
    doc = _doc(sandbox, doc_id)
    attrs = wrapped(await read_params(request), WRAPPER)
    changes: Obj = {}
    if "skip_swagger_validations" in attrs:
        changes["skip_swagger_validations"] = as_bool(attrs["skip_swagger_validations"])
    skip = changes.get("skip_swagger_validations", doc.get("skip_swagger_validations", False))
    if "name" in attrs:
        if not str(attrs["name"] or "").strip():
            raise Unprocessable({"name": ["can't be blank"]})
        changes["name"] = str(attrs["name"]).strip()
    if "body" in attrs:
        body = _body_text(attrs["body"])
        if body_errors := _body_errors(body, skip):
            raise Unprocessable({"body": body_errors})
        changes["body"] = body
    if "description" in attrs:
        changes["description"] = attrs["description"]
    if "published" in attrs:
        changes["published"] = as_bool(attrs["published"])
    if "service_id" in attrs:
        changes["service_id"] = _service_id(sandbox, attrs["service_id"])
    return single("api_doc", cms.update(sandbox, "active_doc", doc, changes))


@router.delete(API + "/{doc_id}.json")
async def delete_active_doc(request: Request, doc_id: str) -> Response:
    sandbox = sandbox_of(request)
    cms.delete(sandbox, "active_doc", _doc(sandbox, doc_id))
    return deleted()
