"""Developer portal content through the CMS API, from `portal/manifest.yaml`: sections, layouts, partials,
pages, builtin pages/partials (updated in place) and files. Templates are saved as draft then published."""

from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import yaml

from maas_helpers.catalogue import resolve_path
from maas_helpers.errors import MaasError
from maas_helpers.reconcile.context import Context
from maas_helpers.results import Change, StepResult

TEMPLATES = "/admin/api/cms/templates.json"


def load_manifest(ctx: Context) -> tuple[dict[str, Any], Path]:
    """Never "nothing to do" for a missing manifest: a learner's portal would silently not be uploaded."""
    portal = ctx.catalogue.portal
    path = portal.manifest_file
    if not path.is_file():
        raise MaasError(f"portal manifest not found at {path}; set portal.path (and portal.manifest) in maas.yaml "
                        "to your portal directory, or portal.enabled: false to skip the developer portal")
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
    manifest, root = load_manifest(ctx)
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
    if stale and have.get("draft") != content:
        changes["draft"] = content
    if changes:  # a draft already equal to the file (saved, never published) only needs the publish
        ctx.write(ctx.client.send_json, "PUT", f"/admin/api/cms/templates/{have['id']}.json", changes)
    ctx.write(ctx.client.send_json, "PUT", f"/admin/api/cms/templates/{have['id']}/publish.json")
    what = [k for k in changes if k != "draft"] + (["content"] if stale else [])
    ctx.record(result, f"CMS {label}", name, Change.UPDATED, ", ".join(what) + "; published", link)


# Explicit types for the assets a portal ships: `mimetypes` reads the host's tables, which differ between
# machines, and a stylesheet stored without `text/css` is refused by browsers.
WEB_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml", ".json": "application/json",
             ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
             ".ico": "image/x-icon", ".woff": "font/woff", ".woff2": "font/woff2", ".html": "text/html",
             ".txt": "text/plain", ".pdf": "application/pdf", ".yaml": "application/yaml"}


def mime_type(source: Path) -> str:
    return WEB_TYPES.get(source.suffix.lower()) or mimetypes.guess_type(source.name)[0] or "application/octet-stream"


def _file_fields(spec: dict[str, Any], sections: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"downloadable": bool(spec.get("downloadable", False))}
    if spec.get("section") in sections:
        fields["section_id"] = sections[spec["section"]]["id"]
    return fields


def _form(fields: dict[str, Any]) -> dict[str, str]:
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in fields.items()}


def _ensure_file(ctx: Context, result: StepResult, files: dict[str, Any], spec: dict[str, Any], root: Path,
                 sections: dict[str, Any], link: str) -> None:
    path = spec["path"]
    source = root / spec["file"]
    content = source.read_bytes()
    mime = mime_type(source)
    fields = _file_fields(spec, sections)
    attachment = {"attachment": (source.name, content, mime)}
    have = files.get(path)
    if have is None:
        ctx.write(ctx.client.request, "POST", "/admin/api/cms/files.json", data=_form({"path": path, **fields}),
                  files=attachment)
        ctx.record(result, "CMS file", path, Change.CREATED, f"{len(content)} bytes, {mime}", link)
        return
    # porta's file JSON has no `downloadable`; compare each field only where the API shows it.
    changes = {k: v for k, v in fields.items() if k in have and have[k] != v}
    why = _content_difference(ctx, result, have, content, mime)
    if not changes and why is None:
        ctx.record(result, "CMS file", path, Change.UNCHANGED, link=link)
        return
    # porta's `PUT /admin/api/cms/files/{id}.json` takes a new `attachment` (multipart) and replaces the
    # stored one in place, so the id, path and links stay; no delete + recreate needed.
    ctx.write(ctx.client.request, "PUT", f"/admin/api/cms/files/{have['id']}.json", data=_form(changes),
              files=attachment if why else None)
    details = [why] if why else []
    details += [f"{k}: {have.get(k)!r} → {v!r}" for k, v in changes.items()]
    ctx.record(result, "CMS file", path, Change.UPDATED, "; ".join(details), link)


def _content_difference(ctx: Context, result: StepResult, have: dict[str, Any], content: bytes,
                        mime: str) -> str | None:
    """Why the stored attachment differs from `content`, or None when it is the same.

    Cheap checks first: the sandbox's file JSON also shows `content_type` and `size`; porta's shows only
    `url`. Otherwise the stored bytes are read from `url` (S3 or the portal) with the local MD5 as
    `If-None-Match`: S3's ETag of a single-part upload is that MD5, so an unchanged file answers 304 with no
    body; a server without ETags sends the bytes and they are compared.
    """
    stored_type = have.get("content_type")
    if stored_type and stored_type != mime:
        return f"type {stored_type} → {mime}"
    if isinstance(have.get("size"), int) and have["size"] != len(content):
        return f"content: {have['size']} → {len(content)} bytes"
    url = have.get("url")
    if not url:
        result.notes.append(f"CMS file {have.get('path')}: the API shows no URL; content not compared")
        return None
    # An absolute URL (S3, CDN, portal) is fetched as is; a relative one is served by the 3scale host.
    # No access token is sent: the URL may point outside 3scale.
    etag = f'"{hashlib.md5(content, usedforsecurity=False).hexdigest()}"'
    try:
        resp = ctx.client._send("GET", urljoin(ctx.client.admin_url + "/", url),  # counted like every call
                                headers={"If-None-Match": etag})
    except MaasError as exc:
        result.notes.append(f"CMS file {have.get('path')}: content not compared ({exc})")
        return None
    if resp.status_code == 304:
        return None
    if not resp.ok:
        result.notes.append(f"CMS file {have.get('path')}: content not compared (HTTP {resp.status_code} "
                            f"from {url.split('?')[0]})")
        return None
    if resp.content != content:
        return f"content: {len(resp.content)} → {len(content)} bytes"
    return None
