"""Extra fields on accounts, users and applications, as porta keeps them.

porta 3scale-2.16-stable:
- app/lib/fields/extra_fields.rb `extra_fields=`: only names the provider defined (a fields definition of that
  target that is not a built-in attribute) are stored; anything else sent is dropped silently.
- app/models/fields_definition.rb `editable_by?`: a provider user may set every field; a buyer (developer) user
  only the fields that are neither `hidden` nor `read_only`. The developer portal's signup and edit forms build
  their inputs from `editable_defined_fields_for(user)` (app/lib/fields/fields.rb), so a hidden or read-only
  field can only be written through the Admin API.
- app/representers/extra_fields_representer.rb: the Admin API shows each defined extra field as a top-level
  attribute of the account / application.
- Targets: Account, User, Cinstance (the application) — nothing else has extra fields.

Stored on the object under `_extra` (internal: `public()` drops it); `extra_view` flattens it for the Admin API.
"""

from __future__ import annotations

from typing import Any

from maas_sandbox.admin import domain_provider as provider_domain
from maas_sandbox.context import Sandbox

Obj = dict[str, Any]
# Attributes the model has itself: a fields definition with one of these names is a built-in field, not extra.
BUILTIN = {
    "Account": {"org_name", "org_legaladdress", "billing_address", "vat_rate", "telephone_number"},
    "User": {"username", "email", "password", "first_name", "last_name", "job_role"},
    "Cinstance": {"name", "description", "user_key", "application_id"},
}
STORED = "_extra"


def defined(sandbox: Sandbox, target: str) -> list[Obj]:
    """The extra fields definitions of `target` (fields definitions that name no built-in attribute)."""
    return [f for f in provider_domain.fields_definitions(sandbox)
            if f["target"] == target and f["name"] not in BUILTIN[target]]


def assign(sandbox: Sandbox, target: str, current: Obj | None, params: Obj, *, by_buyer: bool) -> Obj:
    """The extra fields after taking `params`: only defined names; a buyer only the editable ones (neither
    hidden nor read-only). Existing values are kept (porta never erases a key through `extra_fields=`)."""
    values = dict(current or {})
    for field in defined(sandbox, target):
        name = field["name"]
        if name not in params:
            continue
        if by_buyer and (field.get("hidden") or field.get("read_only")):
            continue
        value = params[name]
        values[name] = value if isinstance(value, list) else "" if value is None else str(value)
    return values


def extra_view(sandbox: Sandbox, target: str, obj: Obj) -> Obj:
    """Each defined extra field as the Admin API shows it (top-level, null when unset)."""
    stored = obj.get(STORED) or {}
    return {f["name"]: stored.get(f["name"]) for f in defined(sandbox, target)}


def store(sandbox: Sandbox, kind: str, obj: Obj, values: Obj) -> Obj:
    """Save an account's / application's extra fields when they changed (the Admin API's update)."""
    if values == (obj.get(STORED) or {}):
        return obj
    return sandbox.store.update(kind, obj["id"], {STORED: values})
