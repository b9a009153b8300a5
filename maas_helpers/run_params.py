"""`maas run -p key=value`: every key checked against the notebooks' parameter cells before anything runs.

A key must be a parameter some notebook declares (papermill's `inspect_notebook` reads the cell tagged
`parameters`); its value is typed like the declared default and validated by the same rules as the saved settings
(`Settings`) or the workshop (`WorkshopSpec`). A typo or a bad value is one line naming the key and the fix,
printed before the sandbox starts, a notebook runs or any state changes.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from maas_helpers.config import Settings, make_settings
from maas_helpers.errors import ConfigError

# Parameters the runner itself sets; a learner chooses them with the command's own options.
RUNNER_OWNED = {
    "config_path": "maas run sets it (the run's own maas-config.yaml in --out-dir)",
    "report_dir": "maas run sets it (--out-dir)",
    "target": "use --target",
    "state_dir": "use --state-dir",
}
_WORKSHOP_KEYS = ("attendees", "prefix", "plan")


class ParameterErrors(ConfigError):
    """Every bad `-p` key, one line each (`lines`); the message joins them for one-line logs."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines


@dataclass(frozen=True)
class Declared:
    """One parameter name: the notebooks that declare it and the first one's default (a Python literal)."""

    name: str
    notebooks: tuple[str, ...]
    default: Any


def declared_parameters(notebooks: Iterable[Path]) -> dict[str, Declared]:
    """Parameter name → where it is declared, read from each notebook's `parameters` cell by papermill."""
    import papermill

    found: dict[str, Declared] = {}
    for path in notebooks:
        for name, info in papermill.inspect_notebook(str(path)).items():
            try:
                default = ast.literal_eval(str(info.get("default")))
            except (ValueError, SyntaxError):
                default = None  # an expression: any value is taken as given
            known = found.get(name)
            found[name] = Declared(name, (*known.notebooks, path.stem) if known else (path.stem,),
                                   known.default if known else default)
    return found


def typed_value(raw: Any, default: Any) -> Any:
    """`raw` as the parameter's default types it: text for a text parameter (`prefix=007` stays "007"),
    YAML otherwise (`true`, `3`, `[a, b]`)."""
    if not isinstance(raw, str):
        return raw
    if isinstance(default, str):
        return raw
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        return raw
    # Dates and other YAML-only types would not survive papermill's parameter cell; keep the text.
    return value if isinstance(value, str | int | float | bool | list | dict) or value is None else raw


def _type_problem(value: Any, default: Any) -> str | None:
    if default is None or value is None:
        return None  # declared as None: the notebook documents what it takes
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "expected true or false"
    if isinstance(default, int):
        return None if isinstance(value, int) and not isinstance(value, bool) else "expected a whole number"
    if isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "expected a number"
    if isinstance(default, list):
        return None if isinstance(value, list) else "expected a YAML list, e.g. [a, b]"
    if isinstance(default, dict):
        return None if isinstance(value, dict) else "expected a YAML mapping, e.g. {key: value}"
    return None


def _unknown(key: str, declared: Mapping[str, Declared]) -> str:
    choices = [name for name in declared if name not in RUNNER_OWNED]
    close = difflib.get_close_matches(key, choices, n=1, cutoff=0.6)
    if close:
        return f"-p {key}: no notebook has this parameter; did you mean {close[0]}?"
    if key in Settings.model_fields:
        return (f"-p {key}: a maas-config.yaml setting that no notebook takes as a parameter; "
                f"parameters: {', '.join(sorted(choices))}")
    return f"-p {key}: no notebook has this parameter; parameters: {', '.join(sorted(choices))}"


def check_params(params: Mapping[str, Any], declared: Mapping[str, Declared], *, target: str,
                 state_dir: Path) -> dict[str, Any]:
    """The typed parameters, or ConfigError listing one line per bad key (unknown, mistyped or invalid)."""
    problems: list[str] = []
    typed: dict[str, Any] = {}
    for key, raw in params.items():
        if key in RUNNER_OWNED:
            problems.append(f"-p {key}: {RUNNER_OWNED[key]}")
            continue
        if key not in declared:
            problems.append(_setting_value_problem(key, raw, target, state_dir) or _unknown(key, declared))
            continue
        value = typed_value(raw, declared[key].default)
        problem = _type_problem(value, declared[key].default)
        if problem:
            problems.append(f"-p {key}={raw}: {problem} ({', '.join(declared[key].notebooks)})")
            continue
        typed[key] = value
    if not problems:
        problems.extend(_settings_problems(typed, target, state_dir))
        problems.extend(_workshop_problems(typed, declared))
    if problems:
        raise ParameterErrors(problems)
    return typed


def _settings_problems(typed: Mapping[str, Any], target: str, state_dir: Path) -> list[str]:
    """Notebook 0's parameters that are settings, validated as notebook 0 will (required fields per target too)."""
    given = {k: v for k, v in typed.items() if k in Settings.model_fields}
    try:
        make_settings(target=target, state_dir=state_dir, **given)
    except ConfigError as exc:
        return [f"-p {exc}"]
    return []


def _setting_value_problem(key: str, raw: Any, target: str, state_dir: Path) -> str | None:
    """A settings field no notebook takes (`concurrency`): its value is still judged by the settings' rules."""
    if key not in Settings.model_fields:
        return None
    try:
        make_settings(target=target, state_dir=state_dir, **{key: typed_value(raw, None)})
    except ConfigError as exc:
        if str(exc).startswith(f"{key}:"):
            return f"-p {key}={raw}: {str(exc).removeprefix(f'{key}:').strip()}"
    return None


def _workshop_problems(typed: Mapping[str, Any], declared: Mapping[str, Declared]) -> list[str]:
    if not any(k in typed for k in _WORKSHOP_KEYS):
        return []
    from maas_helpers.workshop.spec import WorkshopSpec

    # a None default (notebook 12's `prefix = None`) lets the spec choose, as the notebook does
    values = {k: v for k in _WORKSHOP_KEYS if k in declared and (v := typed.get(k, declared[k].default)) is not None}
    try:
        WorkshopSpec(**values)
    except ConfigError as exc:
        return [f"-p {str(exc).replace('--', '')}"]
    return []
