"""What the products-side domain modules share: porta's validation messages, generated system names, the
422/404 helpers and the provider account (domain_services, domain_backends, domain_metrics, domain_policies).
"""

from __future__ import annotations

import re
from typing import Any

from maas_sandbox.admin.conventions import NotFound, Unprocessable
from maas_sandbox.context import Sandbox

Obj = dict[str, Any]

BLANK = "can't be blank"
TAKEN = "has already been taken"

def system_name_from(text: str) -> str:
    """Generated system names: lower-case, runs of anything but letters/digits/`-` become `_`."""
    return re.sub(r"[^a-z0-9\-]+", "_", text.strip().lower()).strip("_") or "unnamed"


def text_of(attrs: Obj, key: str) -> str | None:
    value = attrs.get(key)
    if value is None:
        return None
    return str(value)


def check_system_name(errors: dict[str, list[str]], name: str) -> None:
    if not re.fullmatch(r"[\w\-.]+", name):
        errors.setdefault("system_name", []).append("invalid. Only ASCII letters, numbers, dashes and underscores "
                                                    "are allowed.")


def new_system_name(sandbox: Sandbox, kind: str, attrs: Obj, values: Obj, errors: dict[str, list[str]]) -> str:
    """The system name of a new service or backend: given, or generated from the name; checked for porta's
    format and uniqueness (errors collected, not raised)."""
    system_name = str(attrs.get("system_name") or system_name_from(values.get("name") or ""))
    check_system_name(errors, system_name)
    if sandbox.store.first(kind, system_name=system_name):
        errors.setdefault("system_name", []).append(TAKEN)
    return system_name


class PlainWrites:
    """Inserts, updates and deletes of rows a route has already validated, limited to the kinds one domain
    module owns (a write of another kind is a programming error)."""

    def __init__(self, kinds: frozenset[str] | set[str] | tuple[str, ...]) -> None:
        self.kinds = frozenset(kinds)

    def _own(self, kind: str) -> None:
        if kind not in self.kinds:
            raise ValueError(f"{kind!r} is not written by this domain module ({', '.join(sorted(self.kinds))})")

    def create(self, sandbox: Sandbox, kind: str, values: Obj) -> Obj:
        self._own(kind)
        return sandbox.store.insert(kind, values)

    def update(self, sandbox: Sandbox, kind: str, item: Obj, changes: Obj) -> Obj:
        self._own(kind)
        return sandbox.store.update(kind, item["id"], changes)

    def delete(self, sandbox: Sandbox, kind: str, item: Obj) -> None:
        self._own(kind)
        sandbox.store.delete(kind, item["id"])


def fail(errors: dict[str, list[str]]) -> None:
    if errors:
        raise Unprocessable(errors)


def get_or_404(sandbox: Sandbox, kind: str, obj_id: int | str | None) -> Obj:
    obj = sandbox.store.get(kind, obj_id)
    if obj is None:
        raise NotFound()
    return obj


def provider_account_id(sandbox: Sandbox) -> int | None:
    provider = sandbox.store.first("provider")
    return provider["id"] if provider else None
