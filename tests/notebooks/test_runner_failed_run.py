"""Issue 29 item 8: a failed headless run never replaces the last good run's `index.html` / `run.json`; its pages
go to `failed/` beside them and the run says where; the error is printed once. Two tiny notebooks, real kernels."""

from __future__ import annotations

from pathlib import Path

import nbformat

from maas_helpers.runner import run_notebooks


def _notebook(path: Path, parameters: str, body: str) -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_failed_run_keeps_the_last_good_index(tutorial_sandbox, tmp_path: Path) -> None:
    notebooks, out = tmp_path / "nbs", tmp_path / "build"
    notebooks.mkdir()
    _notebook(notebooks / "00_first.ipynb", 'config_path = None\ntarget = "sandbox"\nstate_dir = ""\nfail = False',
              'if fail:\n    raise ValueError("boom on purpose")\nprint("first ok")')
    _notebook(notebooks / "01_second.ipynb", "config_path = None", 'print("second ok")')

    def run(**params: str) -> tuple[int, list[str]]:
        lines: list[str] = []
        code = run_notebooks("sandbox", params, tutorial_sandbox.state_dir, out, notebooks_dir=notebooks,
                             echo=lines.append)
        return code, lines

    code, lines = run()
    assert code == 0, lines
    good_index, good_json = (out / "index.html").read_bytes(), (out / "run.json").read_bytes()
    assert b"all notebooks ran" in good_index and (out / "notebooks" / "01_second.html").exists()

    code, lines = run(fail="true")
    assert code == 1, lines
    assert (out / "index.html").read_bytes() == good_index and (out / "run.json").read_bytes() == good_json
    assert (out / "notebooks" / "01_second.html").exists(), "the good run's pages must stay"
    failed = out / "failed"
    assert "stopped at the first failing notebook" in (failed / "index.html").read_text()
    assert (failed / "notebooks" / "00_first.html").exists() and not (out / ".run-in-progress").exists()
    assert sum("boom on purpose" in line for line in lines) == 1, lines  # the error, once
    assert str(failed / "index.html") in lines[-1] and str(out / "index.html") in lines[-1], lines[-1]

    code, lines = run()
    assert code == 0 and not failed.exists(), "a newer good run supersedes the failed one"
    assert b"all notebooks ran" in (out / "index.html").read_bytes()
