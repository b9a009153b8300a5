"""`maas sandbox up|down|status|reset|env|bill` — thin wrappers over maas_sandbox.control."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from maas_helpers.lazy import lazy_module

if TYPE_CHECKING:
    from maas_sandbox import control
else:  # loaded by the first sandbox command, not by `maas --help` (urllib.request pulls ssl, email, http.client)
    control = lazy_module("maas_sandbox.control")

sandbox_app = typer.Typer(help="Run the local 3scale sandbox (admin API, gateway, portal, SSO, model server).")
console = Console()
err = Console(stderr=True)

StateDirOpt = Annotated[
    Path | None,
    typer.Option("--state-dir", envvar="MAAS_STATE_DIR", help="State directory (default .maas/)."),
]


def _fail(exc: Exception) -> None:
    err.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(1)


@sandbox_app.command()
def up(
    state_dir: StateDirOpt = None,
    port: Annotated[int | None, typer.Option(help="First port of the range the sandbox uses (default 8930).")] = None,
    test_clock: Annotated[bool, typer.Option(help="Allow tests to move the sandbox clock.")] = False,
    admin_latency_ms: Annotated[float | None, typer.Option(
        envvar="MAAS_SANDBOX_ADMIN_LATENCY_MS",
        help="Delay every Admin API answer by this many ms (simulate a real cluster).")] = None,
    deploy_latency_ms: Annotated[float | None, typer.Option(
        envvar="MAAS_SANDBOX_DEPLOY_LATENCY_MS",
        help="Delay proxy deploy and promote answers by this many ms (default: the admin latency).")] = None,
) -> None:
    """Start the sandbox in the background (or reuse the running one) and wait until it answers."""
    try:
        info = control.up(state_dir, port, test_clock=test_clock, admin_latency_ms=admin_latency_ms,
                          deploy_latency_ms=deploy_latency_ms)
    except (control.SandboxError, ValueError) as exc:
        _fail(exc)
        return
    # soft_wrap: URLs and the command must stay whole lines to copy them (rich wrapped them mid-word)
    console.print(f"sandbox up: admin {info.admin_url}  portal {info.portal_url}  (pid {info.pid})", soft_wrap=True)
    console.print(f"admin portal: {info.admin_url}/p/admin/dashboard (sign in with the admin token: "
                  f"{maas_command()} sandbox env)", soft_wrap=True, highlight=False, markup=False)
    console.print(f'run  eval "$({maas_command()} sandbox env)"  to export the URLs and tokens',
                  soft_wrap=True, highlight=False, markup=False)


def maas_command() -> str:
    """How to call this `maas` from the current directory: `maas` when that is on PATH, else its real path
    (`make` runs `.venv/bin/maas`, which is usually not on PATH)."""
    me = Path(os.path.abspath(sys.argv[0])) if sys.argv and sys.argv[0] else None
    found = shutil.which("maas")
    if me is None or me.name != "maas" or (found and Path(found).resolve() == me.resolve()):
        return "maas"
    relative = os.path.relpath(me)
    return relative if not relative.startswith("..") else str(me)


@sandbox_app.command()
def down(state_dir: StateDirOpt = None) -> None:
    """Stop the sandbox; its state is kept."""
    stopped = control.down(state_dir)
    console.print("sandbox stopped" if stopped else "no sandbox was running")


@sandbox_app.command()
def status(state_dir: StateDirOpt = None) -> None:
    """Show whether the sandbox runs and where."""
    info = control.status(state_dir)
    table = Table(show_header=False)
    for key, value in info.items():
        table.add_row(key, str(value))
    console.print(table)
    if not info["running"]:
        raise typer.Exit(3)


@sandbox_app.command()
def reset(
    state_dir: StateDirOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Stop the sandbox and delete all its state (configuration, usage, tokens)."""
    target = control.resolve_state_dir(state_dir).path
    if not yes:
        typer.confirm(f"Delete all sandbox state in {target}?", abort=True)
    try:
        control.reset(state_dir)
    except control.SandboxError as exc:
        _fail(exc)
    console.print(f"sandbox state removed: {target}")


@sandbox_app.command()
def env(state_dir: StateDirOpt = None) -> None:
    """Print `export` lines for the sandbox URLs and tokens (the only command that prints tokens)."""
    try:
        values = control.env(state_dir)
    except control.SandboxError as exc:
        _fail(exc)
        return
    for key, value in values.items():
        typer.echo(f"export {key}={shlex.quote(value)}")


@sandbox_app.command()
def bill(
    month: Annotated[str, typer.Option("--month", help="Month to bill, YYYY-MM (the sandbox has no monthly job).")],
    account: Annotated[str | None, typer.Option(help="Bill only this developer account (org name).")] = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Run 3scale billing for a month: an invoice per developer account from the plans' fees and pricing rules."""
    try:
        invoices = control.bill(month, state_dir, account)
    except control.SandboxError as exc:
        _fail(exc)
        return
    table = Table(title=f"Invoices for {month}")
    for column in ("invoice", "account", "state", "cost"):
        table.add_column(column, justify="right" if column == "cost" else "left")
    for inv in invoices:
        table.add_row(inv["friendly_id"], str(inv.get("account") or "?"), inv["state"],
                      f"{inv['cost']:.2f} {inv['currency']}")
    console.print(table if invoices else f"no invoices for {month} (no fees, no priced usage)")
