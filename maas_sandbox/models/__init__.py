"""The sandbox's OpenAI/vLLM-compatible model server (see README.md in this folder)."""

from .server import create_app

__all__ = ["create_app"]
