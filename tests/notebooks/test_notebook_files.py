"""The committed notebooks: generated from notebooks/_build.py, clean (no outputs), shaped as design §6 says."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

from harness.secrets import SECRET_PATTERNS  # things that look like credentials

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def _build_module():
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS / "_build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sequence_is_complete() -> None:
    numbers = [p.name[:2] for p in PATHS]
    assert numbers == [f"{n:02d}" for n in range(13)] + ["99"]


def test_committed_notebooks_equal_the_generator_output() -> None:
    build = _build_module()
    rendered = build.render()
    assert sorted(rendered) == [p.stem for p in PATHS]
    for path in PATHS:
        assert path.read_text() == build.serialise(rendered[path.stem]), f"{path.name}: run python notebooks/_build.py"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_notebook_is_clean_and_shaped(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    for cell in code:
        assert cell.outputs == [], f"{path.name}: committed with outputs"
        assert cell.execution_count is None, f"{path.name}: committed with execution counts"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "title first"
    assert "**Objective:**" in nb.cells[0].source
    tagged = [i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: exactly one parameters cell"
    after = code[tagged[0] + 1].source
    assert "Kit.load(" in after or "keep_form_settings(" in after, f"{path.name}: config cell must follow parameters"
    verify = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith("### Verify")]
    assert len(verify) == 1, f"{path.name}: needs one '### Verify' section"
    check = nb.cells[verify[0] + 1]
    assert check.cell_type == "code" and "assert " in check.source, f"{path.name}: verification cell must assert"
    for cell in code:  # thin cells: a few lines of helper calls
        assert len(cell.source.splitlines()) <= 14, f"{path.name}: a code cell is too long"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_no_secret_looking_strings(path: Path) -> None:
    text = path.read_text()
    for pattern in SECRET_PATTERNS:
        match = pattern.search(text)
        assert match is None, f"{path.name}: secret-looking string {match.group(0)[:12]}…"


def test_secret_check_catches_a_planted_key(tmp_path: Path) -> None:
    planted = "user_key = 'a3f1c2d4e5f60718293a4b5c6d7e8f90'\nAuthorization: Bearer abcdefghijklmnop1234"
    assert all(p.search(planted) for p in SECRET_PATTERNS[:3])


def test_nbval_markers_are_on_their_own_line() -> None:
    marked = [c for p in PATHS for c in nbformat.read(p, as_version=4).cells if "NBVAL_CHECK_OUTPUT" in c.source]
    assert len(marked) >= 6
    assert all("# NBVAL_CHECK_OUTPUT" in c.source.splitlines() for c in marked)
