"""The `maas` command for trainers and CI: apply/plan/destroy a catalogue, stats, run the notebooks, sandbox."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from maas_helpers.catalogue import load_catalogue
from maas_helpers.cli_models import models_app
from maas_helpers.cli_sandbox import sandbox_app
from maas_helpers.config import config_path, load_settings, make_settings
from maas_helpers.errors import MaasError
from maas_helpers.kit import Kit
from maas_helpers.reconcile import SECTIONS, ProductsFailed
from maas_helpers.results import Action, StepResult
from maas_helpers.workshop.cli import workshop_app

app = typer.Typer(help="Model as a Service kit: 3scale + OpenShift AI, or the local sandbox.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(workshop_app, name="workshop")
app.add_typer(models_app, name="models")
console = Console()
err = Console(stderr=True)

CatalogueArg = Annotated[Path | None, typer.Argument(help="Catalogue YAML (default: the kit's default catalogue).")]
SectionOpt = Annotated[str | None, typer.Option("--section", "-s", help=f"One of: {', '.join(SECTIONS)}.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", envvar="MAAS_CONFIG", help="Saved settings YAML.")]
ConcurrencyOpt = Annotated[int | None, typer.Option(
    "--concurrency", envvar="MAAS_CONCURRENCY", min=1, max=64,
    help="Products reconciled at once (default: the settings' concurrency, 8); 1 = one call at a time.")]
StateDirOpt = Annotated[Path | None, typer.Option("--state-dir", envvar="MAAS_STATE_DIR", help="Sandbox state dir.")]


def _fail(exc: Exception, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _kit(catalogue: Path | None, config: Path | None, state_dir: Path | None, concurrency: int | None = None) -> Kit:
    """Saved settings when present; otherwise the sandbox defaults (so `maas apply` works on a fresh checkout)."""
    if config_path(config).exists():
        settings = load_settings(config)
    else:
        env = {"admin_url": os.environ.get("MAAS_ADMIN_URL"), "admin_token": os.environ.get("MAAS_ADMIN_TOKEN")}
        settings = make_settings(target="sandbox", state_dir=state_dir or Path(".maas"),
                                 **{k: v for k, v in env.items() if v})
    if state_dir is not None:
        settings.state_dir = state_dir
    if concurrency is not None:
        settings.concurrency = concurrency  # validated (1–64) by the settings model
    return Kit(settings, load_catalogue(catalogue) if catalogue else None)


def _run_sections(kit: Kit, section: str | None, plan_only: bool) -> StepResult:
    """One run over the sections (so what one section read is reused by the next), the bar advancing per object."""
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("planning" if plan_only else "applying", total=None)

        def advance(action: Action) -> None:  # from the reconcile's worker threads too (Rich locks)
            progress.update(task, advance=1, description=f"{action.kind}: {action.name}")

        kit.progress = advance
        try:
            return kit.plan(section) if plan_only else kit.apply(section)
        finally:
            kit.progress = None


def _print(result: StepResult, verbose: bool) -> None:
    if verbose:
        console.print(str(result), highlight=False)
        return
    for action in result.actions:
        if action.change.value != "unchanged":
            console.print(f"  {action}", highlight=False)
    console.print(result.summary(), highlight=False)
    for note in result.notes:
        console.print(f"  note: {note}", highlight=False)


@app.command()
def apply(catalogue: CatalogueArg = None, section: SectionOpt = None, config: ConfigOpt = None,
          state_dir: StateDirOpt = None, verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
          concurrency: ConcurrencyOpt = None,
          prune: Annotated[bool, typer.Option("--prune", help="Also delete products no longer in the catalogue "
                                              "that hold applications the kit did not create.")] = False) -> None:
    """Converge 3scale to the catalogue (all sections in order, or one); what the kit owns and the catalogue no
    longer names is deleted."""
    try:
        kit = _kit(catalogue, config, state_dir, concurrency)
        kit.prune = prune
        _print(_run_sections(kit, section, plan_only=False), verbose)
    except ProductsFailed as exc:
        _print(exc.result, verbose)
        _fail(exc)
    except MaasError as exc:
        _fail(exc)


@app.command()
def plan(catalogue: CatalogueArg = None, section: SectionOpt = None, config: ConfigOpt = None,
         state_dir: StateDirOpt = None, verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
         concurrency: ConcurrencyOpt = None) -> None:
    """Show what apply would change; writes nothing."""
    try:
        kit = _kit(catalogue, config, state_dir, concurrency)
        _print(_run_sections(kit, section, plan_only=True), verbose)
    except MaasError as exc:
        _fail(exc)


@app.command()
def destroy(catalogue: CatalogueArg = None, config: ConfigOpt = None, state_dir: StateDirOpt = None,
            yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
            concurrency: ConcurrencyOpt = None) -> None:
    """Remove what the kit created (products, backends, apps, ActiveDocs it owns); nothing else is touched."""
    try:
        kit = _kit(catalogue, config, state_dir, concurrency)
        if not yes:
            preview = kit.reconciler.plan_destroy()
            names = ", ".join(f"{a.kind} {a.name}" for a in preview.actions) or "nothing"
            typer.confirm(f"Delete {names} from {kit.credentials.admin_url}?", abort=True)
        _print(kit.destroy(), True)
    except MaasError as exc:
        _fail(exc)


@app.command()
def stats(catalogue: CatalogueArg = None, config: ConfigOpt = None, state_dir: StateDirOpt = None,
          period: Annotated[str, typer.Option(help="year, month, week or day")] = "day",
          cost: Annotated[bool, typer.Option("--cost", help="Cost this month per application (pricing rules × "
                                                            "usage + monthly fee).")] = False,
          csv: Annotated[Path | None, typer.Option("--csv", help="Write usage and cost per account, application, "
                                                                 "metric and day to this CSV file.")] = None,
          month: Annotated[str | None, typer.Option(help="Month for --cost/--csv, YYYY-MM (default: this "
                                                         "month).")] = None) -> None:
    """Usage totals per product and metric over the last period (Analytics API); --cost / --csv for cost."""
    try:
        from maas_helpers import stats as stats_mod
    except ImportError:
        _fail(MaasError("maas_helpers.stats is not available in this installation"), 2)
        return
    if month is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        _fail(MaasError(f"--month {month!r}: expected YYYY-MM, e.g. 2026-11"), 2)
    try:
        kit = _kit(catalogue, config, state_dir)
        if cost or csv is not None:
            _cost(kit, month, csv, show=cost)
            return
        services = {s["system_name"]: s for s in kit.admin.threescale.services.list()}
        for product in kit.catalogue.products:
            service = services.get(product.system_name)
            if service is None:
                console.print(f"{product.system_name}: not created yet (run maas apply)")
                continue
            frame = stats_mod.get_product_usage(kit.admin, service["id"], period=period,  # type: ignore[arg-type]
                                                name=product.system_name)
            console.print(f"[bold]{product.system_name}[/bold]")
            console.print(stats_mod.totals(frame).to_string() if not frame.empty else "  no traffic yet")
    except MaasError as exc:
        _fail(exc)


def _cost(kit: Kit, month: str | None, csv: Path | None, *, show: bool) -> None:
    from maas_helpers import billing, spreadsheet

    month = month or billing.current_month()
    frame = billing.cost_frame(kit.admin, month)
    if csv is not None:
        try:
            spreadsheet.write_csv(frame, csv)  # formula-looking names are written as text
        except OSError as exc:
            raise MaasError(f"--csv {csv}: cannot write ({exc.strerror})") from None
        console.print(f"wrote {len(frame)} rows (account, application, metric, day) to {csv}")
    if show:
        summary = billing.cost_summary(frame)
        table = Table(title=f"Cost {month} (pricing rules × usage + monthly fee)")
        for column in summary.columns:
            table.add_column(column, justify="right" if summary[column].dtype.kind in "if" else "left")
        for row in summary.to_dict("records"):
            # usage costs keep 3scale's 4 decimals (a few thousand tokens cost fractions of a cent)
            table.add_row(*[f"{v:.4f}" if k == "usage_cost" else f"{v:.2f}" if isinstance(v, float) else str(v)
                            for k, v in row.items()])
        # wide enough for whole names and figures even when stdout is not a terminal (pipes, CI)
        wide = Console(width=max(console.width, 150))
        wide.print(table if not summary.empty else f"no applications with usage or fees in {month}")


@app.command()
def run(
    target: Annotated[str, typer.Option(help="sandbox or openshift")] = "sandbox",
    param: Annotated[list[str] | None, typer.Option(
        "--param", "-p", help="key=value for a notebook parameter (notebook 0's settings, confirm_teardown, …); "
                              "unknown keys and bad values stop the run before anything starts")] = None,
    state_dir: Annotated[Path, typer.Option("--state-dir", envvar="MAAS_STATE_DIR")] = Path(".maas"),
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Where executed notebooks go")] = Path("build"),
    port: Annotated[int | None, typer.Option(
        "--port", min=1024, max=65000, help="Sandbox: first port of its range (default 8930, or the state "
                                            "dir's)")] = None,
) -> None:
    """Run every notebook headless (papermill) into build/ (a failed run goes to build/failed/)."""
    if target not in ("sandbox", "openshift"):
        _fail(MaasError(f"--target {target!r}: use sandbox or openshift"), 2)
    params: dict[str, str] = {}
    for item in param or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            _fail(MaasError(f"--param {item!r}: expected key=value"), 2)
        params[key.strip()] = value
    from maas_helpers.runner import run_notebooks

    try:
        code = run_notebooks(target, params, state_dir, out_dir, port=port)
    except MaasError as exc:  # bad parameters or no cluster login: one line each, nothing has run
        for line in getattr(exc, "lines", [str(exc)]):
            err.print(f"[red]error:[/red] {line}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


if __name__ == "__main__":
    app()
