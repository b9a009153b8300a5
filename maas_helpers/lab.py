"""`make lab`'s JupyterLab: notebooks open unmodified.

The committed notebooks carry only `language_info.name` (nbstripout and tools/notebook_filter.py strip the rest:
the Python version differs per machine). When the kernel starts, JupyterLab writes the kernel's full
`language_info` into the notebook's metadata (the notebook panel's language update on kernel change), and that
change marks a notebook nobody touched as modified. This contents manager serves each Python notebook with the
`language_info` the local ipykernel will report, so the kernel's update changes nothing; `git add` strips it again.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager


def kernel_language_info() -> dict[str, Any]:
    """What ipykernel sends in its kernel_info reply (the same interpreter as this server: one venv)."""
    from ipykernel.ipkernel import IPythonKernel

    return dict(IPythonKernel.language_info)


class KernelLanguageContents(AsyncLargeFileManager):
    """jupyter_server's default contents manager, plus the kernel's `language_info` on Python notebooks."""

    async def get(self, path: Any, content: Any = True, type: Any = None, format: Any = None,  # noqa: A002
                  require_hash: Any = False) -> Any:
        model: dict[str, Any] = await super().get(path, content=content, type=type, format=format,
                                                  require_hash=require_hash)
        if content and model.get("type") == "notebook" and model.get("content") is not None:
            metadata = model["content"].get("metadata", {})
            if (metadata.get("language_info") or {}).get("name", "python") == "python":
                metadata["language_info"] = kernel_language_info()
        return model
