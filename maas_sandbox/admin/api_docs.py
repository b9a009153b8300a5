"""The Admin API's Swagger page, self-contained: Swagger UI's files come from the installed `swagger-ui-bundle`
package (never a CDN, so no third-party script runs in the admin portal's origin) and the token is typed into
the page's token box, then sent in a header (HTTP Basic, as porta accepts it) with the spec request and every
"Try it out" call. No token is ever part of a URL. `/openapi.json` stays behind the admin or master token.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from maas_sandbox.portal.assets import SWAGGER_DIR

ASSETS = "/docs/assets"
_FILES = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "text/javascript"}

# Runs from a file (no inline script: the page's CSP allows scripts from this origin only).
_INIT_JS = r"""(function () {
  var form = document.getElementById("token-form");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var field = document.getElementById("token");
    var basic = "Basic " + btoa(":" + field.value);
    field.value = "";
    form.hidden = true;
    window.SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: false,
      validatorUrl: null,
      presets: [window.SwaggerUIBundle.presets.apis],
      responseInterceptor: function (response) {
        // Swagger UI 4 reads OpenAPI 3.0; FastAPI writes 3.1 with nothing 3.0 cannot show: relabel for display
        if (response.url.indexOf("/openapi.json") >= 0 && response.body && /^3\.1/.test(response.body.openapi)) {
          response.body.openapi = "3.0.3";
          response.text = JSON.stringify(response.body);
          response.data = response.text;
        }
        return response;
      },
      requestInterceptor: function (request) {
        if (new URL(request.url, window.location.href).origin === window.location.origin) {
          request.headers.Authorization = basic;
        }
        return request;
      }
    });
  });
}());
"""

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def docs_page() -> HTMLResponse:
    title = escape("3scale Admin API (maas sandbox)")
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css"></head><body>
<form id="token-form" style="margin:1em"><label>Admin or master access token
<input id="token" type="password" autocomplete="off" required></label> <button type="submit">Authorize</button>
<p>The token stays in this page and goes in a header with each request; it is never put in a URL.</p></form>
<div id="swagger-ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script><script src="{ASSETS}/docs.js"></script></body></html>"""
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get(ASSETS + "/docs.js")
async def init_script() -> Response:
    return Response(_INIT_JS, media_type="text/javascript")


@router.get(ASSETS + "/{name}")
async def asset(name: str) -> Response:
    if name not in _FILES:
        return Response(status_code=404)
    return Response((SWAGGER_DIR / name).read_bytes(), media_type=_FILES[name],
                    headers={"Cache-Control": "public, max-age=86400"})
