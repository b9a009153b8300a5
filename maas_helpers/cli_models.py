"""`maas models …`: what OpenShift AI (or the sandbox) serves, and the lock that lets only the gateway reach it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from maas_helpers.errors import MaasError

models_app = typer.Typer(help="Discover served models; lock them so only the 3scale gateway reaches them.",
                         no_args_is_help=True)
console = Console()
err = Console(stderr=True)
ConfigOpt = Annotated[Path | None, typer.Option("--config", envvar="MAAS_CONFIG", help="Saved settings YAML.")]
StateDirOpt = Annotated[Path | None, typer.Option("--state-dir", envvar="MAAS_STATE_DIR", help="Sandbox state dir.")]


def _fail(exc: Exception) -> None:
    err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


@models_app.command("discover")
def discover(config: ConfigOpt = None, state_dir: StateDirOpt = None,
             namespace: Annotated[list[str] | None, typer.Option(
                 "--namespace", "-n", help="Only these namespaces (default: every one you may list).")] = None,
             no_verify: Annotated[bool, typer.Option(
                 "--no-verify", help="Do not ask the runtimes which names they serve.")] = False) -> None:
    """A table of the models you can see: namespace, name, kind, runtime, ready (or why not), the in-cluster URL
    the gateway must use, the served model name and the 3scale system name."""
    from maas_helpers.cli import _kit

    try:
        found = _kit(None, config, state_dir).models.discover(namespace or None, verify=not no_verify)
    except MaasError as exc:
        _fail(exc)
        return
    table = Table(title=f"{len(found.rows)} model(s)")
    columns = ("namespace", "name", "kind", "runtime", "ready", "url", "model", "system name")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in found.table():
        table.add_row(*(str(row[c]) for c in columns))
    console.print(table)
    for line in found.unreadable:
        err.print(f"not listed: {line}", highlight=False, soft_wrap=True)


@models_app.command("lockdown")
def lockdown(config: ConfigOpt = None, state_dir: StateDirOpt = None,
             print_only: Annotated[bool, typer.Option(
                 "--print", help="Print the NetworkPolicies (YAML) for an admin to apply; change nothing.")] = False,
             plan: Annotated[bool, typer.Option("--plan", help="Show what would change.")] = False) -> None:
    """Apply one NetworkPolicy per configured model (OpenShift), or print them for an admin
    (`maas models lockdown --print | oc apply -f -`)."""
    from maas_helpers import lockdown as lock
    from maas_helpers.cli import _kit

    try:
        kit = _kit(None, config, state_dir)
        if print_only:
            objs = kit.models.lockdown_objects()
            if not objs:
                err.print("nothing to print: the sandbox's model server checks each product's secret token itself")
            typer.echo(lock.to_yaml(objs), nl=False)
            return
        result = kit.models.lockdown(plan_only=plan)
    except MaasError as exc:
        _fail(exc)
        return
    console.print(str(result), highlight=False)
