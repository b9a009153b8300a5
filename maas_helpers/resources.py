"""The helpers' one way to find the kit's data (`portal/`, `policies/`, `manifests/`, `notebooks/`) in a
checkout and in an installed wheel alike; a missing piece is a one-line MaasError naming it and the fix."""

from __future__ import annotations

from pathlib import Path

import maas_resources
from maas_helpers.errors import MaasError

RESOURCES = maas_resources.RESOURCES


class ResourceError(MaasError, FileNotFoundError):
    """A data file of the kit is missing (incomplete install or checkout)."""


def resource_path(name: str, *parts: str) -> Path:
    """`resource_path("portal")`, `resource_path("policies", "llm-metrics", "1.0.0")`; raises ResourceError."""
    try:
        return maas_resources.resource_path(name, *parts)
    except maas_resources.MissingResource as exc:
        raise ResourceError(str(exc)) from None


def resolve_path(path: str | Path) -> Path:
    """A path from the catalogue: absolute as given; `portal/...`, `policies/...`, `manifests/...` are the kit's
    own resources; any other relative path is relative to the working directory (the learner's files)."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    if p.parts and p.parts[0] in RESOURCES:
        return resource_path(p.parts[0], *p.parts[1:])
    return Path.cwd() / p
