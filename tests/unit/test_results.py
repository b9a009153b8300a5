"""StepResult.fold: a step's rows of one kind become one note when a table elsewhere shows them (issue 14
item 11: notebook 6 listed every limit twice)."""

from __future__ import annotations

from maas_helpers.results import Change, StepResult


def _step() -> StepResult:
    step = StepResult("Plans")
    step.add("application plan", "chat: free", Change.CREATED)
    step.add("limit", "free hits/minute", Change.CREATED)
    step.add("limit", "free hits/day", Change.UNCHANGED)
    step.notes.append("kept")
    return step


def test_fold_keeps_other_rows_and_counts_the_folded_ones() -> None:
    step = _step()
    folded = step.fold("limit", "see the table")
    assert [(a.kind, a.name) for a in folded.actions] == [("application plan", "chat: free"), ("limit", "2 limits")]
    row = folded.actions[-1]
    assert row.change is Change.CREATED and row.detail == "1 created, 1 unchanged: see the table"
    assert folded.notes == ["kept"] and folded.writes == 2
    assert len(step.actions) == 3  # the original is untouched
    assert folded._repr_html_().count("<td>limit</td>") == 1


def test_fold_of_unchanged_rows_is_unchanged() -> None:
    step = StepResult("Plans")
    step.add("limit", "a", Change.UNCHANGED)
    step.add("limit", "b", Change.UNCHANGED)
    folded = step.fold("limit", "below")
    assert folded.in_sync and 'class="maas-unchanged"' in folded._repr_html_()


def test_fold_without_such_rows_is_the_same_step() -> None:
    step = _step()
    assert step.fold("service plan", "nowhere") is step


def test_plural_agrees_with_the_count() -> None:
    """Issue 29 item 11: "1 objects", "1 writes"."""
    from maas_helpers.results import plural

    assert [plural(n, "write") for n in (0, 1, 2)] == ["0 writes", "1 write", "2 writes"]
    assert plural(1, "API call") == "1 API call" and plural(3, "policy", "policies") == "3 policies"
