"""Platform adapters: `get_platform(settings)` picks the sandbox or the OpenShift implementation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from maas_helpers.platform.base import AdminCredentials, Platform

if TYPE_CHECKING:
    from maas_helpers.config import Settings

__all__ = ["AdminCredentials", "Platform", "get_platform"]


def get_platform(settings: Settings) -> Platform:
    """The platform for `settings.target` (imported lazily: the sandbox needs no kubernetes client)."""
    if settings.target == "sandbox":
        from maas_helpers.platform.sandbox import SandboxPlatform

        return SandboxPlatform(settings)
    from maas_helpers.platform.openshift import OpenShiftPlatform  # written by the CLUSTER helper

    return OpenShiftPlatform(settings)
