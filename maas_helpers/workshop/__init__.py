"""Trainers: a whole workshop room in one call — attendees, keys, a handout, a live board, reset, down.

    room = Workshop(kit)
    room.up(WorkshopSpec(attendees=20, prefix="team", plan="standard"))   # StepResult, like kit.apply
    room.board()                                                         # rows per attendee
    room.reset()            # between sessions: new keys, new temporary passwords, SSO sessions ended, new handout
    room.reset(usage=True)  # the board counts from now
    room.down()             # removes only what the workshop created (found by its marker)

Writes are counted across the Admin API and the SSO admin API; a re-run with the same N writes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maas_helpers import ownership
from maas_helpers.errors import ConfigError
from maas_helpers.results import StepResult, plural
from maas_helpers.workshop.spec import MAX_ATTENDEES, Attendee, WorkshopSpec, default_prefix

if TYPE_CHECKING:
    from maas_helpers.workshop import board, handout, room, sso_users
    from maas_helpers.workshop.sso_users import SsoUsers
else:  # loaded on first use: `maas --help` imports this package for the workshop commands' help (issue 30)
    from maas_helpers.lazy import lazy_module

    board, handout, room, sso_users = (lazy_module(f"maas_helpers.workshop.{name}")
                                       for name in ("board", "handout", "room", "sso_users"))

DEFAULT_DIR = Path("build/workshop")  # one folder per room below it: build/workshop/<prefix>
STATE = "workshop.json"
BASELINE = "baseline.json"

__all__ = ["MAX_ATTENDEES", "Workshop", "WorkshopSpec", "room_dir", "up_room"]


class Workshop:
    def __init__(self, kit: Any, out_dir: Path | str = DEFAULT_DIR, sso: SsoUsers | None = None) -> None:
        self.kit = kit
        self.out_dir = Path(out_dir)
        self._sso = sso

    # --- parts ------------------------------------------------------------------------------------------
    @property
    def admin(self) -> Any:
        return self.kit.admin

    @property
    def sso(self) -> SsoUsers:
        if self._sso is None:
            sso = self.kit.catalogue.sso
            if not sso.enabled:
                raise ConfigError("workshop: SSO is disabled in the catalogue; attendees sign in with SSO, enable it")
            self._sso = sso_users.SsoUsers.for_platform(self.kit.platform, sso.realm, self.kit.settings.tls_verify)
        return self._sso

    @property
    def writes(self) -> int:
        return self.admin.writes + self.sso.writes

    @property
    def calls(self) -> int:
        return self.admin.total_calls + sum(self.sso.calls.values())

    def reset_counts(self) -> None:
        self.admin.reset_counts()
        self.sso.calls.clear()

    def _concurrency(self) -> int:
        """Attendees set up at once (the kit's `concurrency` setting); the Admin API sees as many calls at most."""
        n = self.kit.settings.concurrency
        self.admin.limit_in_flight(n if n > 1 else None)
        return n

    def prefix(self, prefix: str | None = None) -> str:
        """The given prefix, else the one `up` last used here."""
        chosen = prefix or handout.load_state(self.out_dir, STATE).get("prefix")
        if not chosen:
            raise ConfigError("workshop: no workshop here yet; run `maas workshop up --attendees N` or pass --prefix")
        return str(chosen)

    def check_room_dir(self, prefix: str) -> None:
        """One folder per room: the handout (the only copy of a room's temporary passwords) of another room is
        never overwritten."""
        other = handout.load_state(self.out_dir, STATE).get("prefix")
        if not other:
            names = handout.read_passwords(self.out_dir / "attendees.csv")
            other = next((n.rsplit("-", 1)[0] for n in names if not n.startswith(f"{prefix}-")), None)
        if other and other != prefix:
            raise ConfigError(f"workshop: {self.out_dir} holds the handout of room {other!r} (the only copy of its "
                              f"temporary passwords); use another folder, e.g. --out-dir {self.out_dir / prefix}")

    def saved_prefix(self) -> str:
        """The prefix the last `up` here used ("" when none: `WorkshopSpec` then draws an unguessable one)."""
        return saved_prefix(self.out_dir)

    def _instance(self) -> str:
        """The kit's owner mark in this tenant (maas_helpers/ownership.py)."""
        return ownership.load_inventory(self.admin).instance

    # --- commands ---------------------------------------------------------------------------------------
    def up(self, spec: WorkshopSpec) -> StepResult:
        self.check_room_dir(spec.prefix)
        catalogue_models = self._catalogue_models()
        self.sso.check()  # SSO configured (realm exists, token accepted) before any write
        models = room.resolve_models(self.admin, catalogue_models, spec)
        inventory = ownership.load_inventory(self.admin)
        ownership.ensure_owner_fields(self.admin, inventory)  # the admin-only mark exists before any signup
        seen = room.observe(self.admin, self.sso, spec.prefix, inventory.instance)
        passwords = handout.read_passwords(self.out_dir / "attendees.csv")
        steps = room.plan_up(self.admin, self.sso, spec, models, seen, passwords)
        result = room.execute(f"Workshop {spec.prefix}: up ({spec.attendees} attendees)", steps, self._concurrency())
        for username, account in sorted(seen.foreign.items()):
            result.notes.append(f"account {account.get('org_name')!r} (id {account.get('id')}): {ownership.FOREIGN} "
                                f"— it is not attendee {username}'s and gets nothing")
        handout.save_state(self.out_dir, STATE, {"prefix": spec.prefix, "plan": spec.plan,
                                                 "models": [m.name for m in models]})
        self._write_handout(spec.prefix, models, seen, passwords, result)
        return result

    def reset(self, prefix: str | None = None, *, usage: bool = False) -> StepResult:
        chosen = self.prefix(prefix)
        seen = room.observe(self.admin, self.sso, chosen, self._instance())
        if usage:
            result = StepResult(f"Workshop {chosen}: usage counted from now")
            base = board.snapshot(self.admin, seen)
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            handout.save_state(self.out_dir, BASELINE, {"since": stamp, "totals": base})
            result.notes.append(f"the board counts from {stamp}; 3scale cannot delete usage (Analytics keeps it) "
                                "nor reset rate-limit counters through the API — they expire with their period")
            return result
        # Between sessions the next group must not inherit the last one's access: new keys, and new temporary
        # passwords with the SSO sessions ended (a password an attendee set stops working); the handout is
        # rewritten with both, so what is printed is what works.
        passwords = handout.read_passwords(self.out_dir / "attendees.csv")
        steps = room.plan_reset_keys(self.admin, seen) + room.plan_reset_passwords(self.sso, seen, passwords)
        result = room.execute(f"Workshop {chosen}: new keys and passwords", steps, self._concurrency())
        state = handout.load_state(self.out_dir, STATE)
        models = self._models(state)
        self._write_handout(chosen, models, seen, passwords, result)
        result.notes.append("an old key gets 403 from its second call (APIcast's auth cache serves the first); old "
                            "passwords no longer sign in: the next sign-in uses the new temporary password and "
                            "sets its own; usage stays (--usage counts from now); a browser still signed in to "
                            "the developer portal keeps that session until it ends (3scale has no API to end it)")
        return result

    def down(self, prefix: str | None = None) -> StepResult:
        chosen = self.prefix(prefix)
        seen = room.observe(self.admin, self.sso, chosen, self._instance())
        result = room.execute(f"Workshop {chosen}: down", room.plan_down(self.admin, self.sso, seen),
                              self._concurrency())
        if not any(a.change.value == "failed" for a in result.actions):
            for name in ("attendees.csv", "handout.html", BASELINE, STATE):  # the folder holds no room now
                (self.out_dir / name).unlink(missing_ok=True)
        return result

    def board(self, prefix: str | None = None) -> list[board.Row]:
        chosen = self.prefix(prefix)
        seen = room.observe(self.admin, self.sso, chosen, self._instance())
        return board.read_board(self.admin, seen, handout.load_state(self.out_dir, BASELINE).get("totals"))

    # --- handout ----------------------------------------------------------------------------------------
    def _models(self, state: dict[str, Any]) -> list[room.Model]:
        names = state.get("models") or [p.system_name for p in self.kit.catalogue.products]
        spec = WorkshopSpec(attendees=1, prefix=str(state.get("prefix") or "team"), plan=str(state.get("plan") or
                                                                                              "standard"),
                            models=tuple(names))
        return room.resolve_models(self.admin, self._catalogue_models(), spec)

    def _catalogue_models(self) -> dict[str, str]:
        return {p.system_name: p.kind for p in self.kit.catalogue.products}

    def _write_handout(self, prefix: str, models: list[room.Model], seen: room.Observed, passwords: dict[str, str],
                       result: StepResult) -> None:
        portal = str(self.kit.credentials.portal_url or "")
        cards = []
        for username in sorted(set(seen.accounts) | set(seen.sso)):
            apps = seen.apps.get(username) or {}
            keys = [(m.name, m.endpoint, str(apps[m.service_id]["user_key"]), m.kind) for m in models
                    if m.service_id in apps]
            cards.append(handout.Card(username, passwords.get(username, ""), portal, keys))
        csv_path, html_path = handout.write_handout(self.out_dir, f"MaaS workshop {prefix}", cards)
        result.notes.append(f"handout: {html_path} and {csv_path} ({len(cards)} attendees, mode 0600; the only "
                            "place passwords and keys are written)")
        local = handout.loopback_urls([portal, *(m.endpoint for m in models)])
        if local:
            result.notes.append(f"warning: the handout's URLs are loopback addresses ({', '.join(local)}): "
                                "attendees' machines cannot reach them")
        result.notes.append(f"{plural(self.calls, 'API call')}, {plural(self.writes, 'write')}"
                            + ("" if self.writes else " — already in sync"))


def saved_prefix(folder: Path) -> str:
    """The prefix the last `up` in `folder` used ("" when none)."""
    return str(handout.load_state(folder, STATE).get("prefix") or "")


def _rooms(base: Path) -> list[Path]:
    return sorted(p.parent for p in base.glob(f"*/{STATE}")) + ([base] if (base / STATE).exists() else [])


def room_dir(out_dir: Path | str | None, prefix: str | None = None, base: Path = DEFAULT_DIR) -> Path:
    """Where a room's handout and state live: `out_dir` when given, else `base/<prefix>`; without a prefix the one
    room found under `base` (a clear error when there are none or several)."""
    if out_dir is not None:
        return Path(out_dir)
    if prefix:
        return base / prefix
    rooms = _rooms(base)
    if len(rooms) == 1:
        return rooms[0]
    if not rooms:
        raise ConfigError(f"workshop: no room under {base}; run `maas workshop up --attendees N` first")
    names = ", ".join(str(r) for r in rooms)
    raise ConfigError(f"workshop: several rooms under {base} ({names}); pass --prefix or --out-dir")


def up_room(out_dir: Path | str | None, prefix: str | None = None, base: Path = DEFAULT_DIR) -> tuple[Path, str]:
    """Where `up` builds a room and its prefix. With `out_dir`: that folder, under `prefix` or the one its last
    `up` saved. Else `base/<prefix>`; without a prefix the one room under `base` is completed, and when there is
    none a new unguessable prefix (`ws` + 4 hex digits, issue 23) gets its own folder. Nothing is created here."""
    if out_dir is not None:
        return Path(out_dir), prefix or saved_prefix(Path(out_dir))  # "": WorkshopSpec draws one
    if not prefix:
        rooms = _rooms(base)
        if len(rooms) > 1:
            names = ", ".join(str(r) for r in rooms)
            raise ConfigError(f"workshop: several rooms under {base} ({names}); pass --prefix or --out-dir")
        if rooms and saved_prefix(rooms[0]):
            return rooms[0], saved_prefix(rooms[0])
        prefix = default_prefix()
    return base / prefix, prefix


def attendee(prefix: str, number: int) -> Attendee:
    return Attendee(prefix, number)
