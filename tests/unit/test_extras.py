"""Core install vs the `[sandbox]` extra (pyproject.toml): the helpers and the sandbox's start/stop adapter import
without the sandbox's server stack; any server module then fails with one line naming the extra to install."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from maas_sandbox.extra import INSTALL_HINT, SERVER_STACK

REPO = Path(__file__).resolve().parents[2]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter where every module of the sandbox's server stack is absent."""
    blocked = f"import sys\nfor name in {sorted(SERVER_STACK)!r}: sys.modules[name] = None\n"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", blocked + code], capture_output=True, text=True, env=env,
                          timeout=60, cwd=REPO)


def test_helpers_and_the_sandbox_adapter_import_without_the_sandbox_extra() -> None:
    done = _python("import maas_helpers.cli, maas_helpers.kit, maas_helpers.platform.sandbox, maas_sandbox.control\n"
                   "print('ok')")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_each_server_module_names_the_extra_when_it_is_missing() -> None:
    for module in ("maas_sandbox.server", "maas_sandbox.admin.app", "maas_sandbox.gateway.server",
                   "maas_sandbox.portal", "maas_sandbox.sso", "maas_sandbox.models", "maas_sandbox.backend"):
        done = _python(f"import {module}")
        assert done.returncode != 0, module
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("ModuleNotFoundError: the local 3scale sandbox needs the [sandbox] extra"), last
        assert "fastapi" in last and INSTALL_HINT in last


def test_extra_lists_what_pyproject_declares() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extra = project["optional-dependencies"]["sandbox"]
    declared = {d.split(";")[0].split(">")[0].split("=")[0].strip() for d in extra}
    assert set(SERVER_STACK.values()) <= declared
    core = " ".join(project["dependencies"])
    assert not any(dist.split("[")[0] in core for dist in SERVER_STACK.values()), "server stack is back in core"
    assert "maas-kit[sandbox,notebooks]" in project["optional-dependencies"]["dev"]


def test_sandbox_up_without_the_extra_says_so_before_writing_anything(tmp_path: Path) -> None:
    state = tmp_path / "state"
    done = _python("from maas_sandbox import control\n"
                   f"try:\n    control.up({str(state)!r})\n"
                   "except control.SandboxError as exc:\n    print(exc)\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("the local 3scale sandbox needs the [sandbox] extra"), done.stdout
    assert INSTALL_HINT in done.stdout and not state.exists()
