"""`maas workshop up | watch | reset | down` — the trainer's commands. Nothing secret is printed: the handout
files hold the passwords and keys; the terminal shows names, counts and masked keys only."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from maas_helpers.errors import MaasError
from maas_helpers.workshop import MAX_ATTENDEES, Workshop, WorkshopSpec, room_dir, up_room
from maas_helpers.workshop import board as board_mod  # lazy (see maas_helpers/workshop/__init__.py)

workshop_app = typer.Typer(help="Trainers: a whole workshop room (attendees, keys, handout, live board).",
                           no_args_is_help=True)
console = Console()

ConfigOpt = Annotated[Path | None, typer.Option("--config", envvar="MAAS_CONFIG", help="Saved settings YAML.")]
StateDirOpt = Annotated[Path | None, typer.Option("--state-dir", envvar="MAAS_STATE_DIR", help="Sandbox state dir.")]
OutOpt = Annotated[Path | None, typer.Option(
    "--out-dir", help="Where the room's handout and state go (default build/workshop/<prefix>: one folder per room).")]
PrefixOpt = Annotated[str | None, typer.Option(
    "--prefix", help="Workshop prefix (default: the one room under build/workshop, or --out-dir's).")]


def _room(config: Path | None, state_dir: Path | None, out_dir: Path | None, prefix: str | None = None) -> Workshop:
    from maas_helpers.cli import _kit  # the same settings resolution as `maas apply`

    where = room_dir(out_dir, prefix)  # before the kit: a missing room is one line, nothing contacted
    return Workshop(_kit(None, config, state_dir), where)


def _show(result: object, code_on_failure: bool = True) -> None:
    from maas_helpers.cli import _print

    _print(result, False)  # type: ignore[arg-type]
    if code_on_failure and any(a.change.value == "failed" for a in result.actions):  # type: ignore[attr-defined]
        raise typer.Exit(1)


def _fail(exc: Exception) -> None:
    from maas_helpers.cli import _fail as fail

    fail(exc)


@workshop_app.command()
def up(
    attendees: Annotated[int, typer.Option("--attendees", "-n", help=f"Number of attendees (1–{MAX_ATTENDEES}).")],
    prefix: Annotated[str | None, typer.Option(
        help="Username prefix: attendees are <prefix>-001 … (default: `ws` + 4 random hex digits)")] = None,
    plan: Annotated[str, typer.Option(help="Application plan (system name) of every model.")] = "standard",
    models: Annotated[list[str] | None, typer.Option("--models", "-m", help="Models (default: all).")] = None,
    config: ConfigOpt = None, state_dir: StateDirOpt = None, out_dir: OutOpt = None,
) -> None:
    """Create (or complete) the room: accounts, SSO users, one application per model; write the handout."""
    try:
        names = tuple(m.strip() for item in models or [] for m in item.split(",") if m.strip())
        # no --prefix: the room made before (its folder), else a new unguessable prefix in a folder of its own
        where, chosen = up_room(out_dir, prefix)
        spec = WorkshopSpec(attendees=attendees, prefix=chosen, plan=plan, models=names)
        _show(_room(config, state_dir, where).up(spec))
    except MaasError as exc:
        _fail(exc)


@workshop_app.command()
def watch(
    prefix: PrefixOpt = None, once: Annotated[bool, typer.Option("--once", help="Print the board once (CI).")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 5.0,
    config: ConfigOpt = None, state_dir: StateDirOpt = None, out_dir: OutOpt = None,
) -> None:
    """The live board: requests, tokens and last call per attendee (Ctrl-C to stop)."""
    from rich.live import Live

    try:
        room = _room(config, state_dir, out_dir, prefix)
        chosen = room.prefix(prefix)
        if once:
            console.print(board_mod.rich_table(chosen, room.board(chosen)))
            return
        with Live(board_mod.rich_table(chosen, room.board(chosen)), console=console, refresh_per_second=1) as live:
            while True:
                time.sleep(max(interval, 1.0))
                live.update(board_mod.rich_table(chosen, room.board(chosen)))
    except KeyboardInterrupt:
        return
    except MaasError as exc:
        _fail(exc)


@workshop_app.command()
def reset(
    prefix: PrefixOpt = None,
    usage: Annotated[bool, typer.Option("--usage", help="Count the board from now instead of new keys.")] = False,
    config: ConfigOpt = None, state_dir: StateDirOpt = None, out_dir: OutOpt = None,
) -> None:
    """Between sessions: new keys and new temporary passwords for every attendee, their SSO sessions ended and the
    handout rewritten (an old key: 403 from its 2nd call); or --usage: the board counts from now."""
    try:
        _show(_room(config, state_dir, out_dir, prefix).reset(prefix, usage=usage))
    except MaasError as exc:
        _fail(exc)


@workshop_app.command()
def down(
    prefix: PrefixOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    config: ConfigOpt = None, state_dir: StateDirOpt = None, out_dir: OutOpt = None,
) -> None:
    """Remove the attendees' applications, accounts and SSO users (only those this workshop created)."""
    try:
        room = _room(config, state_dir, out_dir, prefix)
        chosen = room.prefix(prefix)
        if not yes:
            typer.confirm(f"Delete every account, application and SSO user of workshop {chosen!r}?", abort=True)
        _show(room.down(chosen))
    except MaasError as exc:
        _fail(exc)
