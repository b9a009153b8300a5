"""Public start/stop API of the sandbox (used by the `maas sandbox` CLI and the helpers' sandbox platform).

`up` starts `python -m maas_sandbox serve` detached, and returns once it answers health checks; a sandbox
already running from the same state dir is reused.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maas_sandbox.layout import StateDir
from maas_sandbox.log_masking import private_file

DEFAULT_STATE_DIR = ".maas"


class SandboxError(RuntimeError):
    """A one-line, actionable failure starting or stopping the sandbox."""


@dataclass(frozen=True)
class SandboxInfo:
    state_dir: Path
    pid: int
    admin_url: str
    master_url: str
    portal_url: str
    sso_url: str
    models_url: str
    tenant: str
    admin_token: str
    master_token: str

    def __repr__(self) -> str:  # never show tokens
        return f"SandboxInfo(admin_url={self.admin_url!r}, pid={self.pid}, state_dir='{self.state_dir}')"

    def env(self) -> dict[str, str]:
        return {
            "MAAS_TARGET": "sandbox",
            "MAAS_STATE_DIR": str(self.state_dir),
            "MAAS_ADMIN_URL": self.admin_url,
            "MAAS_ADMIN_TOKEN": self.admin_token,
            "MAAS_MASTER_URL": self.master_url,
            "MAAS_MASTER_TOKEN": self.master_token,
            "MAAS_PORTAL_URL": self.portal_url,
            "MAAS_SSO_URL": self.sso_url,
            "MAAS_MODELS_URL": self.models_url,
            "MAAS_TENANT": self.tenant,
        }


def resolve_state_dir(state_dir: str | Path | None = None) -> StateDir:
    return StateDir(state_dir or os.environ.get("MAAS_STATE_DIR") or DEFAULT_STATE_DIR)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (started by this process, not yet reaped) is not alive.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


def _healthy(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/sandbox/health", timeout=timeout) as resp:  # noqa: S310 - loopback
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _models_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1.0) as resp:  # noqa: S310 - loopback
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _info(state: StateDir, runtime: dict[str, Any]) -> SandboxInfo:
    creds = json.loads(state.credentials.read_text())
    return SandboxInfo(
        state_dir=state.path,
        pid=runtime["pid"],
        admin_url=runtime["admin_url"],
        master_url=runtime["master_url"],
        portal_url=runtime["portal_url"],
        sso_url=runtime["sso_url"],
        models_url=runtime["models_url"],
        tenant=runtime["tenant"],
        admin_token=creds["admin_token"],
        master_token=creds["master_token"],
    )


def running(state_dir: str | Path | None = None) -> SandboxInfo | None:
    state = resolve_state_dir(state_dir)
    runtime = state.read_runtime()
    if not runtime or not _alive(runtime["pid"]) or not _healthy(runtime["admin_url"]):
        return None
    return _info(state, runtime)


def _latency_env(admin_ms: float | None, deploy_ms: float | None) -> dict[str, str]:
    """The child's environment with the latency knobs set and checked before anything starts."""
    from maas_sandbox.admin.latency import ADMIN_ENV, DEPLOY_ENV

    env = dict(os.environ)
    for name, value in ((ADMIN_ENV, admin_ms), (DEPLOY_ENV, deploy_ms)):
        if value is not None:
            env[name] = f"{value:g}"
        raw = env.get(name, "").strip()
        if not raw:
            continue
        try:
            ok = 0 <= float(raw) <= 60_000
        except ValueError:
            ok = False
        if not ok:
            raise SandboxError(f"{name}={raw!r}: give a latency between 0 and 60000 milliseconds, e.g. 100")
    return env


def up(
    state_dir: str | Path | None = None,
    port: int | None = None,
    *,
    tenant: str | None = None,
    test_clock: bool = False,
    timeout: float = 30.0,
    admin_latency_ms: float | None = None,
    deploy_latency_ms: float | None = None,
) -> SandboxInfo:
    """Start the sandbox (or return the running one). The latency values (default: the environment's
    MAAS_SANDBOX_ADMIN_LATENCY_MS / MAAS_SANDBOX_DEPLOY_LATENCY_MS) delay Admin API answers."""
    try:  # before anything is read or written: without the [sandbox] extra the child could only crash
        from maas_sandbox import extra  # noqa: F401
    except ModuleNotFoundError as exc:
        raise SandboxError(str(exc)) from None
    child_env = _latency_env(admin_latency_ms, deploy_latency_ms)
    state = resolve_state_dir(state_dir)
    current = running(state.path)
    if current is not None:
        existing = state.read_runtime() or {}
        if port is not None and existing.get("port") != port:
            raise SandboxError(
                f"a sandbox is already running from {state.path} on port {existing.get('port')}; "
                "run 'maas sandbox down' first"
            )
        return current
    state.ensure()
    if state.settings.exists() and port is not None:
        saved = json.loads(state.settings.read_text())
        if saved["port"] != port:
            raise SandboxError(
                f"state dir {state.path} was created with --port {saved['port']}; use that port "
                "or run 'maas sandbox reset' first"
            )
    _stop_leftovers(state)
    cmd = [sys.executable, "-m", "maas_sandbox", "serve", "--state-dir", str(state.path)]
    if port is not None:
        cmd += ["--port", str(port)]
    if tenant:
        cmd += ["--tenant", tenant]
    if test_clock:
        cmd.append("--test-clock")
    out = open(private_file(state.logs / "sandbox.out"), "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, env=child_env
    )
    out.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (state.logs / "sandbox.out").read_text(errors="replace").strip().splitlines()[-1:]
            raise SandboxError(
                f"sandbox exited during start (code {proc.returncode}): {tail[0] if tail else 'no output'}; "
                f"see {state.logs / 'sandbox.out'}"
            )
        runtime = state.read_runtime()
        models_pid = (runtime or {}).get("models_pid")
        if models_pid and not _alive(models_pid):
            proc.terminate()
            raise SandboxError(f"the model server exited during start; see {state.logs / 'models.log'}")
        if runtime and _healthy(runtime["admin_url"]) and (
            runtime.get("models_pid") is None or _models_ready(runtime["models_url"])
        ):
            return _info(state, runtime)
        time.sleep(0.1)
    proc.terminate()
    raise SandboxError(f"sandbox did not answer health checks within {timeout:.0f}s; see {state.logs}")


def _is_ours(pid: int, module: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return module.encode() in fh.read()
    except OSError:
        return False


def _stop_leftovers(state: StateDir) -> None:
    """After a crash (`kill -9`), stop a model server the dead sandbox left behind: it holds the models port."""
    runtime = state.read_runtime() or {}
    models_pid = runtime.get("models_pid")
    if models_pid and _alive(models_pid) and _is_ours(models_pid, "maas_sandbox.models"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(models_pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _alive(models_pid):
            time.sleep(0.05)
    with contextlib.suppress(FileNotFoundError):
        state.runtime.unlink()


def down(state_dir: str | Path | None = None, timeout: float = 15.0) -> bool:
    """Stop the sandbox (state is kept). Returns False when none was running."""
    state = resolve_state_dir(state_dir)
    runtime = state.read_runtime()
    if not runtime or not _alive(runtime["pid"]):
        with contextlib.suppress(FileNotFoundError):
            state.runtime.unlink()
        return False
    os.kill(runtime["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(runtime["pid"]):
        time.sleep(0.05)
    if _alive(runtime["pid"]):
        os.kill(runtime["pid"], signal.SIGKILL)
    models_pid = runtime.get("models_pid")
    if models_pid and _alive(models_pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(models_pid, signal.SIGTERM)
    with contextlib.suppress(FileNotFoundError):
        state.runtime.unlink()
    return True


def status(state_dir: str | Path | None = None) -> dict[str, Any]:
    state = resolve_state_dir(state_dir)
    runtime = state.read_runtime() or {}
    alive = bool(runtime) and _alive(runtime["pid"])
    return {
        "state_dir": str(state.path),
        "exists": state.path.exists(),
        "running": alive and _healthy(runtime["admin_url"]),
        "pid": runtime.get("pid") if alive else None,
        "admin_url": runtime.get("admin_url"),
        "portal_url": runtime.get("portal_url"),
        "sso_url": runtime.get("sso_url"),
        "models_url": runtime.get("models_url"),
        "models_ready": alive and bool(runtime.get("models_url")) and _models_ready(runtime["models_url"]),
    }


def reset(state_dir: str | Path | None = None) -> None:
    """Stop the sandbox and wipe its state directory."""
    state = resolve_state_dir(state_dir)
    down(state.path)
    if state.path.exists():
        if not (state.db.exists() or state.credentials.exists() or state.settings.exists()):
            raise SandboxError(f"{state.path} does not look like a sandbox state dir; not deleting it")
        shutil.rmtree(state.path)


def env(state_dir: str | Path | None = None) -> dict[str, str]:
    info = running(state_dir)
    if info is None:
        raise SandboxError("no sandbox is running; start one with 'maas sandbox up'")
    return info.env()


def _call(method: str, url: str, token: str, params: dict[str, str] | None = None) -> Any:
    query = urllib.parse.urlencode({"access_token": token, **(params or {})})
    data = query.encode() if method != "GET" else None
    target = url if method != "GET" else f"{url}?{query}"
    req = urllib.request.Request(target, data=data, method=method)  # noqa: S310 - loopback sandbox URL
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - loopback
            body = resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:200]
        raise SandboxError(f"{method} {url.split('?')[0]} answered {exc.code}: {detail}") from None
    return json.loads(body) if body.strip() else None


def bill(month: str, state_dir: str | Path | None = None, account: str | None = None) -> list[dict[str, Any]]:
    """Run the sandbox's billing for `month` (YYYY-MM) through the Master API (porta's billing_jobs, dated
    the first of the next month) and return that month's invoices from the Billing API. `account` is an
    org_name to bill just that buyer."""
    try:
        year, mon = (int(p) for p in month.split("-"))
        if len(month) != 7 or not 1 <= mon <= 12:
            raise ValueError
    except ValueError:
        raise SandboxError(f"--month {month!r}: expected YYYY-MM, e.g. 2026-11") from None
    info = running(state_dir)
    if info is None:
        raise SandboxError("no sandbox is running; start one with 'maas sandbox up'")
    provider = _call("GET", f"{info.admin_url}/admin/api/provider.json", info.admin_token)["account"]
    path = f"{info.master_url}/master/api/providers/{provider['id']}"
    listed = _call("GET", f"{info.admin_url}/admin/api/accounts.json", info.admin_token, {"per_page": "500"})
    names = {a["account"]["id"]: a["account"]["org_name"] for a in listed["accounts"]}
    if account is not None:
        match = [{"id": i} for i, name in names.items() if name == account]
        if not match:
            raise SandboxError(f"--account {account!r}: no such developer account (see the admin portal's Audience)")
        path += f"/accounts/{match[0]['id']}"
    after = f"{year + mon // 12:04d}-{mon % 12 + 1:02d}-01"
    _call("POST", f"{path}/billing_jobs.json", info.master_token, {"date": after})
    invoices: list[dict[str, Any]] = []
    for page in range(1, 10_001):  # the Billing API pages at 20 by default; 500 is its largest page
        body = _call("GET", f"{info.admin_url}/api/invoices.json", info.admin_token,
                     {"month": month, "page": str(page), "per_page": "500"})
        invoices += [item["invoice"] for item in body["invoices"]]
        if len(body["invoices"]) < 500:
            break
    invoices.sort(key=lambda i: i["id"])  # oldest first for the table (the API lists newest first)
    for invoice in invoices:  # the representer links the account; name it for the CLI
        href = next((lk["href"] for lk in invoice.get("links", []) if lk["rel"] == "account"), "")
        invoice["account"] = names.get(int(href.rsplit("/", 1)[-1]) if href.rsplit("/", 1)[-1].isdigit() else -1)
    return invoices
