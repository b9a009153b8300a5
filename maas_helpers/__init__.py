"""maas_helpers: turn the Model-as-a-Service guide's manual 3scale steps into re-runnable calls.

Notebooks use `Kit` (see maas_helpers/README.md); everything returns a `StepResult`.
"""

from maas_helpers import one_line_errors as _one_line_errors
from maas_helpers.catalogue import Catalogue, default_catalogue, dump_catalogue, load_catalogue
from maas_helpers.config import ModelEndpoint, Settings, load_settings, make_settings, save_settings
from maas_helpers.errors import ConfigError, MaasError
from maas_helpers.kit import Kit
from maas_helpers.results import Action, Change, StepResult

_one_line_errors.install()  # in JupyterLab: a MaasError shows as its one line

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
