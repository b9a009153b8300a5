"""Security tests share one private sandbox (temporary state dir, free loopback ports below the ephemeral
range) from the shared harness, and the check scripts in benchmarks/ (the long versions of these checks)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

from maas_sandbox.control import SandboxInfo  # noqa: E402

from harness.sandbox import running  # noqa: E402


@pytest.fixture(scope="package")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    with running(tmp_path_factory.mktemp("security") / "state") as info:
        yield info
