"""Where the kit's data lives: `portal/`, `policies/`, `manifests/` and `notebooks/`.

They stay at the repository root (people edit them there) and ship inside this package in a wheel
(`setup.py` maps `maas_resources.portal` → `portal/` and so on). This module imports nothing of the kit, so
both `maas_helpers` and `maas_sandbox` use it without importing each other (design §1).
"""

from __future__ import annotations

from pathlib import Path

RESOURCES = ("portal", "policies", "manifests", "notebooks")
_PACKAGED = Path(__file__).resolve().parent  # a wheel: site-packages/maas_resources/<name>/
_SOURCE = _PACKAGED.parent  # a checkout or editable install: <repo>/<name>/


class MissingResource(FileNotFoundError):
    """A data directory or file of the kit is absent: the install or the checkout is incomplete."""


def resource_root(name: str) -> Path:
    """The directory of one resource, from the installed package first, else from the source checkout."""
    if name not in RESOURCES:
        raise ValueError(f"unknown kit resource {name!r}; known: {', '.join(RESOURCES)}")
    for base in (_PACKAGED, _SOURCE):
        if (base / name).is_dir():
            return base / name
    raise MissingResource(
        f"the kit's {name}/ directory is missing (looked in {_PACKAGED} and {_SOURCE}); "
        "reinstall the kit: pip install --force-reinstall maas-kit, or pip install -e . from a complete checkout"
    )


def resource_path(name: str, *parts: str) -> Path:
    """A file or directory inside a resource, e.g. `resource_path("policies", "llm-metrics", "1.0.0")`.

    Raises MissingResource (one line, names the path and the fix) when it does not exist."""
    path = resource_root(name).joinpath(*parts)
    if not path.exists():
        raise MissingResource(
            f"the kit's {name}/{'/'.join(parts)} is missing at {path}; "
            "reinstall the kit: pip install --force-reinstall maas-kit, or restore it in the checkout"
        )
    return path
