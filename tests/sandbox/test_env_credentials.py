"""Issue 14 item 12: after the README's `eval "$(maas sandbox env)"` the kit must keep the master token and the
portal URL (it used to take MAAS_ADMIN_URL/TOKEN alone and then failed in notebooks 2 and 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from maas_helpers.kit import Kit
from maas_sandbox.control import SandboxInfo


def _kit(state_dir: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Kit:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    kit = Kit.configure(target="sandbox", state_dir=str(state_dir))
    path = kit.save(state_dir.parent / "env-test-config.yaml")
    return Kit.load(path)  # load_settings reads MAAS_ADMIN_URL/TOKEN from the environment, like a notebook


def test_exported_sandbox_env_keeps_master_token_and_portal(sandbox: SandboxInfo, monkeypatch) -> None:
    kit = _kit(Path(sandbox.state_dir), sandbox.env(), monkeypatch)
    assert kit.settings.admin_url == sandbox.admin_url  # the environment was read
    creds = kit.credentials
    assert creds.master_token is not None and creds.master_token.get_secret_value() == sandbox.master_token
    assert creds.portal_url == sandbox.portal_url
    assert kit.links()["developer portal"] == sandbox.portal_url


def test_env_for_a_sandbox_elsewhere_is_completed_from_the_env(sandbox: SandboxInfo, tmp_path: Path,
                                                               monkeypatch) -> None:
    """State dir without a running sandbox: the exported master/portal values complete the admin pair."""
    kit = _kit(tmp_path / "state", sandbox.env(), monkeypatch)
    creds = kit.credentials
    assert creds.admin_url == sandbox.admin_url and creds.portal_url == sandbox.portal_url
    assert creds.master_url == sandbox.master_url and creds.master_token is not None
    assert not (tmp_path / "state").exists() or not list((tmp_path / "state").glob("*.pid"))  # none started


ROOT = Path(__file__).resolve().parents[2]


def test_sandbox_up_names_the_real_maas_and_keeps_lines_whole(sandbox: SandboxInfo) -> None:
    """Issue 14 item 9: `make lab` printed `maas …` (not on PATH) and rich broke the line mid-word."""
    import os
    import subprocess

    env = {**os.environ, "COLUMNS": "40", "PATH": "/usr/bin:/bin"}  # a narrow terminal, venv not on PATH
    proc = subprocess.run([".venv/bin/maas", "sandbox", "up", "--state-dir", str(sandbox.state_dir)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert 'run  eval "$(.venv/bin/maas sandbox env)"  to export the URLs and tokens' in lines
    assert any(line.startswith("sandbox up: admin ") and sandbox.portal_url in line for line in lines)


def test_make_lab_allows_root_and_binds_loopback() -> None:
    import os
    import subprocess

    proc = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    lab = next(line for line in proc.stdout.splitlines() if "jupyter lab" in line)
    assert "--ip 127.0.0.1" in lab
    assert ("--allow-root" in lab) == (os.geteuid() == 0)
