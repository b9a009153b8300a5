"""Imported first by every part of the sandbox's server stack: without the `[sandbox]` extra the import fails
with one line naming the extra, instead of a bare "No module named 'fastapi'" from deep inside.

`control` and `layout` (start/stop/env, used by the helpers' sandbox platform) stay importable without it."""

from __future__ import annotations

import importlib.util

# import name → distribution, for what the sandbox's own modules import (pyproject's [sandbox] extra)
SERVER_STACK = {
    "fastapi": "fastapi",
    "uvicorn": "uvicorn[standard]",
    "httptools": "httptools",
    "python_multipart": "python-multipart",  # what FastAPI imports for form bodies
    "liquid": "python-liquid",
    "authlib": "authlib",
    "argon2": "argon2-cffi",
    "itsdangerous": "itsdangerous",
    "httpx": "httpx",
    "prometheus_client": "prometheus-client",
    "swagger_ui_bundle": "swagger-ui-bundle",
}
INSTALL_HINT = "pip install 'maas-kit[sandbox]'"


def missing_modules() -> list[str]:
    return [dist for name, dist in SERVER_STACK.items() if importlib.util.find_spec(name) is None]


def require_sandbox_extra() -> None:
    missing = missing_modules()
    if missing:
        raise ModuleNotFoundError(
            f"the local 3scale sandbox needs the [sandbox] extra (missing: {', '.join(missing)}); "
            f"install it with: {INSTALL_HINT}"
        )


require_sandbox_extra()
