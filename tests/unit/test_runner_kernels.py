"""Issue 30: the runner launches the next notebook's kernel while the current one runs. Real kernels, real
notebooks (no sandbox needed): each notebook still gets its own fresh kernel, a failure still names the notebook
and the cell, and no kernel outlives the run — the pre-started one included (papermill passes `km=` to nbclient,
which then leaves the shutdown to the runner: nbclient/client.py, `owns_km`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

from maas_helpers import runner


def _notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _stdout(executed: Path) -> str:
    nb = nbformat.read(executed, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stdout")


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The kernel managers the runner starts (the real ones, recorded)."""
    kms: list[Any] = []
    real = runner._start_kernel

    def record(manager_class: type, notebook: Path) -> Any:
        kms.append(real(manager_class, notebook))
        return kms[-1]

    monkeypatch.setattr(runner, "_start_kernel", record)
    return kms


def test_each_notebook_has_its_own_fresh_kernel(tmp_path: Path, started: list[Any]) -> None:
    nbs = [_notebook(tmp_path / f"0{i}_n.ipynb", "import os\nprint('pid', os.getpid())",
                     "print('fresh', 'leftover' not in globals())\nleftover = 1") for i in range(3)]
    report = runner.execute_sequence(nbs, tmp_path / "out", {}, {}, target="sandbox", echo=lambda _: None)
    assert report.ok, report
    outputs = [_stdout(tmp_path / "out" / "notebooks" / p.name) for p in nbs]
    assert all("fresh True" in out for out in outputs)
    assert len({out.split()[1] for out in outputs}) == 3  # three kernel processes
    assert len(started) == 3 and len({km.connection_file for km in started}) == 3  # own IPC paths each
    assert not any(km.is_alive() for km in started)


def test_failure_names_the_cell_and_stops_the_pre_started_kernel(tmp_path: Path, started: list[Any]) -> None:
    nbs = [_notebook(tmp_path / "00_ok.ipynb", "x = 1"),
           _notebook(tmp_path / "01_bad.ipynb", "y = 2", "raise ValueError('boom')"),
           _notebook(tmp_path / "02_never.ipynb", "z = 3")]
    report = runner.execute_sequence(nbs, tmp_path / "out", {}, {}, target="sandbox", echo=lambda _: None)
    failure = report.failure
    assert failure is not None and failure.name == "01_bad"
    assert failure.cell == 2 and failure.error == "ValueError: boom"
    assert [n.status for n in report.notebooks] == ["ok", "failed", "not run"]
    assert len(started) == 3  # 02's kernel was started while 01 ran …
    assert not any(km.is_alive() for km in started)  # … and stopped with the others
    assert not any(Path(km.connection_file).exists() for km in started)  # connection files and sockets gone


def test_a_kernel_starts_with_the_kit_loaded_and_a_clean_namespace(tmp_path: Path, started: list[Any]) -> None:
    """The pre-started kernel imports the kit and pandas as it starts (runner.PRELOAD), so a notebook's first
    step does not wait for them; the learner's namespace holds none of it."""
    nbs = [_notebook(tmp_path / "00_n.ipynb",
                     "import sys\n"
                     "print('loaded', all(m in sys.modules for m in ('maas_helpers.kit', 'maas_helpers.steps', "
                     "'pandas')))\n"
                     "print('namespace', sorted(k for k in globals() if 'maas' in k or k == 'pandas'))")]
    report = runner.execute_sequence(nbs, tmp_path / "out", {}, {}, target="sandbox", echo=lambda _: None)
    assert report.ok, report
    out = _stdout(tmp_path / "out" / "notebooks" / "00_n.ipynb")
    assert "loaded True" in out and "namespace []" in out, out
