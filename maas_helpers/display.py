"""Rendering for Jupyter and logs. Rendering never changes state and never shows a secret."""

from __future__ import annotations

import html
from typing import Any

from maas_helpers.results import StepResult


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


class Links(dict):
    """Name → URL, rendered as a clickable table in Jupyter and as aligned lines elsewhere."""

    def __str__(self) -> str:
        width = max((len(k) for k in self), default=0)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in self.items())

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td><a href='{html.escape(v)}' target='_blank'>"
                       f"{html.escape(v)}</a></td></tr>" for k, v in self.items())
        return f"<table class='maas-links'>{rows}</table>"


def show(obj: StepResult | dict[str, Any] | Any) -> None:
    """Display a result (table in Jupyter, text in a terminal or log)."""
    if isinstance(obj, dict) and not isinstance(obj, Links):
        obj = Links(obj)
    if _in_notebook():
        from IPython.display import display

        display(obj)
    else:
        print(obj)
