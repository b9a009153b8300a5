"""The committed notebooks are the source people edit: clean (what nbstripout leaves), free of secrets, and
shaped as design §6 says — objective, parameters, load, action, what changed, verify, next.

A trainer's edit in JupyterLab (saved with outputs, execution counts and the editor's metadata) passes once the
git filter `make install` registers (tools/notebook_filter.py) has cleaned it, as long as the shape holds."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from harness.secrets import SECRET_PATTERNS  # things that look like credentials

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
# The conventions the former generator (notebooks/_build.py) imposed, now checked on the files themselves.
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
NOTEBOOK_METADATA = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
CELL_METADATA_KEYS = {"tags"}
MAX_CODE_LINES = 14


def _filter_module() -> Any:
    spec = importlib.util.spec_from_file_location("notebook_filter", REPO / "tools" / "notebook_filter.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FILTER = _filter_module()


def shape_problems(nb: Any) -> list[str]:
    """Design §6 and the metadata conventions; [] when the notebook holds them."""
    problems = []
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        return [f"invalid notebook: {exc.message}"]
    if nb.metadata != NOTEBOOK_METADATA:
        problems.append(f"notebook metadata must be {NOTEBOOK_METADATA}, not {dict(nb.metadata)}")
    for cell in nb.cells:
        if set(cell.metadata) - CELL_METADATA_KEYS:
            problems.append(f"cell metadata beyond tags: {sorted(set(cell.metadata) - CELL_METADATA_KEYS)}")
    code = [c for c in nb.cells if c.cell_type == "code"]
    if any(c.outputs for c in code):
        problems.append("committed with outputs")
    if any(c.execution_count is not None for c in code):
        problems.append("committed with execution counts")
    first = nb.cells[0] if nb.cells else None
    if not (first and first.cell_type == "markdown" and first.source.startswith("# ")):
        problems.append("a '# title' markdown cell comes first")
    elif "**Objective:**" not in first.source:
        problems.append("the title cell states the **Objective:**")
    tagged = [i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", [])]
    if len(tagged) != 1:
        problems.append(f"exactly one code cell tagged 'parameters' (found {len(tagged)})")
    elif tagged[0] + 1 >= len(code) or not any(
            call in code[tagged[0] + 1].source for call in ("Kit.load(", "keep_form_settings(")):
        problems.append("the cell after the parameters loads the kit (Kit.load) or the settings")
    verify = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith("### Verify")]
    if len(verify) != 1:
        problems.append(f"exactly one '### Verify' section (found {len(verify)})")
    else:
        check = nb.cells[verify[0] + 1] if verify[0] + 1 < len(nb.cells) else None
        if not (check and check.cell_type == "code" and "assert " in check.source):
            problems.append("the cell after '### Verify' asserts")
    if not any(c.cell_type == "markdown" and c.source.startswith("## Next") for c in nb.cells[-2:]) \
            and not nb.cells[-1].source.startswith("That's the end"):
        problems.append("a '## Next' cell closes the notebook")
    long = [len(c.source.splitlines()) for c in code if len(c.source.splitlines()) > MAX_CODE_LINES]
    if long:
        problems.append(f"thin code cells (≤ {MAX_CODE_LINES} lines of helper calls), not {long}")
    return problems


def test_the_sequence_is_complete() -> None:
    numbers = [p.name[:2] for p in PATHS]
    assert numbers == [f"{n:02d}" for n in range(13)] + ["99"]
    assert not (NOTEBOOKS / "_build.py").exists(), "the notebooks are the source; there is no generator"


def test_committed_notebooks_are_what_nbstripout_leaves() -> None:
    """nbstripout's own logic (with tools/notebook_filter.py's extra keys), run on copies, changes nothing."""
    assert FILTER.unclean(PATHS) == []


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_notebook_is_shaped(path: Path) -> None:
    assert shape_problems(nbformat.read(path, as_version=4)) == []


def _as_saved_by_jupyterlab(nb: Any) -> Any:
    """What JupyterLab 4 writes after a run and a save: outputs, counts, full language_info, editor metadata."""
    nb = nbformat.from_dict(nb)
    nb.metadata.language_info = {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
                                 "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
                                 "pygments_lexer": "ipython3", "version": "3.11.2"}
    nb.metadata.widgets = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}}
    for count, cell in enumerate((c for c in nb.cells if c.cell_type == "code"), start=1):
        cell.execution_count = count
        cell.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "StepResult(...)"},
                                               execution_count=count),
                        nbformat.v4.new_output("stream", name="stdout", text="done\n")]
        cell.metadata.update({"scrolled": True, "execution": {"iopub.status.busy": "2026-01-01T10:00:00Z"}})
    nb.cells[0].metadata["jp-MarkdownHeadingCollapsed"] = True
    return nb


def test_a_notebook_saved_in_jupyterlab_is_unclean_until_the_filter_runs(tmp_path: Path) -> None:
    saved = tmp_path / PATHS[3].name
    nbformat.write(_as_saved_by_jupyterlab(nbformat.read(PATHS[3], as_version=4)), saved)
    assert FILTER.unclean([saved]) == [saved]  # the clean check can fail
    problems = shape_problems(nbformat.read(saved, as_version=4))
    assert "committed with outputs" in problems and "committed with execution counts" in problems
    assert any("notebook metadata" in p for p in problems) and any("cell metadata" in p for p in problems)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def test_a_trainers_jupyterlab_edit_passes_after_git_add(tmp_path: Path) -> None:
    """The clone's filter as `make install` sets it up (twice: harmless), a notebook edited and saved the way
    JupyterLab does, `git add`: the staged notebook is clean, keeps the edit and holds the shape."""
    repo = tmp_path / "clone"
    (repo / "notebooks").mkdir(parents=True)
    _git(repo, "init", "-q")
    shutil.copyfile(REPO / ".gitattributes", repo / ".gitattributes")
    for _ in range(2):
        assert FILTER.install(repo) == 0
    assert (repo / ".gitattributes").read_text() == (REPO / ".gitattributes").read_text()
    assert _git(repo, "config", "filter.nbstripout.required").strip() == "true"
    assert _git(repo, "config", "--get-all", "filter.nbstripout.clean").count("nbstripout") == 1
    assert _git(repo, "check-attr", "filter", "notebooks/x.ipynb").strip().endswith("nbstripout")

    nb = nbformat.read(PATHS[3], as_version=4)
    objective = nb.cells[0].source
    nb.cells[0].source = objective.replace("**Objective:**", "**Objective:** (workshop edition)")
    nb.cells.insert(3, nbformat.v4.new_markdown_cell("A trainer's note: backends are per model."))
    target = repo / "notebooks" / PATHS[3].name
    nbformat.write(_as_saved_by_jupyterlab(nb), target)
    _git(repo, "add", "notebooks")
    staged = nbformat.reads(_git(repo, "show", f":notebooks/{target.name}"), as_version=4)

    assert shape_problems(staged) == []
    assert "(workshop edition)" in staged.cells[0].source
    assert staged.cells[3].source == "A trainer's note: backends are per model."
    assert [c.source for c in staged.cells if c.cell_type == "code"] == \
        [c.source for c in nb.cells if c.cell_type == "code"]
    check = repo / "check.ipynb"
    check.write_text(_git(repo, "show", f":notebooks/{target.name}"))
    assert FILTER.unclean([check]) == []


def test_a_broken_shape_is_reported() -> None:
    nb = nbformat.read(PATHS[3], as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("tags", None)
    nb.cells = [c for c in nb.cells if not c.source.startswith("### Verify")]
    problems = shape_problems(nb)
    assert any("'parameters'" in p for p in problems) and any("Verify" in p for p in problems)


def test_notebook_filter_check_command_exits_1_on_a_dirty_notebook(tmp_path: Path) -> None:
    """`check` is what a pre-commit hook or CI step outside pytest runs (the committed files: the test above)."""
    tool = [sys.executable, str(REPO / "tools" / "notebook_filter.py"), "check"]
    dirty = tmp_path / "dirty.ipynb"
    nbformat.write(_as_saved_by_jupyterlab(nbformat.read(PATHS[0], as_version=4)), dirty)
    found = subprocess.run([*tool, str(dirty)], capture_output=True, text=True, timeout=60)
    assert found.returncode == 1 and f"{dirty}: not clean" in found.stdout


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_no_secret_looking_strings(path: Path) -> None:
    text = path.read_text()
    for pattern in SECRET_PATTERNS:
        match = pattern.search(text)
        assert match is None, f"{path.name}: secret-looking string {match.group(0)[:12]}…"


def test_secret_check_catches_a_planted_key(tmp_path: Path) -> None:
    planted = "user_key = 'a3f1c2d4e5f60718293a4b5c6d7e8f90'\nAuthorization: Bearer abcdefghijklmnop1234"
    assert all(p.search(planted) for p in SECRET_PATTERNS[:3])


def test_nbval_marks_are_cell_tags_out_of_learners_sight() -> None:
    """Issue 29 item 11: `# NBVAL_CHECK_OUTPUT` lines sat in learners' cells; nbval reads the same mark from the
    cell's `nbval-check-output` tag (nbval/plugin.py, find_metadata_tags), which JupyterLab shows only on demand."""
    cells = [c for p in PATHS for c in nbformat.read(p, as_version=4).cells]
    assert not [c.source for c in cells if "NBVAL" in c.source.upper()]
    marked = [c for c in cells if "nbval-check-output" in c.metadata.get("tags", [])]
    assert len(marked) >= 6 and all(c.cell_type == "code" for c in marked)


def test_make_install_registers_the_filter(tmp_path: Path) -> None:
    """`make install` runs the filter's install every time (not only when the venv is rebuilt)."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / ".installed").touch()  # an up-to-date venv: only the always-run part of the recipe is left
    for dep in ("pyproject.toml", "setup.py", "constraints.txt"):
        assert (REPO / dep).stat().st_mtime <= (venv / ".installed").stat().st_mtime
    done = subprocess.run(["make", "-n", "-C", str(REPO), "install", f"VENV={venv}"], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    assert f"{venv}/bin/python tools/notebook_filter.py install" in done.stdout.splitlines()
