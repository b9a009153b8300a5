"""The notebook progress bar (maas_helpers.widgets.ObjectProgress) advances once per recorded object, from the
reconcile's worker threads too, and remembers the count so the next run's bar has a length."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from maas_helpers.results import Action, Change
from maas_helpers.widgets import ObjectProgress, object_progress


def test_bar_advances_per_object_and_remembers_the_count() -> None:
    bar = ObjectProgress("unit-test step")
    actions = [Action("limit", f"p: plan {i}", Change.CREATED) for i in range(40)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(bar, actions))
    assert bar.count == 40 and bar.bar.value == 40
    assert "40 objects checked" in bar.label.value
    assert bar.bar.style.description_width == "initial" and bar.bar.description == "unit-test step"  # not cut
    bar.done(summary="Plans: 3 unchanged — no changes")  # issue 29 item 11: the line says what the table says
    assert bar.bar.bar_style == "success" and bar.bar.max == 40
    assert bar.label.value == "Plans: 3 unchanged — no changes"
    again = ObjectProgress("unit-test step")
    assert again.bar.max == 40 and again.bar.value == 0  # the previous run's length
    again(Action("product", "x <b>", Change.FAILED))
    assert "1 object checked" in again.label.value
    again.done(failed=True)
    assert again.bar.bar_style == "danger" and "&lt;b&gt;" in again.label.value  # names are escaped


def test_headless_shows_nothing() -> None:
    assert object_progress("anything") is None  # pytest is not an interactive kernel
