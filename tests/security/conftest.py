"""Security tests share one private sandbox (temporary state dir, free loopback ports below the ephemeral
range) and the harness in benchmarks/ (the long versions of these checks live there)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

import loopback as lb  # noqa: E402

from maas_sandbox import control  # noqa: E402
from maas_sandbox.control import SandboxInfo  # noqa: E402


@pytest.fixture(scope="package")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    info = lb.start_sandbox(tmp_path_factory.mktemp("security") / "state")
    try:
        yield info
    finally:
        control.down(info.state_dir)
