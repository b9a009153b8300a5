"""Assets 3scale itself provides to every developer portal, served locally in the sandbox.

- `/dev-portal-assets/swagger-ui/<version>/…`: Swagger UI from the pinned `swagger-ui-bundle` package, at
  the path porta's `cdn_asset` tag renders (`File.join('/dev-portal-assets', file)`).
- `/javascripts/active_docs.js`: what `{{ 'active_docs.js' | javascript_include_tag }}` loads; on 3scale it
  defines `SwaggerUI(options, serviceEndpoint)` for OpenAPI 3 specs. Ours loads the bundle above and points
  the spec's `servers` at the product's production endpoint.
- `/favicon.ico`: porta ships `public/favicon.ico`, served on every portal host; the sandbox draws its own.
"""

from __future__ import annotations

import struct
from pathlib import Path

import swagger_ui_bundle

SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)
SWAGGER_VERSION = SWAGGER_DIR.name.removeprefix("swagger-ui-")
SWAGGER_BASE = f"/dev-portal-assets/swagger-ui/{SWAGGER_VERSION}"
SWAGGER_FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}

ACTIVE_DOCS_JS = f"""/* sandbox stand-in for 3scale's active_docs.js: SwaggerUI(options, serviceEndpoint) */
(function () {{
  var base = "{SWAGGER_BASE}";
  var css = document.createElement("link");
  css.rel = "stylesheet"; css.href = base + "/swagger-ui.css";
  document.head.appendChild(css);
  var queue = [];
  var ready = false;
  function start(options, serviceEndpoint) {{
    var config = Object.assign({{ deepLinking: false, validatorUrl: null }}, options);
    config.presets = [window.SwaggerUIBundle.presets.apis];
    if (serviceEndpoint) {{
      config.responseInterceptor = function (res) {{
        if (res && res.url === options.url && res.body && typeof res.body === "object") {{
          res.body.servers = [{{ url: serviceEndpoint }}];
          res.text = JSON.stringify(res.body);
          res.data = res.text;
        }}
        return res;
      }};
    }}
    window.SwaggerUIBundle(config);
  }}
  window.SwaggerUI = function (options, serviceEndpoint) {{
    if (ready) {{ start(options, serviceEndpoint); }} else {{ queue.push([options, serviceEndpoint]); }}
  }};
  var script = document.createElement("script");
  script.src = base + "/swagger-ui-bundle.js";
  script.onload = function () {{
    ready = true;
    queue.forEach(function (args) {{ start(args[0], args[1]); }});
  }};
  document.head.appendChild(script);
}}());
"""


def _favicon(size: int = 16) -> bytes:
    """A 16×16 ICO (one 32-bit BMP image): a blue tile with a white bar, drawn here rather than copied."""
    blue, white = b"\xcc\x66\x00\xff", b"\xff\xff\xff\xff"  # BGRA
    rows = []
    for y in range(size):  # BMP rows go bottom-up
        rows.append(b"".join(white if 6 <= y <= 9 and 3 <= x <= 12 else blue for x in range(size)))
    pixels = b"".join(rows)
    mask = b"\x00" * (4 * size)  # AND mask: every pixel opaque (rows padded to 32 bits)
    header = struct.pack("<IiiHHIIiiII", 40, size, size * 2, 1, 32, 0, len(pixels) + len(mask), 0, 0, 0, 0)
    image = header + pixels + mask
    return struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", size, size, 0, 0, 1, 32, len(image), 22) + image


FAVICON = _favicon()
