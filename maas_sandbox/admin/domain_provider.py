"""The provider (tenant) side: the provider account, its admin users and personal access tokens, tenants
(Master API), developer-portal SSO providers, fields definitions and the webhook settings. Every write of
these goes through here; the routes validate porta's parameters and pass the values.
"""

from __future__ import annotations

import secrets
from typing import Any

from maas_sandbox.admin.domain_common import PlainWrites
from maas_sandbox.context import Sandbox

Obj = dict[str, Any]
KINDS = ("provider", "provider_user", "access_token", "tenant", "authentication_provider", "fields_definition")
# porta app/lib/fields/fields.rb: the fields a tenant has from its creation (target, name, label, required)
DEFAULT_FIELDS = (
    ("Account", "org_name", "Organization/Group Name", True),
    ("User", "username", "Username", True),
    ("User", "email", "Email", True),
    ("User", "password", "Password", True),
    ("Cinstance", "name", "Name", True),
    ("Cinstance", "description", "Description", True),
)


# -- plain writes (values already validated by the route) ------------------------------------------------
_plain = PlainWrites(KINDS)
create, update, delete = _plain.create, _plain.update, _plain.delete


# -- rules ------------------------------------------------------------------------------------------------
def delete_provider_user(sandbox: Sandbox, user: Obj) -> None:
    """An admin user goes with the access tokens it owns."""
    sandbox.store.delete("provider_user", user["id"])
    sandbox.store.delete_where("access_token", owner_id=user["id"])


def create_access_token(sandbox: Sandbox, name: str, scopes: list[str], permission: str,
                        expires_at: Any) -> Obj:
    """A personal access token with a generated value (shown once, on creation)."""
    return sandbox.store.insert("access_token", {
        "name": name, "scopes": scopes, "permission": permission, "expires_at": expires_at,
        "owner_id": None, "_value": secrets.token_hex(32),
    })  # fmt: skip


def create_tenant(sandbox: Sandbox, values: Obj) -> tuple[Obj, Obj, str]:
    """A tenant with its generated admin token and the "Administration" access token naming it:
    (tenant, access token row, token value)."""
    token_value = secrets.token_hex(32)
    tenant = sandbox.store.insert("tenant", {**values, "_admin_token": token_value})
    token = sandbox.store.insert("tenant_access_token", {
        "tenant_id": tenant["id"], "name": "Administration", "scopes": ["account_management"], "permission": "rw",
    })  # fmt: skip
    return tenant, token, token_value


def fields_definitions(sandbox: Sandbox) -> list[Obj]:
    """The tenant's fields definitions; the defaults are created on first use."""
    store = sandbox.store
    with store.transaction():
        if not store.kv_get("fields_definitions_seeded"):
            for position, (target, name, label, required) in enumerate(DEFAULT_FIELDS):
                store.insert("fields_definition", {
                    "target": target, "name": name, "label": label, "required": required, "hidden": False,
                    "read_only": False, "choices": [], "position": position,
                })  # fmt: skip
            store.kv_set("fields_definitions_seeded", True)
    return store.list("fields_definition")


def save_webhook(sandbox: Sandbox, webhook: Obj) -> None:
    """The one webhook settings record of the provider (web_hook.rb); deliveries are not sent."""
    sandbox.store.kv_set("webhook", webhook)
