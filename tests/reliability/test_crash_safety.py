"""Crash safety (issue 8): `kill -9` under load, restart on the same state dir: configuration 100 % intact,
usage lost at most 1 s of the traffic. The long run is `python benchmarks/crash_safety.py --rounds 3`."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import crash_safety as cs

from maas_sandbox import control

from harness import loopback as lb
from harness.sandbox import restart


def test_kill_9_under_load_keeps_config_and_loses_under_a_second_of_usage(tmp_path: Path) -> None:
    [result] = cs.run(tmp_path / "state", rounds=1, load_seconds=1.5, clients=32)
    print(result.line())
    assert result.answered_ok > 1000, "too little traffic before the kill to measure anything"
    assert result.config_objects >= 40
    assert result.config_diff == [], f"configuration changed across the crash: {result.config_diff}"
    assert result.recorded <= result.answered_ok + 32  # at most the requests in flight when it died
    assert result.lost_seconds <= 1.0, result.line()


def test_restart_after_kill_9_of_the_sandbox_process_leaves_no_orphan(tmp_path: Path) -> None:
    state = tmp_path / "state"
    info = lb.start_sandbox(state)
    old_models = (control.resolve_state_dir(state).read_runtime() or {})["models_pid"]
    try:
        os.kill(info.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and control._alive(info.pid):
            time.sleep(0.02)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(info.pid, os.WNOHANG)
        restart(state)
        time.sleep(1.0)  # give a failing model server time to exit; nothing periodic is waited for
        runtime = control.resolve_state_dir(state).read_runtime() or {}
        assert not control._alive(old_models), "the killed sandbox's model server is still running"
        assert control._alive(runtime["models_pid"]), "the restarted sandbox's model server is not running"
    finally:
        control.down(state)
        with contextlib.suppress(ProcessLookupError):
            os.kill(old_models, signal.SIGTERM)
