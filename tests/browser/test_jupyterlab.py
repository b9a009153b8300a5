"""Issue 14 items 1, 5, 9: what a learner sees in a real JupyterLab (started on loopback, with --allow-root when
run as root, like `make lab`), driven by Playwright in Debian's chromium: notebooks 0, 4 and 11 run every cell
without an error, notebook 0's form is shown once and its Save writes the file, notebook 11's figures are <img>
elements of a real size. Screenshots go to build/screenshots/."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from maas_helpers.runner import NOTEBOOKS_DIR, run_notebooks

from harness.jupyterlab import jupyter_lab, make_lab_flag

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
VISIBLE = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # JupyterLab restores earlier tabs, hidden


@pytest.fixture(scope="module")
def lab(portal_sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The tutorial run headless once (so notebook 11 has traffic), then JupyterLab over a copy of notebooks 0, 4,
    11 whose `../.maas` is the sandbox's state dir, exactly as `make lab` lays it out."""
    home = tmp_path_factory.mktemp("lab")
    code = run_notebooks("sandbox", {}, portal_sandbox.state_dir, home / "build", echo=lambda _line: None)
    assert code == 0, "headless tutorial run failed"
    (home / ".maas").symlink_to(portal_sandbox.state_dir)
    notebooks = home / "notebooks"
    notebooks.mkdir()
    for name in ("00_configure", "04_products", "11_traffic_statistics"):
        shutil.copy(NOTEBOOKS_DIR / f"{name}.ipynb", notebooks)
    with jupyter_lab(home, notebooks, make_lab_flag(), env={"MAAS_CONFIG": str(notebooks / "maas-config.yaml")}) as url:
        yield url, notebooks


def _run_all(context: Any, url: str, name: str, timeout_s: float = 90) -> Any:
    """Open `name` in a page of its own, wait for its kernel, run every cell, return the page when all ran."""
    page = context.new_page()
    page.goto(url.format(name))
    page.wait_for_selector(f"{VISIBLE} .jp-Cell", timeout=30_000)
    page.wait_for_function("name => { const w = window.jupyterapp.shell.currentWidget;"
                           " return w && w.context && w.context.path.endsWith(name) && w.sessionContext &&"
                           " w.sessionContext.session &&"
                           " w.sessionContext.session.kernel && w.sessionContext.kernelDisplayStatus === 'idle'; }",
                           arg=name, timeout=60_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline = time.monotonic() + timeout_s
    time.sleep(1)
    while time.monotonic() < deadline:
        prompts = page.eval_on_selector_all(f"{VISIBLE} .jp-CodeCell .jp-InputPrompt",
                                            "els => els.map(e => e.textContent)")
        if prompts and all(p.strip() not in ("[*]:", "[ ]:", "") for p in prompts):
            return page
        time.sleep(0.5)
    page.screenshot(path=str(ROOT / "build" / "screenshots" / "lab-timeout.png"))
    raise AssertionError(f"cells still running after {timeout_s} s: {prompts}")


def _errors(page: Any) -> list[str]:
    return page.eval_on_selector_all(f"{VISIBLE} [data-mime-type='application/vnd.jupyter.error']",
                                     "els => els.map(e => e.innerText.slice(0, 400))")


def test_notebooks_0_4_11_in_jupyterlab(browser: Any, lab: tuple[str, Path], screenshots: Path) -> None:
    url, notebooks = lab
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = _run_all(context, url, "00_configure.ipynb")
        assert _errors(page) == []
        assert page.locator(".widget-html-content:has-text('Where the kit runs')").count() == 1
        # issue 29 item 7: with models=[] the sandbox's own models are listed, ticked, with their URL
        assert page.locator(".widget-html-content:has-text('3 found by discovery')").count() == 1
        names = page.eval_on_selector_all(f"{VISIBLE} .widget-vbox .widget-hbox .widget-text input",
                                          "els => els.map(e => e.value)")
        for model in ("markov-chat-small", "markov-code-small", "hash-embed-small"):
            assert model in names, names
        ticks = page.locator(f"{VISIBLE} .widget-checkbox input[type=checkbox]")
        assert ticks.count() == 3 and all(ticks.nth(i).is_checked() for i in range(3))
        org = page.locator(".widget-text:has(label:has-text('organisation')) input")
        org.fill("Saved From The Form")
        org.press("Tab")
        page.locator("button:has-text('Save')").click()
        page.wait_for_selector(".widget-html-content:has-text('saved to')", timeout=10_000)
        saved = notebooks / "maas-config.yaml"
        saved_values = yaml.safe_load(saved.read_text())
        assert saved_values["org_name"] == "Saved From The Form"
        assert [(m["name"], m["source"]) for m in saved_values["models"]] == [
            (n, "sandbox model server") for n in ("markov-chat-small", "markov-code-small", "hash-embed-small")]
        label = page.locator(".widget-text label:has-text('organisation')").first
        assert label.evaluate("e => e.scrollWidth <= e.clientWidth")  # the label is not cut ("organisati…")
        page.screenshot(path=str(screenshots / "lab-00-configure.png"), full_page=True)

        page.close()
        page = _run_all(context, url, "04_products.ipynb")
        assert _errors(page) == []
        assert page.locator("a:has-text('traffic analytics')").count() >= 3  # admin-portal links shown
        page.screenshot(path=str(screenshots / "lab-04-products.png"), full_page=True)

        page.close()
        page = _run_all(context, url, "11_traffic_statistics.ipynb")
        assert _errors(page) == []
        images = page.locator(f"{VISIBLE} .jp-RenderedImage img")
        assert images.count() == 3  # hits by method, tokens by application, cost by application
        for i in range(3):
            size = images.nth(i).evaluate("img => [img.naturalWidth, img.naturalHeight]")
            assert size[0] >= 600 and size[1] >= 300, size
        assert page.locator("text=<Figure size").count() == 0
        images.first.scroll_into_view_if_needed()
        page.wait_for_timeout(500)  # the windowed notebook paints cells scrolled into view a moment later
        page.screenshot(path=str(screenshots / "lab-11-traffic.png"), full_page=True)
        images.nth(2).scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        page.screenshot(path=str(screenshots / "lab-11-cost.png"), full_page=True)
    finally:
        context.close()
