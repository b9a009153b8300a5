"""What the portal serves without a sign-in: the assets 3scale provides (Swagger UI, `active_docs.js`), the
published ActiveDocs specs, and the published CMS pages and files. The CMS route matches every path, so this
router is included last."""

from __future__ import annotations

import base64
import mimetypes
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from maas_sandbox.portal.assets import ACTIVE_DOCS_JS, FAVICON, SWAGGER_BASE, SWAGGER_DIR, SWAGGER_FILES
from maas_sandbox.portal.deps import PortalDep, SandboxDep, SessionDep

Obj = dict[str, Any]
router = APIRouter()


@router.get(SWAGGER_BASE + "/{name}")
async def swagger_asset(name: str) -> Response:
    if name not in SWAGGER_FILES:
        return PlainTextResponse("Not found", status_code=404)
    return Response(
        (SWAGGER_DIR / name).read_bytes(),
        media_type=SWAGGER_FILES[name],
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/favicon.ico")
async def favicon() -> Response:
    return Response(FAVICON, media_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"})


@router.get("/javascripts/active_docs.js")
async def active_docs_js() -> Response:
    return Response(ACTIVE_DOCS_JS, media_type="text/javascript")


@router.get("/swagger/spec/{system_name}.json")
async def spec(system_name: str, sandbox: SandboxDep) -> Response:
    doc = sandbox.store.first("active_doc", system_name=system_name)
    if doc is None or not doc.get("published"):
        return JSONResponse({"status": "Not found"}, status_code=404)
    return Response(doc.get("body") or "{}", media_type="application/json")


@router.get("/{path:path}")
async def cms(path: str, portal: PortalDep, session: SessionDep) -> Response:
    full = "/" + path
    page = portal.page_by_path(full)
    if page is not None:
        return portal.render(page, session)
    item = portal.file_by_path(full)
    if item is not None:
        headers = {"Cache-Control": "public, max-age=300"}
        if item.get("downloadable"):
            headers["Content-Disposition"] = f'attachment; filename="{full.rsplit("/", 1)[-1]}"'
        return Response(
            base64.b64decode(item.get("_content") or ""),
            headers=headers,
            media_type=_media_type(item, full),
        )
    return portal.not_found(session)


def _media_type(item: Obj, path: str) -> str:
    """The uploaded type, or one guessed from the path when the upload did not say (browsers need text/css)."""
    stored = item.get("content_type")
    if stored and stored != "application/octet-stream":
        return stored
    return mimetypes.guess_type(path)[0] or "application/octet-stream"
