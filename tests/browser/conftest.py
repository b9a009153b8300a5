"""Browser test fixtures: a sandbox of their own with the portal content, a model product and SSO set up
through the Admin API, and Debian's chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.admin import AdminHTTP
from harness.sandbox import running

_spec = importlib.util.spec_from_file_location("portal_setup", Path(__file__).with_name("portal_setup.py"))
portal_setup = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
sys.modules.setdefault("portal_setup", portal_setup)
_spec.loader.exec_module(portal_setup)  # type: ignore[union-attr]

CHROMIUM = os.environ.get("PLAYWRIGHT_CHROMIUM_EXECUTABLE", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


@pytest.fixture(scope="module")
def portal_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running(tmp_path_factory.mktemp("portal") / "state") as info:
        yield info


@pytest.fixture(scope="module")
def portal(portal_sandbox: Any) -> Any:
    return portal_setup.setup_portal(portal_sandbox, AdminHTTP(portal_sandbox))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"chromium not found at {CHROMIUM} (apt-get install chromium, or set PLAYWRIGHT_CHROMIUM_EXECUTABLE)"
        )
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as pw:
        instance = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
