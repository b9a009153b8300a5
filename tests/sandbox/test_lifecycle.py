"""The sandbox process lifecycle: up/health/status/down, tokens kept private, state survives restarts."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import requests

from maas_sandbox import control


def test_up_status_down_and_restart_keeps_tokens(start_sandbox, tmp_path: Path) -> None:
    info = start_sandbox()
    assert requests.get(info.admin_url + "/sandbox/health", timeout=5).json()["status"] == "ok"
    creds = info.state_dir / "credentials.json"
    assert stat.S_IMODE(os.stat(creds).st_mode) == 0o600
    assert info.admin_token not in repr(info)
    st = control.status(info.state_dir)
    assert st["running"] is True and st["pid"] == info.pid
    # `up` again reuses the running sandbox instead of starting a second one
    assert control.up(info.state_dir).pid == info.pid
    assert control.down(info.state_dir) is True
    assert control.status(info.state_dir)["running"] is False
    again = start_sandbox(info.state_dir, port=int(info.admin_url.rsplit(":", 1)[1]))
    assert again.admin_token == info.admin_token and again.pid != info.pid


def test_listeners_bind_loopback_only(sandbox) -> None:
    port = int(sandbox.admin_url.rsplit(":", 1)[1])
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=False).stdout
    mine = [line for line in out.splitlines() if f":{port} " in line]
    assert mine, out
    assert all("127.0.0.1:" in line for line in mine)


def test_wrong_port_for_existing_state_is_one_clear_line(start_sandbox) -> None:
    info = start_sandbox()
    control.down(info.state_dir)
    try:
        control.up(info.state_dir, 1234)
    except control.SandboxError as exc:
        assert "was created with --port" in str(exc) and "\n" not in str(exc)
    else:
        raise AssertionError("expected SandboxError")


def test_env_prints_exports_and_only_env_prints_tokens(sandbox) -> None:
    cli = [sys.executable, "-m", "maas_helpers.cli", "sandbox"]
    env_out = subprocess.run(
        [*cli, "env", "--state-dir", str(sandbox.state_dir)], capture_output=True, text=True, check=True
    ).stdout
    assert f"export MAAS_ADMIN_URL={sandbox.admin_url}" in env_out
    assert sandbox.admin_token in env_out and "MAAS_MASTER_TOKEN" in env_out
    status_out = subprocess.run(
        [*cli, "status", "--state-dir", str(sandbox.state_dir)], capture_output=True, text=True, check=True
    ).stdout
    assert sandbox.admin_token not in status_out and "running" in status_out


def test_clock_endpoint_requires_master_token(sandbox, admin_http) -> None:
    assert admin_http.get("/sandbox/api/clock.json", token=None).status_code == 403
    assert admin_http.get("/sandbox/api/clock.json", token="admin").status_code == 403
    before = admin_http.get("/sandbox/api/clock.json", token="master").json()["clock"]["time"]
    moved = admin_http.set_clock(advance=3600)
    assert moved["time"] - before >= 3599
    admin_http.reset_clock()
