"""The installed package works outside the repository: build the wheel, install it into a fresh venv in a
temporary directory, and run the whole tutorial from there with the wheel's `maas` against its own sandbox.

Offline and fast: the wheel is built without build isolation and installed with `--no-deps`; the fresh venv sees
the test venv's third-party packages through a `.pth` line (a plain path: the `.pth` files in there, such as
the kit's editable-install finder, are not processed), never the repository. What the run left is read the way
porta serves it: app/controllers/admin/api/cms/templates_controller.rb and files_controller.rb (portal content)
and app/controllers/admin/api/registry/policies_controller.rb (the llm-metrics policy's schema).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from maas_sandbox import control

from harness.admin import AdminHTTP
from harness.ports import find_free_base_port

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
SKIP = (".git", ".venv", "build", ".maas", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache",
        ".import_linter_cache", ".ipynb_checkpoints", "tests", "benchmarks", "docs")


def _run(args: list[str], env: dict[str, str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _admin(info: control.SandboxInfo, path: str) -> dict:
    resp = AdminHTTP(info).get(path, params={"per_page": 100})
    resp.raise_for_status()
    return resp.json()


ENV = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "MAAS_", "VIRTUAL_ENV"))}
ENV["PYTHONNOUSERSITE"] = "1"
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
PROBE = ("import json, sys, maas_helpers, maas_sandbox, maas_resources\n"
         "from maas_helpers.resources import resource_path\n"
         "from maas_sandbox.gateway.config import _llm_metrics_validator\n"
         "print(json.dumps({'files': [m.__file__ for m in (maas_helpers, maas_sandbox, maas_resources)],"
         " 'resources': [str(resource_path(n)) for n in maas_resources.RESOURCES], 'path': sys.path,"
         " 'validates': _llm_metrics_validator() is not None}))")


def _fresh_venv(venv: Path) -> tuple[Path, Path]:
    """A venv without the kit whose third-party packages are the test venv's: (python, its site-packages)."""
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], ENV, venv.parent, 60)
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], ENV,
                     venv.parent, 30).stdout.strip())
    shared = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "shared-third-party.pth").write_text("".join(f"{p}\n" for p in sorted(shared)))
    return python, site


def _probe(python: Path, cwd: Path) -> dict:
    """Where the fresh venv imports the kit and finds its resources from; the repository must not be on sys.path."""
    found = json.loads(_run([str(python), "-c", PROBE], ENV, cwd, 30).stdout)
    assert found["validates"], "the sandbox gateway did not find the llm-metrics manifest"
    assert not [p for p in found["path"] if p and Path(p).resolve() == REPO], "the repository is on sys.path"
    return found


def test_editable_install_finds_the_resources_in_its_checkout(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO, checkout, ignore=shutil.ignore_patterns(*SKIP))
    python, _ = _fresh_venv(tmp_path / "venv")
    _run([*PIP, "--python", str(python), "install", "--no-deps", "--no-build-isolation", "--no-index", "-e",
          str(checkout)], ENV, tmp_path, 120)
    (tmp_path / "work").mkdir()
    found = _probe(python, tmp_path / "work")
    assert [Path(f).parent.parent for f in found["files"]] == [checkout] * 3, found
    assert found["resources"] == [str(checkout / name) for name in ("portal", "policies", "manifests", "notebooks")]


def test_wheel_installed_outside_the_repository_runs_the_tutorial(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    src, dist, venv, work = tmp_path / "src", tmp_path / "dist", tmp_path / "venv", tmp_path / "work"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(*SKIP))  # a clean tree: no stale build/lib
    _run([*PIP, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(dist), str(src)], ENV,
         tmp_path, 120)
    wheel = next(dist.glob("maas_kit-*.whl"))
    python, site = _fresh_venv(venv)
    _run([*PIP, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)], ENV, tmp_path, 120)
    # Jupyter data a real install puts into the venv (nbconvert's templates…), and the venv's own kernel spec,
    # as `make install` registers it: the shared venv's spec would run the shared venv's Python.
    jupyter = venv / "share" / "jupyter"
    jupyter.mkdir(parents=True)
    for item in (Path(sys.prefix) / "share" / "jupyter").iterdir():
        if item.name != "kernels":
            (jupyter / item.name).symlink_to(item)
    _run([str(python), "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"], ENV, tmp_path, 60)
    kernel = json.loads((jupyter / "kernels" / "python3" / "kernel.json").read_text())
    assert Path(kernel["argv"][0]) == python, kernel
    shutil.rmtree(src)  # nothing of the source tree is left to fall back on

    work.mkdir()
    found = _probe(python, work)
    assert all(Path(f).is_relative_to(site) for f in found["files"] + found["resources"]), found

    state, out = work / "state", work / "build"
    maas = str(venv / "bin" / "maas")
    try:
        _run([maas, "sandbox", "up", "--state-dir", str(state), "--port", str(find_free_base_port())], ENV, work, 90)
        ran = _run([maas, "run", "--state-dir", str(state), "--out-dir", str(out)], ENV, work, 240)
        notebooks = sorted((REPO / "notebooks").glob("[0-9]*.ipynb"))  # the tutorial as shipped, not a fixed count
        assert f"all {len(notebooks)} notebooks ran in" in ran.stdout, ran.stdout[-3000:]
        report = json.loads((out / "run.json").read_text())
        assert [n["status"] for n in report["notebooks"]] == ["ok"] * len(notebooks)

        info = control.running(state)
        assert info is not None, "the wheel's sandbox is not running"
        registry = _admin(info, "/admin/api/registry/policies/llm-metrics-1.0.0.json")["policy"]
        manifest = json.loads((REPO / "policies/llm-metrics/1.0.0/apicast-policy.json").read_text())
        assert registry["schema"] == manifest, "the registry does not hold the shipped llm-metrics manifest"

        templates = _admin(info, "/admin/api/cms/templates.json?content=true")["collection"]
        homepage = next(t for t in templates if t.get("system_name") == "homepage")
        assert homepage["published"] == (REPO / "portal/pages/homepage.html.liquid").read_text()
        files = {f["path"] for f in _admin(info, "/admin/api/cms/files.json")["collection"]}
        assert {"/css/maas.css", "/javascripts/maas.js", "/images/maas-logo.svg"} <= files
    finally:
        subprocess.run([maas, "sandbox", "down", "--state-dir", str(state)], env=ENV, cwd=work,
                       capture_output=True, timeout=60)
    print(f"wheel test: {time.perf_counter() - t0:.1f} s")  # the figure to keep under ~90 s
