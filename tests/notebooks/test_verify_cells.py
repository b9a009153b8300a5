"""Issue 29 item 5: a Verify cell either asserts what its prose says or prints, in its output, what it did not
check and why (`maas_helpers.verify.not_checked`). Two checks:
- in the committed notebooks, every `if` that guards asserts in a Verify cell has an `else` that asserts or
  says `not_checked(...)` (no silent skip);
- in the executed notebooks of the headless tutorial run, every `not checked: <claim> — <why>` line names a claim
  the Verify prose makes conditionally (a skipped check the prose states as done fails)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from maas_helpers.runner import NOTEBOOKS_DIR, list_notebooks
from maas_helpers.verify import NOT_CHECKED

CONDITIONAL = re.compile(r"\b(when|if|unless|only|otherwise)\b", re.IGNORECASE)
NEAR = 120  # characters around the claim that must carry its condition


def _verify(nb: nbformat.NotebookNode) -> tuple[str, nbformat.NotebookNode]:
    index = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith("### Verify"))
    return nb.cells[index].source, nb.cells[index + 1]


def silent_skips(source: str) -> list[str]:
    """`if` statements whose body asserts while the `else` neither asserts nor says what was not checked."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.If) or not any(isinstance(n, ast.Assert) for b in node.body for n in ast.walk(b)):
            continue
        otherwise = [n for b in node.orelse for n in ast.walk(b)]
        says = any(isinstance(n, ast.Call) and getattr(n.func, "id", "") == "not_checked" for n in otherwise)
        if not says and not any(isinstance(n, ast.Assert) for n in otherwise):
            problems.append(f"line {node.lineno}: `if {ast.unparse(node.test)}` skips its asserts silently")
    return problems


def unconditional_claims(prose: str, output: str) -> list[str]:
    """`not checked` lines whose claim the prose states without a condition (or does not state at all)."""
    flat = " ".join(prose.split())
    problems = []
    for line in output.splitlines():
        if not line.startswith(NOT_CHECKED):
            continue
        claim = line.removeprefix(NOT_CHECKED).split(" — ", 1)[0].strip()
        at = flat.lower().find(claim.lower())
        if at < 0:
            problems.append(f"skipped {claim!r}, which the Verify prose does not name")
            continue
        start = max(flat.rfind(". ", 0, at) + 1, at - NEAR)
        stop = flat.find(". ", at)
        near = flat[start:min(stop if stop >= 0 else len(flat), at + len(claim) + NEAR)]
        if not CONDITIONAL.search(near):
            problems.append(f"skipped {claim!r} while the prose claims it: {near.strip()!r}")
    return problems


@pytest.mark.parametrize("path", list_notebooks(NOTEBOOKS_DIR), ids=lambda p: p.stem)
def test_verify_cells_never_skip_silently(path: Path) -> None:
    _, cell = _verify(nbformat.read(path, as_version=4))
    assert silent_skips(cell.source) == []


def test_the_checks_can_fail() -> None:
    assert silent_skips("if ok:\n    assert x\nprint(1)")
    assert not silent_skips("if ok:\n    assert x\nelse:\n    not_checked('x', 'why')")
    line = f"{NOT_CHECKED} another product's key was refused — only one product"
    assert unconditional_claims("The chat path answered POST, and another product's key was refused.", line)
    assert unconditional_claims("Every model answered.", line)  # skipped something the prose never names
    assert not unconditional_claims("Another product's key was refused (only with two products).", line)


@pytest.mark.slow
def test_executed_verify_cells_say_what_they_skipped(first_run) -> None:
    executed = sorted((first_run.out_dir / "notebooks").glob("*.ipynb"))
    assert len(executed) == 14
    problems: list[str] = []
    for path in executed:
        prose, cell = _verify(nbformat.read(path, as_version=4))
        output = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        problems += [f"{path.stem}: {p}" for p in unconditional_claims(prose, output)]
    assert problems == [], problems
