"""Issue 29 item 11: notebooks opened in JupyterLab were marked modified before anyone typed. The cause: on
kernel start JupyterLab writes the kernel's full `language_info` into the notebook's metadata, while the
committed notebooks carry only its `name` (the filter strips the rest). `make lab` serves notebooks through
maas_helpers.lab.KernelLanguageContents; JupyterLab (Playwright, Debian's chromium) then reports them clean.
The same server without that contents manager shows the check can fail."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from maas_helpers.runner import NOTEBOOKS_DIR

from harness.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
NOTEBOOKS = ("03_backends.ipynb", "99_teardown.ipynb")


def _make_lab_flag() -> str:
    """The contents-manager option exactly as the Makefile's `lab` target passes it."""
    found = re.search(r"--ServerApp\.contents_manager_class=\S+", (ROOT / "Makefile").read_text())
    assert found, "make lab does not set the contents manager"
    return found.group(0)


@contextmanager
def _lab(root: Path, *extra: str) -> Iterator[str]:
    token, port = secrets.token_hex(16), free_port()
    allow_root = ["--allow-root"] if os.geteuid() == 0 else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")}
    env.update({"PYTHONPATH": str(ROOT), "JUPYTER_CONFIG_DIR": str(root / "cfg"),
                "JUPYTER_RUNTIME_DIR": str(root / "runtime")})
    log = root / "lab.log"
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("jupyter-lab")), "--ip", "127.0.0.1", "--port", str(port), "--no-browser",
         f"--IdentityProvider.token={token}", "--ServerApp.root_dir", str(root / "notebooks"),
         "--LabApp.expose_app_in_browser=True", *allow_root, *extra],
        env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w"))  # noqa: SIM115
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-2000:]
            try:
                if requests.get(f"{base}/api/status", params={"token": token}, timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        yield f"{base}/lab/tree/{{}}?reset&token={token}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


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
    with _lab(lab_root, _make_lab_flag()) as url:
        for name in NOTEBOOKS:
            shot = screenshots / f"lab-open-{name.removesuffix('.ipynb')}.png"
            assert not _dirty_after_kernel_start(browser, url, name, shot), f"{name} opens modified"
    with _lab(lab_root) as url:  # jupyter_server's default contents manager: the kernel's update dirties it
        assert _dirty_after_kernel_start(browser, url, NOTEBOOKS[0])
