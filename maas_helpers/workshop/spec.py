"""What a workshop is: N attendees named `<prefix>-NNN`, one application per chosen model on one plan.

Ownership is the kit's admin-only mark (`maas_helpers.ownership`: the hidden, read-only `maas_owner` extra
field, sent with the signup and each application create); the names below only say which attendee an object
is for: the 3scale account's org name `<username> [maas-workshop]`, each application's description
`maas-workshop:<prefix>:<username>`, and the SSO user's attribute `maas_workshop=<prefix>` (set by the admin
REST API; the realm's user profile does not let users edit it). An account with a workshop org name but
without the mark is someone else's: never adopted, never deleted.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

from maas_helpers.errors import ConfigError

MAX_ATTENDEES = 500
MARKER = "maas-workshop"
SSO_ATTRIBUTE = "maas_workshop"
# A username both porta (`[\w.@-]`) and Keycloak (lower-cased) keep as given; short enough for "-NNN".
_PREFIX = re.compile(r"^[a-z][a-z0-9_.-]{0,29}$")


@dataclass(frozen=True)
class Attendee:
    prefix: str
    number: int

    @property
    def username(self) -> str:
        return f"{self.prefix}-{self.number:03d}"

    @property
    def email(self) -> str:
        return f"{self.username}@workshop.example"

    @property
    def org_name(self) -> str:
        return f"{self.username} [{MARKER}]"

    @property
    def marker(self) -> str:
        return f"{MARKER}:{self.prefix}:{self.username}"

    def app_name(self, model: str) -> str:
        return f"{self.username} {model}"


def default_prefix() -> str:
    """A prefix outsiders cannot guess before `up` (so nobody pre-registers an attendee's username or e-mail),
    still short enough to read on a handout: `ws` + 4 hex digits, e.g. `ws3f9a-001`."""
    return f"ws{secrets.token_hex(2)}"


@dataclass(frozen=True)
class WorkshopSpec:
    attendees: int
    prefix: str = field(default_factory=default_prefix)
    plan: str = "standard"
    models: tuple[str, ...] = field(default_factory=tuple)  # empty: every model of the catalogue

    def __post_init__(self) -> None:
        if self.prefix == "":  # "" = choose one (notebook 12's `prefix = None`)
            object.__setattr__(self, "prefix", default_prefix())
        # One line each, before anything is read or written.
        if not isinstance(self.attendees, int) or not 1 <= self.attendees <= MAX_ATTENDEES:
            raise ConfigError(f"workshop: --attendees must be between 1 and {MAX_ATTENDEES} (got {self.attendees})")
        if not _PREFIX.match(self.prefix or ""):
            raise ConfigError(
                f"workshop: --prefix {self.prefix!r} is not a valid username prefix (lowercase letter first, then "
                "a-z 0-9 . _ -, at most 30 characters)")

    def people(self) -> list[Attendee]:
        return [Attendee(self.prefix, n) for n in range(1, self.attendees + 1)]


def number_of(prefix: str, username: str) -> int | None:
    """The attendee number when `username` is one of this workshop's, else None."""
    match = re.fullmatch(re.escape(prefix) + r"-(\d{3})", username or "")
    return int(match.group(1)) if match else None


def is_workshop_org(prefix: str, org_name: str) -> str | None:
    """The username encoded in a workshop account's org name (None for any other account)."""
    suffix = f" [{MARKER}]"
    if not (org_name or "").endswith(suffix):
        return None
    username = org_name[: -len(suffix)]
    return username if number_of(prefix, username) is not None else None
