"""One sandbox and one headless tutorial run shared by the notebook tests (temporary state dir, free ports)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from maas_sandbox.control import SandboxInfo

from harness.sandbox import running


@dataclass
class TutorialRun:
    sandbox: SandboxInfo
    state_dir: Path
    out_dir: Path
    exit_code: int
    lines: list[str]
    previous: TutorialRun | None = None


@pytest.fixture(scope="session")
def tutorial_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    with running(tmp_path_factory.mktemp("tutorial") / "state", test_clock=False) as info:
        yield info


def run_tutorial(sandbox: SandboxInfo, out_dir: Path, previous: TutorialRun | None = None) -> TutorialRun:
    from maas_helpers.runner import run_notebooks

    lines: list[str] = []
    # notebook 12 keeps its room (handout = the only copy of the temporary passwords) in one folder across both
    # runs, as a trainer does with `-p out_dir=…`; without it each run's room folder is under its own out_dir
    room = Path(sandbox.state_dir).parent / "workshop-room"
    code = run_notebooks("sandbox", {"out_dir": str(room)}, sandbox.state_dir, out_dir, echo=lines.append)
    return TutorialRun(sandbox, sandbox.state_dir, out_dir, code, lines, previous)


@pytest.fixture(scope="session")
def first_run(tutorial_sandbox: SandboxInfo, tmp_path_factory: pytest.TempPathFactory) -> TutorialRun:
    return run_tutorial(tutorial_sandbox, tmp_path_factory.mktemp("build-1"))


@pytest.fixture(scope="session")
def second_run(first_run: TutorialRun, tmp_path_factory: pytest.TempPathFactory) -> TutorialRun:
    assert first_run.exit_code == 0, first_run.lines
    return run_tutorial(first_run.sandbox, tmp_path_factory.mktemp("build-2"), previous=first_run)
