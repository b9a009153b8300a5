"""Issue 29 item 11: notebooks opened in JupyterLab were marked modified before anyone typed. The cause: on
kernel start JupyterLab writes the kernel's full `language_info` into the notebook's metadata, while the
committed notebooks carry only its `name` (the filter strips the rest). `make lab` serves notebooks through
maas_helpers.lab.KernelLanguageContents; JupyterLab (Playwright, Debian's chromium) then reports them clean.
The same server without that contents manager shows the check can fail."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from maas_helpers.runner import NOTEBOOKS_DIR

from harness.jupyterlab import jupyter_lab, make_lab_flag

pytestmark = pytest.mark.slow
NOTEBOOKS = ("03_backends.ipynb", "99_teardown.ipynb")


def _dirty_after_kernel_start(browser: Any, url: str, name: str, shot: Path | None = None) -> bool:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(url.format(name))
        page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell", timeout=60_000)
        page.wait_for_function("name => { const w = window.jupyterapp.shell.currentWidget;"
                               " return w && w.context && w.context.path.endsWith(name) && w.sessionContext &&"
                               " w.sessionContext.session && w.sessionContext.session.kernel &&"
                               " w.sessionContext.kernelDisplayStatus === 'idle'; }", arg=name, timeout=90_000)
        page.wait_for_timeout(1500)  # the kernel_info reply's metadata update lands after idle
        if shot is not None:
            page.screenshot(path=str(shot))
        return bool(page.evaluate("() => window.jupyterapp.shell.currentWidget.context.model.dirty"))
    finally:
        context.close()


@pytest.fixture
def lab_root(tmp_path: Path) -> Path:
    (tmp_path / "notebooks").mkdir()
    for name in NOTEBOOKS:
        shutil.copy(NOTEBOOKS_DIR / name, tmp_path / "notebooks")
    return tmp_path


def test_notebooks_open_unmodified_in_make_labs_jupyterlab(browser: Any, lab_root: Path, screenshots: Path) -> None:
    with jupyter_lab(lab_root, lab_root / "notebooks", make_lab_flag()) as url:
        for name in NOTEBOOKS:
            shot = screenshots / f"lab-open-{name.removesuffix('.ipynb')}.png"
            assert not _dirty_after_kernel_start(browser, url, name, shot), f"{name} opens modified"
    # jupyter_server's default contents manager: the kernel's update dirties the notebook
    with jupyter_lab(lab_root, lab_root / "notebooks") as url:
        assert _dirty_after_kernel_start(browser, url, NOTEBOOKS[0])
