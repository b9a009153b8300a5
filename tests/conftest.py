"""Shared fixtures: a real sandbox process per test session (temporary state dir, free ports).

Tests never touch the developer's `.maas/`. Tests needing a pristine tenant or a restart use
`fresh_sandbox` (function scope) instead of the shared `sandbox`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from maas_sandbox import control
from maas_sandbox.control import SandboxInfo
from maas_sandbox.layout import find_free_base_port

SHARED = Path(__file__).resolve().parents[2] / "shared"
REFERENCE_DATA = SHARED / "reference" / "data"


class AdminHTTP:
    """Plain HTTP access to the sandbox Admin API, token in the query as the 3scale-api client sends it."""

    def __init__(self, info: SandboxInfo) -> None:
        self.info = info
        self.base = info.admin_url
        self.session = requests.Session()

    def request(self, method: str, path: str, token: str | None = "admin", **kwargs: Any) -> requests.Response:
        params = dict(kwargs.pop("params", {}) or {})
        if token == "admin":
            params["access_token"] = self.info.admin_token
        elif token == "master":
            params["access_token"] = self.info.master_token
        elif token is not None:
            params["access_token"] = token
        return self.session.request(method, self.base + path, params=params, timeout=30, **kwargs)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> requests.Response:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.request("DELETE", path, **kw)

    def set_clock(self, now: str | None = None, *, advance: float | None = None, freeze: bool = False) -> Any:
        body: dict[str, Any] = {"freeze": freeze}
        if now is not None:
            body["now"] = now
        if advance is not None:
            body["advance"] = advance
        resp = self.put("/sandbox/api/clock.json", token="master", json=body)
        resp.raise_for_status()
        return resp.json()["clock"]

    def reset_clock(self) -> None:
        self.put("/sandbox/api/clock.json", token="master", json={"reset": True}).raise_for_status()


def _start(tmp: Path) -> SandboxInfo:
    return control.up(tmp / "state", find_free_base_port(), test_clock=True, timeout=60)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    info = _start(tmp_path_factory.mktemp("sandbox"))
    try:
        yield info
    finally:
        control.down(info.state_dir)


@pytest.fixture
def fresh_sandbox(tmp_path: Path) -> Iterator[SandboxInfo]:
    info = _start(tmp_path)
    try:
        yield info
    finally:
        control.down(info.state_dir)


@pytest.fixture
def start_sandbox(tmp_path: Path) -> Iterator[Callable[..., SandboxInfo]]:
    """Factory for tests that stop and restart a sandbox on the same state dir."""
    started: list[Path] = []

    def start(state_dir: Path | None = None, port: int | None = None) -> SandboxInfo:
        target = state_dir or tmp_path / "state"
        info = control.up(target, port if port is not None else find_free_base_port(), test_clock=True, timeout=60)
        started.append(info.state_dir)
        return info

    yield start
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


def unique(prefix: str) -> str:
    return f"{prefix}-{random.randrange(16**8):08x}"


@pytest.fixture
def reference_data() -> Path:
    if not REFERENCE_DATA.is_dir():
        pytest.skip(f"upstream contract data not found at {REFERENCE_DATA}")
    return REFERENCE_DATA
