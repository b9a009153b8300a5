"""Notebook 99's button: two steps (ask, then delete), and the Verify check re-run right after the deletion.

One click used to delete everything, and the Verify cell below (run before the click) kept saying what "would
be removed". Now the first click only shows what will go and asks; the second deletes, shows what was removed
and re-checks that nothing of ours is left. A re-run of the Verify cell knows the button deleted (`confirmed`).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from maas_helpers.results import Change, StepResult, plural
from maas_helpers.teardown import teardown_apply, teardown_plan, verify_teardown

if TYPE_CHECKING:
    from maas_helpers.kit import Kit

_CONFIRMED: weakref.WeakSet[Any] = weakref.WeakSet()  # kits whose teardown the button ran


def confirmed(kit: Kit) -> bool:
    """True once the button's teardown ran for this kit (the Verify cell then checks that nothing is left)."""
    return kit in _CONFIRMED


def check_after_teardown(kit: Kit) -> str:
    """The Verify cell's confirmed-branch check: nothing the kit created is left. Raises AssertionError if some is."""
    left = verify_teardown(kit)  # a fresh re-read of everything the kit owns (foreign objects are not ours)
    if left:
        raise AssertionError(f"still there: {left}")
    return "Verify (re-checked after the deletion): nothing of ours is left"


def pending_note(left: StepResult, interactive: bool) -> str:
    """What the Verify cell prints before a confirmed teardown (and how it gets re-checked)."""
    count = sum(a.change is Change.PLANNED_DELETE for a in left.actions)
    text = f"teardown not confirmed: {plural(count, 'object')} would be removed"
    if interactive:
        text += "; the button above re-checks after it deletes (or run this cell again)"
    return text


def teardown_button(kit: Kit) -> Any:
    """Ask first (what will be removed, and where), delete on the second click; then re-check."""
    import ipywidgets as widgets
    from IPython.display import display

    start = widgets.Button(description="Remove everything the kit created…", button_style="danger",
                           layout=widgets.Layout(width="auto"))
    yes = widgets.Button(description="Yes, delete them", button_style="danger", layout=widgets.Layout(width="auto"))
    cancel = widgets.Button(description="Cancel", layout=widgets.Layout(width="auto"))
    question = widgets.HTML()
    ask = widgets.VBox([question, widgets.HBox([yes, cancel])], layout=widgets.Layout(display="none"))
    out = widgets.Output()

    def _ask(_: Any) -> None:
        count = sum(a.change is Change.PLANNED_DELETE for a in teardown_plan(kit).actions)
        question.value = (f"<b>Delete {plural(count, 'object')} the kit created on "
                          f"{kit.credentials.admin_url}?</b> This cannot be undone.")
        start.disabled, ask.layout.display = True, "flex"

    def _cancel(_: Any) -> None:
        start.disabled, ask.layout.display = False, "none"

    def _delete(_: Any) -> None:
        yes.disabled = cancel.disabled = True
        with out:
            display(teardown_apply(kit))
            _CONFIRMED.add(kit)
            print(check_after_teardown(kit))

    start.on_click(_ask)
    cancel.on_click(_cancel)
    yes.on_click(_delete)
    return widgets.VBox([start, ask, out])
