"""Developer-portal CMS API (reference §16): templates, sections and files.

JSON only. Items are returned unwrapped; lists as `{"collection": [...], "metadata": {...}}` with per_page
default 20, max 100. Parameters an endpoint does not know answer 422 `{"error": "Unpermitted parameters: [...]"}`.
Templates keep a `draft` and a `published` body; `publish` copies the draft. Builtin pages and partials exist
from the start (see domain_cms.BUILTIN_PAGES) and can only be updated.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from maas_sandbox.admin import domain_cms as cms
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
)
from maas_sandbox.admin.domain_accounts import system_name_from
from maas_sandbox.context import Sandbox

router = admin_router(tags=["cms"])
Obj = dict[str, Any]
API = "/admin/api/cms"
DEFAULT_PER_PAGE, MAX_PER_PAGE = 20, 100
AUTH_KEYS = {"access_token", "provider_key"}

# porta api_support/forbid_params.rb: top-level keys outside the wrapper's `include` list and the controller's
# whitelist answer 422; within that set, keys a type does not permit are dropped silently (strong params).
BASE_WHITELIST = {"id", "page", "per_page"}  # cms/base_controller.rb
TEMPLATE_WRAPPED = {
    "system_name", "title", "path", "draft", "liquid_enabled", "handler", "content_type", "section_id", "layout_id",
}  # fmt: skip
TEMPLATE_PARAMS = TEMPLATE_WRAPPED | {"template", "type", "layout_name", "section_name", "content"} | BASE_WHITELIST
# templates_controller.rb ALLOWED_PARAMS per type
TEMPLATE_PERMITTED = {
    "page": {"title", "path", "content_type", "system_name", "section_id", "layout_id", "liquid_enabled", "draft",
             "handler"},
    "builtin_page": {"layout_id", "draft"},
    "layout": {"system_name", "draft", "title", "liquid_enabled"},
    "partial": {"system_name", "draft"},
    "builtin_partial": {"draft"},
}  # fmt: skip
SECTION_PARAMS = {"section", "title", "system_name", "public", "parent_id", "partial_path"} | BASE_WHITELIST
FILE_PARAMS = {"file", "path", "attachment", "section_id", "downloadable"} | BASE_WHITELIST
LIST_TEMPLATE_PARAMS = TEMPLATE_PARAMS
PAGE_PARAMS = BASE_WHITELIST
HANDLERS = (None, "", "textile", "markdown")


def _check_permitted(params: Obj, permitted: set[str]) -> None:
    extra = sorted(k for k in params if k not in permitted and k not in AUTH_KEYS)
    if extra:
        raise Unprocessable(body={"error": f"Unpermitted parameters: {json.dumps(extra)}"})


def _listing(params: Obj, rows: list[Obj]) -> JSONResponse:
    try:
        per_page = int(params.get("per_page", DEFAULT_PER_PAGE))
    except (TypeError, ValueError):
        per_page = DEFAULT_PER_PAGE
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    try:
        page = max(int(params.get("page", 1)), 1)
    except (TypeError, ValueError):
        page = 1
    total = len(rows)
    meta = {
        "per_page": per_page,
        "total_entries": total,
        "total_pages": max((total + per_page - 1) // per_page, 1),
        "current_page": page,
    }
    return JSONResponse({"collection": rows[(page - 1) * per_page : page * per_page], "metadata": meta})


def _get(sandbox: Sandbox, kind: str, obj_id: str) -> Obj:
    obj = sandbox.store.get(kind, path_id(obj_id))
    if obj is None:
        raise NotFound()
    return obj


# -- templates ------------------------------------------------------------------------------------
# Read fields per type (porta representers cms/page_, layout_, partial_representer.rb; a builtin page is not a
# CMS::Page, so it has no section/path fields; a builtin partial is a CMS::Partial).
TEMPLATE_FIELDS = {
    "page": ("title", "system_name", "layout_id", "section_id", "path", "content_type", "liquid_enabled", "handler"),
    "layout": ("title", "system_name", "liquid_enabled"),
    "partial": ("system_name",),
    "builtin_page": ("title", "system_name", "layout_id"),
    "builtin_partial": ("system_name",),
}


def template_view(template: Obj, *, content: bool = True) -> Obj:
    kind = template["type"]
    view: Obj = {"id": template["id"], "type": kind}
    view["created_at"], view["updated_at"] = template["created_at"], template["updated_at"]
    view.update({k: template.get(k) for k in TEMPLATE_FIELDS[kind]})
    if kind == "page":
        view["hidden"] = template.get("published") is None  # cms/page.rb hidden?: published.nil?
    if content:
        view["draft"], view["published"] = template.get("draft"), template.get("published")
    return view


def _resolve(sandbox: Sandbox, attrs: Obj, kind: str, id_key: str, name_key: str, field: str) -> int | None:
    """section_id|section_name, layout_id|layout_name → id (422 when unknown)."""
    if attrs.get(id_key) not in (None, ""):
        obj = sandbox.store.get(kind, attrs[id_key])
    elif attrs.get(name_key):
        obj = sandbox.store.first(kind, system_name=str(attrs[name_key]))
    else:
        return None
    if obj is None or (kind == "cms_template" and obj["type"] != "layout"):
        # porta admin/api/cms/template_service.rb UnknownSectionError / UnknownLayoutError
        given = attrs.get(id_key) if attrs.get(id_key) not in (None, "") else attrs.get(name_key)
        raise Unprocessable(body={"error": f"Unknown {field}: '{given}'"})
    return obj["id"]


def _template_changes(sandbox: Sandbox, attrs: Obj, kind: str, current: Obj | None) -> Obj:
    out: Obj = {}
    allowed = TEMPLATE_PERMITTED[kind]
    for key in ("title", "system_name", "path", "content_type", "draft", "handler"):
        if key in attrs and key in allowed:
            out[key] = attrs[key]
    if "liquid_enabled" in attrs and "liquid_enabled" in allowed:
        out["liquid_enabled"] = as_bool(attrs["liquid_enabled"])
    if "section_id" in allowed:
        section_id = _resolve(sandbox, attrs, "cms_section", "section_id", "section_name", "section")
        if section_id is not None:
            out["section_id"] = section_id
    if "layout_id" in allowed:
        layout_id = _resolve(sandbox, attrs, "cms_template", "layout_id", "layout_name", "layout")
        if layout_id is not None:
            out["layout_id"] = layout_id
    merged = {**(current or {}), **out}
    errors: dict[str, list[str]] = {}
    if merged.get("handler") not in HANDLERS:
        errors["handler"] = ["is not included in the list"]
    if kind == "page":
        path = merged.get("path")
        if not path:
            errors["path"] = ["can't be blank"]
        elif not str(path).startswith("/"):
            errors["path"] = ["must start with /"]
        elif any(
            t["id"] != (current or {}).get("id") and t.get("path") == path
            for t in sandbox.store.list("cms_template", type="page")
        ):
            errors["path"] = ["has already been taken"]
        if not merged.get("title"):
            errors["title"] = ["can't be blank"]
    if kind in ("layout", "partial"):
        name = merged.get("system_name")
        if not name:
            errors["system_name"] = ["can't be blank"]
    name = merged.get("system_name")
    if name and any(
        t["id"] != (current or {}).get("id") and t.get("system_name") == name
        for t in sandbox.store.list("cms_template", type=kind)
    ):
        errors["system_name"] = ["has already been taken"]
    if errors:
        raise Unprocessable(errors)
    return out


@router.get(API + "/templates.json")
async def list_templates(request: Request) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    _check_permitted(params, LIST_TEMPLATE_PARAMS)
    rows = sandbox.store.list("cms_template")
    if params.get("type"):
        rows = [t for t in rows if t["type"] == params["type"]]
    if params.get("section_id") not in (None, ""):
        rows = [t for t in rows if str(t.get("section_id")) == str(params["section_id"])]
    content = as_bool(params.get("content"))
    return _listing(params, [template_view(t, content=content) for t in rows])


@router.post(API + "/templates.json")
async def create_template(request: Request) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    _check_permitted(params, TEMPLATE_PARAMS)
    kind = params.get("type")
    if kind not in ("page", "layout", "partial"):
        # porta template_service.rb UnknownTemplateTypeError
        raise Unprocessable(body={"error": f"Unknown template type '{kind or ''}'"})
    values = _template_changes(sandbox, params, kind, None)
    if kind == "page":
        values.setdefault("system_name", None)
        if values.get("section_id") is None:
            root = sandbox.store.first("cms_section", system_name="root")
            values["section_id"] = root["id"] if root else None
    template = cms.insert_template(sandbox, kind, values.pop("system_name", None), **values)
    return JSONResponse(template_view(template), status_code=201)


@router.get(API + "/templates/{template_id}.json")
async def read_template(request: Request, template_id: str) -> Response:
    sandbox = sandbox_of(request)
    _check_permitted(await read_params(request), TEMPLATE_PARAMS)
    return JSONResponse(template_view(_get(sandbox, "cms_template", template_id)))


@router.put(API + "/templates/{template_id}.json")
async def update_template(request: Request, template_id: str) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    _check_permitted(params, TEMPLATE_PARAMS)
    template = _get(sandbox, "cms_template", template_id)
    changes = _template_changes(sandbox, params, template["type"], template)
    return JSONResponse(template_view(cms.update(sandbox, "cms_template", template, changes)))


@router.put(API + "/templates/{template_id}/publish.json")
async def publish_template(request: Request, template_id: str) -> Response:
    sandbox = sandbox_of(request)
    _check_permitted(await read_params(request), TEMPLATE_PARAMS)
    template = _get(sandbox, "cms_template", template_id)
    return JSONResponse(template_view(cms.publish_template(sandbox, template)))


@router.delete(API + "/templates/{template_id}.json")
async def delete_template(request: Request, template_id: str) -> Response:
    sandbox = sandbox_of(request)
    cms.delete_template(sandbox, _get(sandbox, "cms_template", template_id))
    return deleted()


# -- sections -------------------------------------------------------------------------------------
def _descends_from(sandbox: Sandbox, section: Obj, ancestor_id: int) -> bool:
    seen: set[int] = set()
    while section.get("parent_id") is not None and section["id"] not in seen:
        seen.add(section["id"])
        if section["parent_id"] == ancestor_id:
            return True
        section = sandbox.store.get("cms_section", section["parent_id"]) or {}
    return False


def _section(sandbox: Sandbox, section_id: str) -> Obj:
    """sections_controller.rb `find_section`: by id or by system_name (`root` finds the root); else 404."""
    found = sandbox.store.get("cms_section", int(section_id)) if section_id.isdigit() else None
    found = found or sandbox.store.first("cms_section", system_name=section_id)
    if found is None:
        raise NotFound()
    return found


def _section_values(sandbox: Sandbox, attrs: Obj, current: Obj | None) -> Obj:
    out: Obj = {}
    if "title" in attrs:
        out["title"] = attrs["title"]
    if "public" in attrs:
        out["public"] = as_bool(attrs["public"], default=True)
    if "partial_path" in attrs:
        out["partial_path"] = attrs["partial_path"]
    if "parent_id" in attrs and attrs["parent_id"] not in (None, ""):
        parent = sandbox.store.get("cms_section", attrs["parent_id"])
        if current is None:
            # sections_controller.rb `create`: `sections.find_by(id: parent_id) || sections.root`, no error
            if parent is not None:
                out["parent_id"] = parent["id"]
        elif parent is None:  # section.rb `parent_same_provider` (a parent that is not found has no provider)
            raise Unprocessable({"parent_id": ["must belong to the same provider"]})
        elif parent["id"] == current["id"] or _descends_from(sandbox, parent, current["id"]):
            raise Unprocessable({"base": ["cannot be it's own ancestor"]})  # section.rb `not_own_child`
        else:
            out["parent_id"] = parent["id"]
    if current is None:
        title = str(out.get("title") or "").strip()
        if not title:
            raise Unprocessable({"title": ["can't be blank"]})
        system_name = str(attrs.get("system_name") or system_name_from(title))
        if sandbox.store.first("cms_section", system_name=system_name):
            raise Unprocessable({"system_name": ["has already been taken"]})
        out["system_name"] = system_name
        out.setdefault("public", True)
        out.setdefault("partial_path", f"/{system_name}")
        if "parent_id" not in out:
            root = sandbox.store.first("cms_section", system_name="root")
            out["parent_id"] = root["id"] if root else None
    else:
        if "title" in out and not str(out["title"] or "").strip():
            raise Unprocessable({"title": ["can't be blank"]})
        # porta sections_controller.rb permits system_name on update too
        if attrs.get("system_name") not in (None, "") and attrs["system_name"] != current["system_name"]:
            if sandbox.store.first("cms_section", system_name=str(attrs["system_name"])):
                raise Unprocessable({"system_name": ["has already been taken"]})
            out["system_name"] = str(attrs["system_name"])
    return out


@router.get(API + "/sections.json")
async def list_sections(request: Request) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    _check_permitted(params, SECTION_PARAMS)
    rows = sandbox.store.list("cms_section")
    if params.get("parent_id") not in (None, ""):
        rows = [s for s in rows if str(s.get("parent_id")) == str(params["parent_id"])]
    return _listing(params, [public(s) for s in rows])


@router.post(API + "/sections.json")
async def create_section(request: Request) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    _check_permitted(params, SECTION_PARAMS)
    section = cms.create(sandbox, "cms_section", _section_values(sandbox, params, None))
    return JSONResponse(public(section), status_code=201)


@router.get(API + "/sections/{section_id}.json")
async def read_section(request: Request, section_id: str) -> Response:
    sandbox = sandbox_of(request)
    return JSONResponse(public(_section(sandbox, section_id)))


@router.put(API + "/sections/{section_id}.json")
async def update_section(request: Request, section_id: str) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    _check_permitted(params, SECTION_PARAMS)
    section = _section(sandbox, section_id)
    changes = _section_values(sandbox, params, section)
    return JSONResponse(public(cms.update(sandbox, "cms_section", section, changes)))


@router.delete(API + "/sections/{section_id}.json")
async def delete_section(request: Request, section_id: str) -> Response:
    sandbox = sandbox_of(request)
    cms.delete_section(sandbox, _section(sandbox, section_id))
    return deleted()


# -- files ----------------------------------------------------------------------------------------
def file_view(sandbox: Sandbox, item: Obj) -> Obj:
    view = public(item)
    view["url"] = f"{sandbox.portal_url}{item['path']}"
    return view


def file_bytes(item: Obj) -> bytes:
    """The uploaded content of a `cms_file` (stored base64 in `_content`)."""
    return base64.b64decode(item.get("_content") or "")


async def _file_values(sandbox: Sandbox, attrs: Obj, current: Obj | None) -> Obj:
    out: Obj = {}
    if "path" in attrs:
        path = str(attrs["path"] or "")
        if not path.startswith("/"):
            raise Unprocessable({"path": ["can't be blank" if not path else "must start with /"]})
        if any(f["id"] != (current or {}).get("id") for f in sandbox.store.list("cms_file", path=path)):
            raise Unprocessable({"path": ["has already been taken"]})
        out["path"] = path
    elif current is None:
        raise Unprocessable({"path": ["can't be blank"]})
    upload = attrs.get("attachment")
    if isinstance(upload, UploadFile):
        data = await upload.read()
        out["_content"] = base64.b64encode(data).decode("ascii")
        out["content_type"] = upload.content_type or "application/octet-stream"
        out["title"] = upload.filename
        out["_size"] = len(data)  # not shown: porta cms/file_representer.rb has no size
    elif upload not in (None, ""):
        raise Unprocessable({"attachment": ["must be a multipart file upload"]})
    elif current is None:
        raise Unprocessable({"attachment": ["can't be blank"]})
    if "downloadable" in attrs:
        out["downloadable"] = as_bool(attrs["downloadable"])
    section = sandbox.store.get("cms_section", attrs["section_id"]) if attrs.get("section_id") else None
    if attrs.get("section_id") not in (None, "") and current is not None:
        if section is None:
            raise Unprocessable({"section": ["not found"]})
        out["section_id"] = section["id"]
    elif section is not None:
        out["section_id"] = section["id"]
    elif current is None:  # files_controller.rb `create`: an unknown or missing section is the root
        root = sandbox.store.first("cms_section", system_name="root")
        out["section_id"] = root["id"] if root else None
    if current is None:
        out.setdefault("downloadable", False)
    return out


@router.get(API + "/files.json")
async def list_files(request: Request) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    _check_permitted(params, FILE_PARAMS)
    rows = sandbox.store.list("cms_file")
    if params.get("section_id") not in (None, ""):
        rows = [f for f in rows if str(f.get("section_id")) == str(params["section_id"])]
    return _listing(params, [file_view(sandbox, f) for f in rows])


@router.post(API + "/files.json")
async def create_file(request: Request) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    _check_permitted(params, FILE_PARAMS)
    item = cms.create(sandbox, "cms_file", await _file_values(sandbox, params, None))
    return JSONResponse(file_view(sandbox, item), status_code=201)


@router.get(API + "/files/{file_id}.json")
async def read_file(request: Request, file_id: str) -> Response:
    sandbox = sandbox_of(request)
    return JSONResponse(file_view(sandbox, _get(sandbox, "cms_file", file_id)))


@router.put(API + "/files/{file_id}.json")
async def update_file(request: Request, file_id: str) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    _check_permitted(params, FILE_PARAMS)
    item = _get(sandbox, "cms_file", file_id)
    changes = await _file_values(sandbox, params, item)
    return JSONResponse(file_view(sandbox, cms.update(sandbox, "cms_file", item, changes)))


@router.delete(API + "/files/{file_id}.json")
async def delete_file(request: Request, file_id: str) -> Response:
    sandbox = sandbox_of(request)
    cms.delete(sandbox, "cms_file", _get(sandbox, "cms_file", file_id))
    return deleted()
