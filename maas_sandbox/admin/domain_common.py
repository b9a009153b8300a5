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
