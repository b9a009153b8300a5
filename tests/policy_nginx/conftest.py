"""Fixtures for the real-nginx llm-metrics tests: fake upstream + 3scale backend, and nginx itself."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest


def _load_harness() -> ModuleType:
    path = Path(__file__).resolve().parent / "nginx_harness.py"
    spec = importlib.util.spec_from_file_location("llm_nginx_harness", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


harness = _load_harness()


@pytest.fixture(scope="module")
def nginx_harness() -> ModuleType:
    reason = harness.missing()
    if reason:
        pytest.skip(reason)
    return harness


@pytest.fixture(scope="module")
def fake_servers(nginx_harness: ModuleType) -> Iterator[object]:
    servers = nginx_harness.FakeServers().start()
    yield servers
    servers.stop()


@pytest.fixture(scope="module")
def nginx(nginx_harness: ModuleType, fake_servers: object) -> Iterator[object]:
    server = nginx_harness.Nginx(fake_servers).start()
    yield server
    server.stop()
