"""Developer portal content through the CMS API, from `portal/manifest.yaml`: sections, layouts, partials,
pages, builtin pages/partials (updated in place) and files. Templates are saved as draft then published.

Observed (the CMS listings, each file's stored bytes) and desired (the manifest and the files it names) go to
pure planners; `ctx.execute` sends their requests (files as multipart Writes with `form`/`files`)."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import yaml

from maas_helpers.catalogue import resolve_path
from maas_helpers.errors import MaasError
from maas_helpers.reconcile.actions import Action, FieldChange, Ref, Write, act, field_changes
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


# What the portal section lists, by cache key. A write to one does not change another's listing (a new
# section moves no template or file), so all three may be read side by side before the first write.
CMS_LISTINGS = {"cms:sections": "/admin/api/cms/sections.json", "cms:templates": TEMPLATES,
                "cms:files": "/admin/api/cms/files.json"}


def cms_listing(ctx: Context, key: str) -> list[dict[str, Any]]:
    """One of CMS_LISTINGS as read once per run (templates with their content, to compare it)."""
    params = {"content": "true"} if key == "cms:templates" else {}
    return ctx.cached(key, lambda: _collection(ctx, CMS_LISTINGS[key], **params))


def apply_portal(ctx: Context) -> StepResult:
    """Three rounds of observe → plan → execute: the access code and the sections first (templates and files
    name a section by the id its create returns), then the templates kind by kind (a page is created with its
    layout's name, so layouts go before pages), then the files."""
    result = StepResult("Developer portal content")
    portal = ctx.catalogue.portal
    if not portal.enabled:
        result.notes.append("portal disabled in the catalogue")
        return result
    manifest, root = load_manifest(ctx)
    link = ctx.link("/p/admin/cms")
    with ctx.client.about("developer portal CMS"):
        first: list[Action] = []
        if portal.remove_access_code:
            first.append(plan_access_code(ctx.provider()))
        sections = {s["system_name"]: s for s in cms_listing(ctx, "cms:sections")}
        first += plan_sections(manifest.get("sections") or [], sections, link)
        created = ctx.execute(result, first)
        if first and first[0].kind == "portal access code" and first[0].writes and not ctx.plan_only:
            ctx.forget("provider")
        sections.update({k.removeprefix("section:"): v for k, v in created.items() if k.startswith("section:")})

        templates = cms_listing(ctx, "cms:templates")
        by_key = {(t.get("type"), t.get("system_name")): t for t in templates}
        for kind, key in (("layout", "layouts"), ("partial", "partials"), ("page", "pages"),
                          ("builtin_page", "builtin_pages"), ("builtin_partial", "builtin_partials")):
            specs = manifest.get(key) or []
            contents = {spec["system_name"]: (root / spec["file"]).read_text() for spec in specs}
            actions, notes = plan_templates(kind, specs, contents, by_key, sections, link)
            result.notes.extend(notes)
            ctx.execute(result, actions)

        files = {f["path"]: f for f in cms_listing(ctx, "cms:files")}
        specs = manifest.get("files") or []
        sources = {spec["path"]: _source(root / spec["file"]) for spec in specs}
        stored = [(path, content, mime) for path, (_, content, mime) in sources.items() if path in files]
        # each file's stored bytes are compared side by side; notes kept in manifest order
        compared = ctx.map(lambda item: _content_difference(ctx, files[item[0]], item[1], item[2]), stored)
        differences = {path: difference for (path, _, _), (difference, _) in zip(stored, compared, strict=True)}
        result.notes.extend(note for _, notes in compared for note in notes)
        ctx.execute(result, plan_files(specs, sources, files, differences, sections, link))
    return result


def plan_access_code(provider: Mapping[str, Any]) -> Action:
    """porta's provider update with an empty `site_access_code` opens the portal to visitors
    (admin/api/providers_controller.rb)."""
    if provider.get("site_access_code"):
        return act("portal access code", "developer portal", Change.DELETED,
                   Write("PUT", "/admin/api/provider.json", {"site_access_code": ""}),
                   changes=[FieldChange("site_access_code", "set", "")], detail="portal open to visitors")
    return act("portal access code", "developer portal", Change.UNCHANGED, detail="none")


def plan_sections(specs: list[dict[str, Any]], observed: Mapping[str, Mapping[str, Any]], link: str) -> list[Action]:
    """Each section of the manifest, created (answering its id as `section:<system_name>`) or updated by field
    (porta admin/api/cms/sections_controller.rb)."""
    actions = []
    for spec in specs:
        name = spec["system_name"]
        desired = {"title": spec["title"], "partial_path": spec.get("partial_path"), "public": spec.get("public", True)}
        have = observed.get(name)
        if have is None:
            actions.append(act("CMS section", name, Change.CREATED,
                               Write("POST", "/admin/api/cms/sections.json", {"system_name": name, **desired},
                                     provides=f"section:{name}"),
                               detail=desired["partial_path"] or "", link=link))
            continue
        changes = field_changes(have, desired)
        if changes:
            actions.append(act("CMS section", name, Change.UPDATED,
                               Write("PUT", "/admin/api/cms/sections/{}.json", {c.field: c.new for c in changes},
                                     args=(have["id"],)),
                               changes=changes, detail=", ".join(c.field for c in changes), link=link))
        else:
            actions.append(act("CMS section", name, Change.UNCHANGED, link=link))
    return actions


def _template_fields(kind: str, spec: dict[str, Any], sections: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if kind in ("layout", "page"):
        fields["title"] = spec.get("title")
    if kind == "page":
        fields.update(path=spec["path"], content_type=spec.get("content_type", "text/html"),
                      liquid_enabled=spec.get("liquid_enabled", True))
        if spec.get("section") and spec["section"] in sections:
            fields["section_id"] = sections[spec["section"]]["id"]
    return {k: v for k, v in fields.items() if v is not None}


def plan_templates(kind: str, specs: list[dict[str, Any]], contents: Mapping[str, str],
                   by_key: Mapping[tuple[Any, Any], Mapping[str, Any]], sections: Mapping[str, Any],
                   link: str) -> tuple[list[Action], list[str]]:
    """Templates of one kind (porta admin/api/cms/templates_controller.rb): a new one is created as a draft and
    published; a changed one gets its differing fields and draft, then the publish. Builtins are only updated."""
    actions: list[Action] = []
    notes: list[str] = []
    label = kind.replace("_", " ")
    for spec in specs:
        name = spec["system_name"]
        content = contents[name]
        fields = _template_fields(kind, spec, sections)
        have = by_key.get((kind, name))
        if have is None:
            if kind.startswith("builtin"):
                notes.append(f"{label} {name!r} does not exist in this 3scale; skipped")
                actions.append(act(f"CMS {label}", name, Change.SKIPPED, detail="no such builtin"))
                continue
            params: dict[str, Any] = {"type": kind, "system_name": name, "draft": content, **fields}
            if kind == "page" and spec.get("layout"):
                params["layout_name"] = spec["layout"]
            key = f"template:{kind}:{name}"
            actions.append(act(f"CMS {label}", name, Change.CREATED, Write("POST", TEMPLATES, params, provides=key),
                               Write("PUT", "/admin/api/cms/templates/{}/publish.json", args=(Ref(key),)),
                               detail="published", link=link))
            continue
        changes = list(field_changes(have, fields))
        body = {c.field: c.new for c in changes}
        if kind == "page" and spec.get("layout"):
            layout = by_key.get(("layout", spec["layout"]))
            if layout is not None and have.get("layout_id") != layout["id"]:
                changes.append(FieldChange("layout_id", have.get("layout_id"), layout["id"]))
                body["layout_name"] = spec["layout"]
        stale = have.get("published") != content or have.get("draft") not in (None, "", content)
        if not changes and not stale:
            actions.append(act(f"CMS {label}", name, Change.UNCHANGED, detail="published", link=link))
            continue
        if stale:
            changes.append(FieldChange("published", have.get("published"), content))
            if have.get("draft") != content:
                body["draft"] = content
        writes = [Write("PUT", "/admin/api/cms/templates/{}.json", body, args=(have["id"],))] if body else []
        # a draft already equal to the file (saved, never published) only needs the publish
        writes.append(Write("PUT", "/admin/api/cms/templates/{}/publish.json", args=(have["id"],)))
        what = [k for k in body if k not in ("draft", "layout_name")] + (
            ["layout_name"] if "layout_name" in body else []) + (["content"] if stale else [])
        actions.append(act(f"CMS {label}", name, Change.UPDATED, *writes, changes=changes,
                           detail=", ".join(what) + "; published", link=link))
    return actions, notes


# Explicit types for the assets a portal ships: `mimetypes` reads the host's tables, which differ between
# machines, and a stylesheet stored without `text/css` is refused by browsers.
WEB_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml", ".json": "application/json",
             ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
             ".ico": "image/x-icon", ".woff": "font/woff", ".woff2": "font/woff2", ".html": "text/html",
             ".txt": "text/plain", ".pdf": "application/pdf", ".yaml": "application/yaml"}


def mime_type(source: Path) -> str:
    return WEB_TYPES.get(source.suffix.lower()) or mimetypes.guess_type(source.name)[0] or "application/octet-stream"


def _file_fields(spec: dict[str, Any], sections: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"downloadable": bool(spec.get("downloadable", False))}
    if spec.get("section") in sections:
        fields["section_id"] = sections[spec["section"]]["id"]
    return fields


def _form(fields: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in fields.items()}


def _source(source: Path) -> tuple[str, bytes, str]:
    return source.name, source.read_bytes(), mime_type(source)


def plan_files(specs: list[dict[str, Any]], sources: Mapping[str, tuple[str, bytes, str]],
               observed: Mapping[str, Mapping[str, Any]], differences: Mapping[str, str | None],
               sections: Mapping[str, Any], link: str) -> list[Action]:
    """CMS files (porta admin/api/cms/files_controller.rb, multipart): created with their attachment, or updated
    in place — `PUT /admin/api/cms/files/{id}.json` takes a new `attachment` and replaces the stored one, so the
    id, path and links stay. `differences`: why each existing file's stored bytes differ (None: the same)."""
    actions = []
    for spec in specs:
        path = spec["path"]
        filename, content, mime = sources[path]
        fields = _file_fields(spec, sections)
        attachment = {"attachment": (filename, content, mime)}
        have = observed.get(path)
        if have is None:
            actions.append(act("CMS file", path, Change.CREATED,
                               Write("POST", "/admin/api/cms/files.json", form=_form({"path": path, **fields}),
                                     files=attachment),
                               detail=f"{len(content)} bytes, {mime}", link=link))
            continue
        # porta's file JSON has no `downloadable`; compare each field only where the API shows it.
        changes = [FieldChange(k, have[k], v) for k, v in fields.items() if k in have and have[k] != v]
        why = differences.get(path)
        if not changes and why is None:
            actions.append(act("CMS file", path, Change.UNCHANGED, link=link))
            continue
        details = ([why] if why else []) + [str(c) for c in changes]
        if why:
            changes.append(FieldChange("attachment", None, f"{len(content)} bytes, {mime}"))
        actions.append(act("CMS file", path, Change.UPDATED,
                           Write("PUT", "/admin/api/cms/files/{}.json", args=(have["id"],),
                                 form=_form({c.field: c.new for c in changes if c.field != "attachment"}),
                                 files=attachment if why else None),
                           changes=changes, detail="; ".join(details), link=link))
    return actions


def _content_difference(ctx: Context, have: dict[str, Any], content: bytes,
                        mime: str) -> tuple[str | None, list[str]]:
    """Why the stored attachment differs from `content` (None when it is the same), and notes on what could
    not be compared.

    Cheap checks first: the sandbox's file JSON also shows `content_type` and `size`; porta's shows only
    `url`. Otherwise the stored bytes are read from `url` (S3 or the portal) with the local MD5 as
    `If-None-Match`: S3's ETag of a single-part upload is that MD5, so an unchanged file answers 304 with no
    body; a server without ETags sends the bytes and they are compared.
    """
    stored_type = have.get("content_type")
    if stored_type and stored_type != mime:
        return f"type {stored_type} → {mime}", []
    if isinstance(have.get("size"), int) and have["size"] != len(content):
        return f"content: {have['size']} → {len(content)} bytes", []
    url = have.get("url")
    if not url:
        return None, [f"CMS file {have.get('path')}: the API shows no URL; content not compared"]
    # An absolute URL (S3, CDN, portal) is fetched as is; a relative one is served by the 3scale host.
    # No access token is sent: the URL may point outside 3scale.
    etag = f'"{hashlib.md5(content, usedforsecurity=False).hexdigest()}"'
    try:
        resp = ctx.client._send("GET", urljoin(ctx.client.admin_url + "/", url),  # counted like every call
                                headers={"If-None-Match": etag})
    except MaasError as exc:
        return None, [f"CMS file {have.get('path')}: content not compared ({exc})"]
    if resp.status_code == 304:
        return None, []
    if not resp.ok:
        return None, [f"CMS file {have.get('path')}: content not compared (HTTP {resp.status_code} "
                      f"from {url.split('?')[0]})"]
    if resp.content != content:
        return f"content: {len(resp.content)} → {len(content)} bytes", []
    return None, []
