"""The shared pytest fixtures (registered by tests/conftest.py through `pytest_plugins`).

A real sandbox process per test session in a temporary state dir on free ports; tests never touch the
developer's `.maas/`. Tests needing a pristine tenant or a restart use `fresh_sandbox` (function scope) or
`start_sandbox` instead of the shared `sandbox`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from maas_sandbox import control
from maas_sandbox.control import SandboxInfo

from harness.admin import AdminHTTP
from harness.sandbox import running, start

SHARED = Path(__file__).resolve().parents[3] / "shared"
REFERENCE_DATA = SHARED / "reference" / "data"


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    with running(tmp_path_factory.mktemp("sandbox") / "state") as info:
        yield info


@pytest.fixture
def fresh_sandbox(tmp_path: Path) -> Iterator[SandboxInfo]:
    with running(tmp_path / "state") as info:
        yield info


@pytest.fixture
def start_sandbox(tmp_path: Path) -> Iterator[Callable[..., SandboxInfo]]:
    """Factory for tests that stop and restart a sandbox on the same state dir."""
    started: list[Path] = []

    def start_one(state_dir: Path | None = None, port: int | None = None) -> SandboxInfo:
        info = start(state_dir or tmp_path / "state", port)
        started.append(info.state_dir)
        return info

    yield start_one
    for path in started:
        control.down(path)


@pytest.fixture(scope="session")
def admin_http(sandbox: SandboxInfo) -> AdminHTTP:
    return AdminHTTP(sandbox)


@pytest.fixture(scope="session")
def threescale(sandbox: SandboxInfo) -> Any:
    """The real `3scale-api` client (threescale_api) pointed at the sandbox."""
    from threescale_api import ThreeScaleClient

    return ThreeScaleClient(url=sandbox.admin_url, token=sandbox.admin_token, ssl_verify=False)


@pytest.fixture
def reference_data() -> Path:
    if not REFERENCE_DATA.is_dir():
        pytest.skip(f"upstream contract data not found at {REFERENCE_DATA}")
    return REFERENCE_DATA
