"""Importing the package or the CLI loads nothing heavy (issue 30): each check runs in a fresh interpreter and
reads `sys.modules`, so a module another test imported earlier cannot hide a regression."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# What the CLI's start and `import maas_helpers` used to load and no longer need: jsonschema (its format
# checkers pull rfc3987_syntax, ~0.8 s), pandas/matplotlib (stats, billing via the workshop), pydantic,
# requests and threescale_api (the kit), kubernetes (the OpenShift platform).
HEAVY = ("jsonschema", "rfc3987_syntax", "pandas", "matplotlib", "numpy", "pydantic", "requests",
         "threescale_api", "kubernetes")


def _loaded(statement: str) -> set[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return set(json.loads(out.stdout.splitlines()[-1]))


@pytest.mark.parametrize("statement", ["import maas_helpers", "import maas_helpers.cli",
                                       "from maas_helpers.cli import app"])
def test_import_loads_nothing_heavy(statement: str) -> None:
    assert _loaded(statement) & set(HEAVY) == set()


def test_lazy_names_still_resolve() -> None:
    """`from maas_helpers import Kit` etc. load their module on first access (PEP 562)."""
    loaded = _loaded("from maas_helpers import Kit, StepResult, load_catalogue\nassert Kit.__name__ == 'Kit'")
    assert "pydantic" in loaded  # the kit really was imported
    import maas_helpers

    for name in maas_helpers.__all__:
        assert getattr(maas_helpers, name) is not None
    with pytest.raises(AttributeError):
        maas_helpers.not_a_name  # noqa: B018


def test_first_validation_still_validates() -> None:
    """The kit validates with jsonschema-rs: a bad CRD object is still refused, with the field's path."""
    from maas_helpers.crdcheck import schema_errors

    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    assert schema_errors({"n": "x"}, schema) == ['n: "x" is not of type "integer"']
    assert schema_errors({"n": 1}, schema) == []


def test_validating_loads_no_format_checkers() -> None:
    """A policy configuration check (what every apply makes) refuses a bad configuration without importing
    python-jsonschema, whose format checkers (rfc3987_syntax) cost 0.8–2.8 s per process."""
    loaded = _loaded(
        "from maas_helpers.errors import ConfigError\n"
        "from maas_helpers.reconcile.policy_check import _check_configuration\n"
        "schema = {'type': 'object', 'properties': {'max_tokens': {'type': 'integer', 'minimum': 1}}}\n"
        "_check_configuration('p', 'llm-metrics', '1.0.0', {'max_tokens': 5}, schema)\n"
        "try:\n"
        "    _check_configuration('p', 'llm-metrics', '1.0.0', {'max_tokens': 0}, schema)\n"
        "    raise SystemExit('a configuration below the minimum passed')\n"
        "except ConfigError as exc:\n"
        "    assert 'max_tokens: 0 is less than the minimum of 1' in str(exc), exc")
    assert {"jsonschema", "rfc3987_syntax"} & loaded == set()


def test_section_names_match_the_sections() -> None:
    """The CLI's help lists the sections from a light module; it must name the reconcile's sections in order."""
    from maas_helpers.reconcile import SECTIONS
    from maas_helpers.section_names import SECTION_NAMES

    assert tuple(SECTIONS) == SECTION_NAMES


def test_a_notebook_step_loads_no_plotting() -> None:
    """Every notebook's first step (`kit.backends`, `kit.plans`, …) loads maas_helpers.steps; matplotlib
    (~0.8 s per kernel) loads only with the first chart (maas_helpers/charts.py)."""
    loaded = _loaded("import maas_helpers.steps, maas_helpers.stats, maas_helpers.billing, maas_helpers.teardown")
    assert "matplotlib" not in loaded
    assert "matplotlib" in _loaded("from maas_helpers.stats import plot_top_applications\n"
                                   "import pandas as pd\n"
                                   "plot_top_applications(pd.DataFrame({'name': [], 'value': []}))")
