"""Reconcile as data: planners compare desired with observed and return `Action`s (object, operation,
field-level old → new, and the Admin API requests that make it so); one executor runs them.

Planners are pure: no client, no I/O. The same actions are shown by `plan` (nothing sent), sent by `apply`,
and listed by the teardown preview (`plan_destroy`). An object that does not exist yet is referred to by a
`Ref`: the executor fills in the id its create returned before sending the requests that need it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from maas_helpers.normalise import comparable
from maas_helpers.results import Action, Change, FieldChange

__all__ = ["Action", "Change", "FieldChange", "Ref", "Write", "act", "field_changes"]


@dataclass(frozen=True)
class Ref:
    """The id (or another field) of an object created by an earlier write of the same plan."""

    key: str
    field: str = "id"

    def __str__(self) -> str:
        return f"<{self.field} of {self.key}>"


@dataclass(frozen=True)
class Write:
    """One Admin API request. `path` may hold `{}` slots filled from `args` (ids or `Ref`s); `body` values may
    be `Ref`s too. `provides` names the created object for later `Ref`s. `form`/`files`: a multipart request
    (CMS files) instead of JSON. `master`: sent to the Master API. `after`: `provides` keys of writes that must
    have been sent first although nothing of their answer is used (porta refuses a pricing rule over a range an
    old rule still holds, a plan that still has applications, a backend a product still uses). `owns`: the
    kind (`maas_helpers.ownership.INVENTORY_KINDS`) the kit's inventory records this create as, or — on a
    DELETE — forgets."""

    method: str
    path: str
    body: Mapping[str, Any] | None = field(default=None, repr=False)  # may hold a secret (SSO client_secret)
    args: tuple[Any, ...] = ()
    provides: str | None = None
    form: Mapping[str, str] | None = field(default=None, repr=False)
    files: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    master: bool = False
    after: tuple[str, ...] = ()
    owns: str | None = None

    @property
    def refs(self) -> list[Ref]:
        return [v for v in (*self.args, *(self.body or {}).values()) if isinstance(v, Ref)]

    def resolved(self, known: Mapping[str, Mapping[str, Any]]) -> tuple[str, dict[str, Any] | None]:
        """The path and body with every `Ref` replaced by what `known` (key → created object) holds."""
        def value(v: Any) -> Any:
            return known[v.key][v.field] if isinstance(v, Ref) else v

        path = self.path.format(*(value(a) for a in self.args)) if self.args else self.path
        body = {k: value(v) for k, v in self.body.items()} if self.body is not None else None
        return path, body

    def __str__(self) -> str:
        path = self.path.format(*(str(a) for a in self.args)) if self.args else self.path
        return f"{self.method} {path}"


def field_changes(observed: Mapping[str, Any], desired: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    """The desired fields whose observed value differs, compared through `maas_helpers.normalise`."""
    return tuple(FieldChange(k, observed.get(k), v) for k, v in desired.items()
                 if comparable(k, observed.get(k)) != comparable(k, v))


def act(kind: str, name: str, change: Change, *writes: Write, changes: Iterable[FieldChange] = (),
        detail: str = "", link: str | None = None) -> Action:
    """An action; without a `detail` the field changes describe it ("field: old → new; …")."""
    changes = tuple(changes)
    if not detail and changes:
        detail = "; ".join(str(c) for c in changes)
    return Action(kind, name, change, detail, link, changes=changes, writes=tuple(writes))


@dataclass(frozen=True)
class Links:
    """Where a learner sees an object in the admin portal (porta's routes.rb paths); pure formatting."""

    admin_url: str

    def page(self, path: str) -> str:
        return f"{self.admin_url}{path}"

    def product(self, service_id: Any, tail: str = "") -> str | None:
        return self.page(f"/apiconfig/services/{service_id}{tail}") if service_id else None

    def backend(self, backend_id: Any) -> str | None:
        return self.page(f"/p/admin/backend_apis/{backend_id}") if backend_id else None
