"""Headless tutorial runs (`maas run`, `make run`): every notebook in order with papermill, rendered to HTML.

The run writes into `out_dir`:
- `notebooks/NN_name.ipynb` (executed, with outputs) and `notebooks/NN_name.html` (nbconvert),
- `index.html` linking each executed notebook with its status and duration,
- `run.json` with the same facts for scripts and tests,
- `maas-config.yaml`, the settings notebook 0 saved for this run (never the developer's own file).

It stops at the first failing notebook and names the notebook, the cell and the error (once). A failed run's
notebooks, index and run.json go to `out_dir/failed/` instead: `index.html` is always the last good run's.
Before the first kernel, `-p` parameters are checked (`run_params`) and, for OpenShift, the credentials
(`preflight`): one line each, nothing changed.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from maas_helpers.resources import resource_path

NOTEBOOKS_DIR = resource_path("notebooks")
_NUMBERED = re.compile(r"^(\d{2})_[a-z0-9_]+\.ipynb$")
CONFIG_FILE = "maas-config.yaml"


def _ipc_kernel_manager() -> type:
    """Kernels talk over local IPC sockets: no TCP ports opened, no plain-text-TCP warning from ipykernel.

    Shutdown sends no SIGINT. jupyter_client's `shutdown_kernel` interrupts the kernel before asking it to stop
    (manager.py, `_async_shutdown_kernel`); papermill shuts down only once the last cell replied, so the
    interrupt could only land while ipykernel still finishes that reply inside its shell handler, where it is
    logged as "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel." (kernelbase.py, `dispatch_shell`)
    in the middle of a successful run. The shutdown request alone stops an idle kernel; a kernel that does not
    stop is killed after the manager's shutdown wait as before."""
    from jupyter_client.manager import KernelManager

    class IpcKernelManager(KernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport", "ipc")
            super().__init__(**kwargs)
            # the socket paths derive from the connection file; without one they are "kernel-ipc-N" in the cwd,
            # picked by which files exist yet: two kernels starting at once (the next one is pre-started) could
            # pick the same paths
            # (jupyter_client removes the connection file and the sockets when the kernel is cleaned up)
            if not self.connection_file:
                self.connection_file = os.path.join(_kernel_dir(), f"kernel-{uuid.uuid4()}.json")
                self.ip = os.path.splitext(self.connection_file)[0] + "-ipc"

        async def _async_interrupt_kernel(self) -> None:
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

    return IpcKernelManager


def _kernel_dir() -> str:
    """A private folder for the kernels' connection files and sockets, short enough for socket paths."""
    path = Path(tempfile.gettempdir()) / f"maas-kernels-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    if path.is_symlink() or path.stat().st_uid != os.getuid() or path.stat().st_mode & 0o077:
        raise RuntimeError(f"{path} must be a folder only you can use (remove it and run again)")
    return str(path)


@dataclass
class NotebookRun:
    """What happened to one notebook in a run."""

    name: str
    status: str = "not run"  # "ok" | "failed" | "not run"
    seconds: float = 0.0
    html: str | None = None  # path relative to out_dir
    ipynb: str | None = None
    cell: int | None = None  # 1-based index of the failing code cell (as the learner counts them)
    error: str | None = None


@dataclass
class RunReport:
    target: str
    notebooks: list[NotebookRun] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(n.status == "ok" for n in self.notebooks)

    @property
    def failure(self) -> NotebookRun | None:
        return next((n for n in self.notebooks if n.status == "failed"), None)


HEADLESS_ENV = "MAAS_HEADLESS"


def list_notebooks(notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The tutorial notebooks (`NN_name.ipynb`) in numeric order."""
    found = [p for p in notebooks_dir.iterdir() if _NUMBERED.match(p.name)]
    return sorted(found, key=lambda p: (int(p.name[:2]), p.name))


def parse_params(pairs: Iterable[str]) -> dict[str, str]:
    """`key=value` strings → {key: raw value}; values are typed per parameter by `run_params.check_params`."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ValueError(f"parameter {pair!r}: expected key=value with a Python identifier as key")
        out[key] = raw
    return out


def _parameter_names(path: Path) -> set[str]:
    import papermill

    return set(papermill.inspect_notebook(str(path)).keys())


def _failed_cell(nb_path: Path) -> tuple[int | None, str | None]:
    """1-based index (among code cells, injected parameters excluded) and error of the cell that raised."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    code_cells = [
        c for c in nb.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])
    ]
    for number, cell in enumerate(code_cells, start=1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                first = (str(output.get("evalue") or "").strip().splitlines() or [""])[0]
                return number, f"{output.get('ename')}: {first[:300]}"
    return None, None


def _render_html(exporter: Any, executed: Path) -> Path:
    body, _ = exporter.from_filename(str(executed))
    target = executed.with_suffix(".html")
    target.write_text(body, encoding="utf-8")
    return target


def write_index(report: RunReport, out_dir: Path) -> Path:
    """`index.html`: one row per notebook with a link to its rendered HTML, status and duration."""
    rows = []
    for nb in report.notebooks:
        name = html.escape(nb.name)
        link = f'<a href="{html.escape(nb.html)}">{name}</a>' if nb.html else name
        detail = ""
        if nb.status == "failed":
            detail = html.escape(f"cell {nb.cell}: {nb.error}" if nb.cell else str(nb.error))
        rows.append(
            f'<tr class="{nb.status.replace(" ", "-")}"><td>{link}</td><td>{html.escape(nb.status)}</td>'
            f"<td>{nb.seconds:.1f} s</td><td>{detail}</td></tr>"
        )
    verdict = "all notebooks ran" if report.ok else "stopped at the first failing notebook"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MaaS tutorial run ({html.escape(report.target)})</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .8em;text-align:left}}.ok td:nth-child(2){{color:#080}}
.failed td:nth-child(2){{color:#b00;font-weight:bold}}.not-run{{color:#888}}</style></head>
<body><h1>Model as a Service tutorial — headless run</h1>
<p>Target: <strong>{html.escape(report.target)}</strong> · total {report.seconds:.1f} s · {verdict}</p>
<table><thead><tr><th>notebook</th><th>status</th><th>duration</th><th>error</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table></body></html>
"""
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    (out_dir / "run.json").write_text(
        json.dumps({"target": report.target, "seconds": round(report.seconds, 2), "ok": report.ok,
                    "notebooks": [asdict(n) for n in report.notebooks]}, indent=2),
        encoding="utf-8",
    )
    return path


def execute_sequence(
    notebooks: list[Path],
    out_dir: Path,
    first_params: Mapping[str, Any],
    shared_params: Mapping[str, Any],
    *,
    target: str,
    echo: Callable[[str], None] = print,
    env: Mapping[str, str] | None = None,
) -> RunReport:
    """Run `notebooks` in order; notebook 0 gets `first_params`, each later one the `shared_params` it declares."""
    import papermill
    from nbconvert import HTMLExporter

    nb_out = out_dir / "notebooks"
    nb_out.mkdir(parents=True, exist_ok=True)
    report = RunReport(target=target, notebooks=[NotebookRun(p.stem) for p in notebooks])
    exporter = HTMLExporter()  # one exporter: its templates load once
    saved_env = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})  # kernels inherit the runner's environment
    started = time.perf_counter()
    manager_class = _ipc_kernel_manager()
    # Each notebook gets its own fresh kernel, but the next one is launched while the current notebook runs:
    # its interpreter start overlaps the work instead of following it (papermill passes `km` to nbclient,
    # which uses a started kernel as it is and leaves its shutdown to us).
    upcoming: Any = _start_kernel(manager_class, notebooks[0]) if notebooks else None
    # What follows a notebook — stopping its kernel (~0.5 s of waiting for the process to exit) and its HTML
    # page — is done by one background worker while the next notebook runs; the run waits for it at the end.
    after = ThreadPoolExecutor(max_workers=1, thread_name_prefix="maas-run-after")
    pending: list[Future[Any]] = []
    pages: list[tuple[NotebookRun, Future[Path]]] = []
    try:
        for index, (path, run) in enumerate(zip(notebooks, report.notebooks, strict=True)):
            declared = _parameter_names(path)
            given = dict(first_params) if index == 0 else {}
            given.update({k: v for k, v in shared_params.items() if k in declared})
            executed = nb_out / path.name
            t0 = time.perf_counter()
            km, upcoming = upcoming, None
            try:
                if index + 1 < len(notebooks):
                    upcoming = _start_kernel(manager_class, notebooks[index + 1])
            except BaseException:
                _stop_kernel(km)
                raise
            try:
                papermill.execute_notebook(
                    str(path), str(executed), parameters=given, cwd=str(path.parent),
                    progress_bar=False, kernel_name="python3", km=km,
                )
                run.status = "ok"
            except Exception as exc:  # papermill's execution error, or a kernel that died
                run.status = "failed"
                run.cell, run.error = _failed_cell(executed) if executed.exists() else (None, None)
                run.error = run.error or f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1:]}"
            finally:
                pending.append(after.submit(_stop_kernel, km))
            run.seconds = time.perf_counter() - t0
            if executed.exists():
                run.ipynb = str(executed.relative_to(out_dir))
                pages.append((run, after.submit(_render_html, exporter, executed)))
            if run.status == "failed":
                echo(f"FAILED {path.name} at code cell {run.cell}: {run.error}")
                break
            echo(f"ok     {path.name}  {run.seconds:5.1f} s")
    finally:
        if upcoming is not None:  # a failure stopped the run before the pre-started kernel's notebook
            pending.append(after.submit(_stop_kernel, upcoming))
        after.shutdown(wait=True)  # every kernel stopped, every page written, before the report
        for run, page in pages:
            if page.exception() is None:
                run.html = str(page.result().relative_to(out_dir))
        # a kernel that could not be stopped or a page that could not be written is an error, as it was before
        problems = [e for f in [*pending, *(page for _, page in pages)] if (e := f.exception()) is not None]
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        report.seconds = time.perf_counter() - started
        write_index(report, out_dir)
    if problems:
        raise problems[0]
    return report


# What every notebook's first cells import (the kit, its steps and pandas: ~0.5–1 s per kernel). A pre-started
# kernel imports it while the previous notebook runs; the notebook's own imports then find it loaded. Nothing
# is left in the user namespace (the name is deleted; IPython hides start-up names from %who anyway).
PRELOAD = "import maas_helpers.kit, maas_helpers.steps; del maas_helpers"


def _start_kernel(manager_class: type, notebook: Path) -> Any:
    """A fresh python3 kernel launched for `notebook` (in its folder, with the runner's environment), loading
    the kit's modules as it starts (PRELOAD); nbclient waits for it to answer when the notebook starts."""
    km = manager_class(kernel_name="python3")
    km.start_kernel(cwd=str(notebook.parent), extra_arguments=[f"--IPKernelApp.exec_lines={[PRELOAD]!r}"])
    return km


def _stop_kernel(km: Any) -> None:
    """Stop a kernel we started (shutdown request, no SIGINT: see `_ipc_kernel_manager`), killed if it hangs."""
    try:
        if km.has_kernel:
            km.shutdown_kernel(now=False)
    finally:
        km.cleanup_resources()


def _start_sandbox(state_dir: Path, params: Mapping[str, Any], port: int | None = None) -> str:
    """Start (or reuse) the sandbox through the platform before the first kernel, so its start-up is timed apart.
    With `port`, the sandbox's first port (`make run PORT=…`); a sandbox already running elsewhere is refused."""
    from maas_helpers.config import make_settings
    from maas_helpers.errors import MaasError
    from maas_helpers.platform import get_platform

    t0 = time.perf_counter()
    tenant = str(params.get("tenant", "maas"))
    if port is not None:
        from maas_sandbox import control

        try:
            control.up(state_dir.resolve(), port, tenant=tenant)
        except (control.SandboxError, ValueError) as exc:
            raise MaasError(f"sandbox: {exc}") from None
    settings = make_settings(target="sandbox", state_dir=state_dir.resolve(), tenant=tenant)
    creds = get_platform(settings).admin_credentials()
    return f"sandbox ready in {time.perf_counter() - t0:.1f} s: admin {creds.admin_url}  portal {creds.portal_url}"


def run_notebooks(
    target: str,
    params: Mapping[str, Any],
    state_dir: Path,
    out_dir: Path,
    *,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    echo: Callable[[str], None] = print,
    port: int | None = None,
) -> int:
    """Execute the whole tutorial headless into `out_dir`; 0 when every notebook ran, 1 otherwise.

    `params` are `key=value` settings for notebook 0 (cluster_domain, namespace, tenant, models, …) and for any
    later notebook that declares a parameter of that name (e.g. `confirm_teardown=true` for notebook 99).
    Raises ConfigError (one line per bad key, or the missing cluster credentials) before anything runs.

    A good run replaces `out_dir/index.html`, `run.json` and `notebooks/`; a failed run never does: it goes to
    `out_dir/failed/` so the last good run's pages stay where they were.
    """
    from maas_helpers.run_params import check_params, declared_parameters

    notebooks = list_notebooks(notebooks_dir)
    if not notebooks:
        echo(f"no notebooks found in {notebooks_dir}")
        return 2
    declared = declared_parameters(notebooks)
    typed = check_params(params, declared, target=target, state_dir=Path(state_dir))
    if target == "openshift":
        from maas_helpers.preflight import check_cluster_credentials

        echo(check_cluster_credentials())
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    config = out_dir / CONFIG_FILE
    first_declared = declared_parameters(notebooks[:1])
    first = {"target": target, "state_dir": str(Path(state_dir).resolve()), "config_path": str(config),
             **{k: v for k, v in typed.items() if k in first_declared}}
    shared = {"config_path": str(config), "report_dir": str(out_dir), **typed}
    if target == "sandbox":
        echo(_start_sandbox(Path(state_dir), typed, port))
    echo(f"running {len(notebooks)} notebooks against target {target!r} into {out_dir}")
    staging = out_dir / STAGING_DIR
    shutil.rmtree(staging, ignore_errors=True)
    report = execute_sequence(notebooks, staging, first, shared, target=target, echo=echo,
                              env={"MAAS_CONFIG": str(config), HEADLESS_ENV: "1"})
    total = report.seconds  # the one measurement index.html shows too (sandbox start-up is printed apart)
    failure = report.failure
    if failure is not None:
        failed_dir = _keep_failed(staging, out_dir)
        kept = out_dir / "index.html"
        last_good = f"; the last good run's index stays at {kept}" if kept.exists() else ""
        # the error itself was printed once by execute_sequence
        echo(f"run stopped at {failure.name} ({total:.1f} s); this run's index: {failed_dir / 'index.html'}"
             + last_good)
        return 1
    _publish(staging, out_dir)
    echo(f"index: {out_dir / 'index.html'}")
    echo(f"all {len(notebooks)} notebooks ran in {total:.1f} s")
    return 0


STAGING_DIR = ".run-in-progress"
FAILED_DIR = "failed"


def _publish(staging: Path, out_dir: Path) -> None:
    """A good run's notebooks, index and run.json replace the previous ones; an older failed run's go."""
    shutil.rmtree(out_dir / "notebooks", ignore_errors=True)
    (staging / "notebooks").replace(out_dir / "notebooks")
    for name in ("index.html", "run.json"):
        (staging / name).replace(out_dir / name)
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(out_dir / FAILED_DIR, ignore_errors=True)


def _keep_failed(staging: Path, out_dir: Path) -> Path:
    target = out_dir / FAILED_DIR
    shutil.rmtree(target, ignore_errors=True)
    staging.replace(target)
    return target


if __name__ == "__main__":  # `python -m maas_helpers.runner [key=value ...]` for quick local runs
    sys.exit(run_notebooks("sandbox", parse_params(sys.argv[1:]), Path(".maas"), Path("build")))
