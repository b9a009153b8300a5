"""Honest Verify cells: a check either runs (and asserts) or its cell prints what it did not check and why.

`not_checked(claim, why)` prints `not checked: <claim> — <why>`. The claim is the phrase the Verify prose uses
for that check, and the prose must present it as conditional ("… when there are at least two products");
tests/notebooks/test_verify_cells.py reads the executed notebooks and fails when a check was skipped while the
prose claims it without that condition, or when an `if` guards asserts with no `else` that says so.
"""

from __future__ import annotations

NOT_CHECKED = "not checked:"


def not_checked(claim: str, why: str) -> str:
    """Print (into the cell's output) and return the line naming the check that did not run and why."""
    line = f"{NOT_CHECKED} {claim} — {why}"
    print(line)
    return line
