"""Developer portal content through the CMS API, from `portal/manifest.yaml`: sections, layouts, partials,
pages, builtin pages/partials (updated in place) and files. Templates are saved as draft then published."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

import yaml

from maas_helpers.catalogue import resolve_path
from maas_helpers.reconcile.context import Context
from maas_helpers.results import Change, StepResult

TEMPLATES = "/admin/api/cms/templates.json"


def load_manifest(ctx: Context) -> tuple[dict[str, Any], Path] | None:
    portal = ctx.catalogue.portal
    path = portal.manifest_file
    if not path.exists():
        return None
    return yaml.safe_load(path.read_text()) or {}, resolve_path(portal.path)


def _collection(ctx: Context, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        body = ctx.client.get_json(path, params={"page": page, "per_page": 100, **params})
        batch = body.get("collection", [])
        items.extend(batch)
        meta = body.get("metadata") or {}
        if not batch or page >= int(meta.get("total_pages") or 1):
            return items
        page += 1


def apply_portal(ctx: Context) -> StepResult:
    result = StepResult("Developer portal content")
    if not ctx.catalogue.portal.enabled:
        result.notes.append("portal disabled in the catalogue")
        return result
    loaded = load_manifest(ctx)
    if loaded is None:
        result.notes.append(f"no portal manifest at {ctx.catalogue.portal.manifest_file}; nothing to upload")
        return result
    manifest, root = loaded
    link = ctx.link("/p/admin/cms")
    with ctx.client.about("developer portal CMS"):
        _access_code(ctx, result)
        sections = {s["system_name"]: s for s in _collection(ctx, "/admin/api/cms/sections.json")}
        for spec in manifest.get("sections") or []:
            _ensure_section(ctx, result, sections, spec, link)
        templates = _collection(ctx, TEMPLATES, content="true")
        by_key = {(t.get("type"), t.get("system_name")): t for t in templates}
        for kind, key in (("layout", "layouts"), ("partial", "partials"), ("page", "pages"),
                          ("builtin_page", "builtin_pages"), ("builtin_partial", "builtin_partials")):
            for spec in manifest.get(key) or []:
                _ensure_template(ctx, result, by_key, kind, spec, root, sections, link)
        files = {f["path"]: f for f in _collection(ctx, "/admin/api/cms/files.json")}
        for spec in manifest.get("files") or []:
            _ensure_file(ctx, result, files, spec, root, sections, link)
    return result


def _access_code(ctx: Context, result: StepResult) -> None:
    if not ctx.catalogue.portal.remove_access_code:
        return
    provider = ctx.cached("provider", lambda: ctx.client.get_json("/admin/api/provider.json")["account"])
    if provider.get("site_access_code"):
        ctx.write(ctx.client.send_json, "PUT", "/admin/api/provider.json", {"site_access_code": ""})
        ctx.record(result, "portal access code", "developer portal", Change.DELETED, "portal open to visitors")
        ctx.forget("provider")
    else:
        ctx.record(result, "portal access code", "developer portal", Change.UNCHANGED, "none")


def _ensure_section(ctx: Context, result: StepResult, sections: dict[str, Any], spec: dict[str, Any],
                    link: str) -> None:
    desired = {"title": spec["title"], "partial_path": spec.get("partial_path"), "public": spec.get("public", True)}
    have = sections.get(spec["system_name"])
    if have is None:
        created = ctx.write(ctx.client.send_json, "POST", "/admin/api/cms/sections.json",
                            {"system_name": spec["system_name"], **desired})
        if created is not None:
            sections[spec["system_name"]] = created
        ctx.record(result, "CMS section", spec["system_name"], Change.CREATED, desired["partial_path"] or "", link)
        return
    changes = {k: v for k, v in desired.items() if have.get(k) != v}
    if changes:
        ctx.write(ctx.client.send_json, "PUT", f"/admin/api/cms/sections/{have['id']}.json", changes)
        ctx.record(result, "CMS section", spec["system_name"], Change.UPDATED, ", ".join(changes), link)
    else:
        ctx.record(result, "CMS section", spec["system_name"], Change.UNCHANGED, link=link)


def _template_fields(kind: str, spec: dict[str, Any], sections: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if kind in ("layout", "page"):
        fields["title"] = spec.get("title")
    if kind == "page":
        fields.update(path=spec["path"], content_type=spec.get("content_type", "text/html"),
                      liquid_enabled=spec.get("liquid_enabled", True))
        if spec.get("section") and spec["section"] in sections:
            fields["section_id"] = sections[spec["section"]]["id"]
    return {k: v for k, v in fields.items() if v is not None}


def _ensure_template(ctx: Context, result: StepResult, by_key: dict[tuple[Any, Any], Any], kind: str,
                     spec: dict[str, Any], root: Path, sections: dict[str, Any], link: str) -> None:
    name = spec["system_name"]
    content = (root / spec["file"]).read_text()
    fields = _template_fields(kind, spec, sections)
    have = by_key.get((kind, name))
    label = kind.replace("_", " ")
    if have is None:
        if kind.startswith("builtin"):
            result.notes.append(f"{label} {name!r} does not exist in this 3scale; skipped")
            ctx.record(result, f"CMS {label}", name, Change.SKIPPED, "no such builtin")
            return
        params: dict[str, Any] = {"type": kind, "system_name": name, "draft": content, **fields}
        if kind == "page" and spec.get("layout"):
            params["layout_name"] = spec["layout"]
        created = ctx.write(ctx.client.send_json, "POST", TEMPLATES, params)
        if created is not None:
            ctx.write(ctx.client.send_json, "PUT", f"/admin/api/cms/templates/{created['id']}/publish.json")
        ctx.record(result, f"CMS {label}", name, Change.CREATED, "published", link)
        return
    changes = {k: v for k, v in fields.items() if have.get(k) != v}
    if kind == "page" and spec.get("layout"):
        layout = by_key.get(("layout", spec["layout"]))
        if layout is not None and have.get("layout_id") != layout["id"]:
            changes["layout_name"] = spec["layout"]
    stale = have.get("published") != content or have.get("draft") not in (None, "", content)
    if not changes and not stale:
        ctx.record(result, f"CMS {label}", name, Change.UNCHANGED, "published", link)
        return
    if stale:
        changes["draft"] = content
    ctx.write(ctx.client.send_json, "PUT", f"/admin/api/cms/templates/{have['id']}.json", changes)
    ctx.write(ctx.client.send_json, "PUT", f"/admin/api/cms/templates/{have['id']}/publish.json")
    ctx.record(result, f"CMS {label}", name, Change.UPDATED,
               ", ".join("content" if k == "draft" else k for k in changes) + "; published", link)


def _ensure_file(ctx: Context, result: StepResult, files: dict[str, Any], spec: dict[str, Any], root: Path,
                 sections: dict[str, Any], link: str) -> None:
    path = spec["path"]
    if path in files:
        ctx.record(result, "CMS file", path, Change.UNCHANGED, link=link)
        return
    source = root / spec["file"]
    data: dict[str, Any] = {"path": path, "downloadable": str(bool(spec.get("downloadable", False))).lower()}
    if spec.get("section") in sections:
        data["section_id"] = sections[spec["section"]]["id"]
    mime = mimetypes.guess_type(source.name)[0] or "application/octet-stream"
    ctx.write(ctx.client.request, "POST", "/admin/api/cms/files.json", data=data,
              files={"attachment": (source.name, source.read_bytes(), mime)})
    ctx.record(result, "CMS file", path, Change.CREATED, f"{source.stat().st_size} bytes", link)
