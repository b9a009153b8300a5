"""The sandbox's OpenAI/vLLM-compatible model server (see README.md in this folder)."""

from maas_sandbox import extra as _extra  # noqa: F401  (first: names the [sandbox] extra if missing)

from .server import create_app

__all__ = ["create_app"]
