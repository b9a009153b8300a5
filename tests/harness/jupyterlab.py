"""A real JupyterLab for the browser tests, started as `make lab` starts it: loopback only, a free port, a token,
`--allow-root` when run as root, its config and runtime folders under the test's own directory."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests

from harness.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def make_lab_flag() -> str:
    """The contents-manager option exactly as the Makefile's `lab` target passes it."""
    found = re.search(r"--ServerApp\.contents_manager_class=\S+", (ROOT / "Makefile").read_text())
    assert found, "make lab does not set the contents manager"
    return found.group(0)


@contextmanager
def jupyter_lab(home: Path, root_dir: Path, *extra: str, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """JupyterLab serving `root_dir` (run from `home`, its log in `home/lab.log`), stopped however the block
    ends; yields the URL of a notebook with `{}` for its name. The kit's MAAS_* variables are not passed on."""
    token, port = secrets.token_hex(16), free_port()
    allow_root = ["--allow-root"] if os.geteuid() == 0 else []
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")}
    child_env.update({"PYTHONPATH": str(ROOT), "JUPYTER_CONFIG_DIR": str(home / "jupyter-config"),
                      "JUPYTER_RUNTIME_DIR": str(home / "runtime"), **(env or {})})
    log = home / "lab.log"
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("jupyter-lab")), "--ip", "127.0.0.1", "--port", str(port), "--no-browser",
         f"--IdentityProvider.token={token}", "--ServerApp.root_dir", str(root_dir),
         "--LabApp.expose_app_in_browser=True", *allow_root, *extra],
        cwd=home, env=child_env, stdout=subprocess.DEVNULL, stderr=open(log, "w"))  # noqa: SIM115
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-2000:]
            try:
                if requests.get(f"{base}/api/status", params={"token": token}, timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        yield f"{base}/lab/tree/{{}}?reset&token={token}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
