"""maas_helpers: turn the Model-as-a-Service guide's manual 3scale steps into re-runnable calls.

Notebooks use `Kit` (see maas_helpers/README.md); everything returns a `StepResult`.

The names below load on first access (PEP 562): `import maas_helpers.cli` or `maas --help` must not pay for
pydantic, requests, threescale_api and the reconcile sections just because the package was imported.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names, eagerly, for type checkers and IDEs
    from maas_helpers.catalogue import Catalogue, default_catalogue, dump_catalogue, load_catalogue
    from maas_helpers.config import ModelEndpoint, Settings, load_settings, make_settings, save_settings
    from maas_helpers.errors import ConfigError, MaasError
    from maas_helpers.kit import Kit
    from maas_helpers.results import Action, Change, StepResult

# public name -> the module that defines it
_LAZY = {
    "Action": "maas_helpers.results",
    "Catalogue": "maas_helpers.catalogue",
    "Change": "maas_helpers.results",
    "ConfigError": "maas_helpers.errors",
    "Kit": "maas_helpers.kit",
    "MaasError": "maas_helpers.errors",
    "ModelEndpoint": "maas_helpers.config",
    "Settings": "maas_helpers.config",
    "StepResult": "maas_helpers.results",
    "default_catalogue": "maas_helpers.catalogue",
    "dump_catalogue": "maas_helpers.catalogue",
    "load_catalogue": "maas_helpers.catalogue",
    "load_settings": "maas_helpers.config",
    "make_settings": "maas_helpers.config",
    "save_settings": "maas_helpers.config",
}

__all__ = [
    "Action",
    "Catalogue",
    "Change",
    "ConfigError",
    "Kit",
    "MaasError",
    "ModelEndpoint",
    "Settings",
    "StepResult",
    "default_catalogue",
    "dump_catalogue",
    "load_catalogue",
    "load_settings",
    "make_settings",
    "save_settings",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'maas_helpers' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # the next access is a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
