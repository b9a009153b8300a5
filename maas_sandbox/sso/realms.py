"""Realm representations (Keycloak's import format, the shape of manifests/sso/realm.yaml) kept in the store.

Passwords in `users[].credentials` arrive in clear text, as Keycloak's import accepts them; they are hashed
(argon2, the accounts domain's hasher) before the representation is persisted, so the store never holds them.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from maas_sandbox.admin.domain_accounts import hash_password, verify_password
from maas_sandbox.context import Sandbox

Obj = dict[str, Any]
KIND = "sso_realm"


class RealmError(ValueError):
    """A realm representation Keycloak would refuse (message is Keycloak-like, one line)."""


def _prepare(rep: Obj) -> Obj:
    if not isinstance(rep, dict) or not isinstance(rep.get("realm"), str) or not rep["realm"].strip():
        raise RealmError("realm name is required")
    clean = copy.deepcopy(rep)
    for client in clean.get("clients") or []:
        if not client.get("clientId"):
            raise RealmError("clientId is required for every client")
        client.setdefault("id", str(uuid.uuid4()))  # Keycloak's client UUID (the admin API's {client-uuid})
        if not client.get("publicClient", False) and not client.get("secret"):
            raise RealmError(f"confidential client {client['clientId']} needs a secret")
    for user in clean.get("users") or []:
        if not user.get("username"):
            raise RealmError("username is required for every user")
        user["username"] = str(user["username"]).lower()  # Keycloak stores usernames lower-cased
        user.setdefault("id", str(uuid.uuid4()))
        user.setdefault("enabled", True)
        hashed = []
        for cred in user.get("credentials") or []:
            if cred.get("type") == "password" and "value" in cred:
                hashed.append({"type": "password", "_hash": hash_password(str(cred["value"]))})
            elif "_hash" in cred:
                hashed.append(cred)
        user["credentials"] = hashed
    return clean


def get_realm(sandbox: Sandbox, name: str) -> Obj | None:
    found = sandbox.store.first(KIND, realm=name)
    if found is None or found.get("enabled", True) is False:
        return None
    return found


def create_realm(sandbox: Sandbox, rep: Obj) -> Obj:
    prepared = _prepare(rep)
    with sandbox.store.transaction():
        if sandbox.store.first(KIND, realm=prepared["realm"]) is not None:
            raise FileExistsError(prepared["realm"])
        return sandbox.store.insert(KIND, prepared)


def update_realm(sandbox: Sandbox, name: str, rep: Obj) -> Obj:
    """Keycloak's PUT replaces the given top-level fields; users keep their ids when usernames match."""
    current = sandbox.store.first(KIND, realm=name)
    if current is None:
        raise KeyError(name)
    merged = {k: v for k, v in current.items() if k not in ("id", "created_at", "updated_at")}
    merged.update(rep)
    merged["realm"] = rep.get("realm", name)
    old_clients = {c.get("clientId"): c for c in current.get("clients") or []}
    for client in merged.get("clients") or []:  # a client keeps its UUID across updates, as in Keycloak
        if client.get("clientId") in old_clients and old_clients[client["clientId"]].get("id"):
            client.setdefault("id", old_clients[client["clientId"]]["id"])
    old_users = {u["username"]: u for u in current.get("users") or []}
    for user in merged.get("users") or []:
        previous = old_users.get(str(user.get("username", "")).lower())
        if previous is not None:
            user.setdefault("id", previous["id"])
            if not user.get("credentials"):
                user["credentials"] = previous.get("credentials", [])
    # Keycloak's realm update leaves users alone: users the representation does not name stay (e.g. the ones
    # created through the users API by `maas workshop up`).
    named = {str(u.get("username", "")).lower() for u in merged.get("users") or []}
    if "users" in rep:
        merged["users"] = [*(merged.get("users") or []), *(u for n, u in old_users.items() if n not in named)]
    return sandbox.store.update(KIND, current["id"], _prepare(merged))


def realm_view(realm: Obj) -> Obj:
    """GET /admin/realms/{realm}: the top-level representation only, no clients or users (Keycloak's
    RealmAdminResource.getRealm: "It will not include nested information like User and Client
    representations")."""
    return {k: copy.deepcopy(v) for k, v in realm.items() if k not in ("id", "created_at", "updated_at", "clients",
                                                                         "users")}


def client_view(client: Obj) -> Obj:
    """A ClientRepresentation as Keycloak's GET …/clients serves it: the secret of a confidential client is
    included, a public or bearer-only client's is not (ModelToRepresentation.toRepresentation(ClientModel))."""
    view = copy.deepcopy(client)
    if view.get("publicClient") or view.get("bearerOnly"):
        view.pop("secret", None)
    return view


def find_client(realm: Obj, client_id: str | None) -> Obj | None:
    return next((c for c in realm.get("clients") or [] if c.get("clientId") == client_id), None)


def find_user(realm: Obj, *, username: str | None = None, user_id: str | None = None) -> Obj | None:
    for user in realm.get("users") or []:
        if username is not None and (
            user["username"] == username.lower() or str(user.get("email", "")).lower() == username.lower()
        ):
            return user
        if user_id is not None and user.get("id") == user_id:
            return user
    return None


def check_password(user: Obj, password: str) -> bool:
    if not user.get("enabled", True):
        return False
    return any(verify_password(c.get("_hash"), password) for c in user.get("credentials") or [])


def _user_value(user: Obj, attribute: str) -> Any:
    if attribute in user and not isinstance(user[attribute], dict | list):
        return user[attribute]
    values = (user.get("attributes") or {}).get(attribute)
    if isinstance(values, list):
        return values[0] if values else None
    return values


def mapped_claims(client: Obj, user: Obj, token: str) -> Obj:
    """Claims added by the client's protocol mappers for `token` in id|access|userinfo."""
    flag = {"id": "id.token.claim", "access": "access.token.claim", "userinfo": "userinfo.token.claim"}[token]
    claims: Obj = {}
    for mapper in client.get("protocolMappers") or []:
        config = mapper.get("config") or {}
        if str(config.get(flag, "false")).lower() != "true":
            continue
        if mapper.get("protocolMapper") not in ("oidc-usermodel-property-mapper", "oidc-usermodel-attribute-mapper"):
            continue
        claim, attribute = config.get("claim.name"), config.get("user.attribute")
        if claim and attribute:
            value = _user_value(user, attribute)
            if value is not None:
                claims[claim] = value
    return claims


def standard_claims(user: Obj) -> Obj:
    first, last = user.get("firstName") or "", user.get("lastName") or ""
    claims: Obj = {"sub": user["id"], "preferred_username": user["username"]}
    if user.get("email"):
        claims["email"] = user["email"]
        claims["email_verified"] = bool(user.get("emailVerified", False))
    if first or last:
        claims["name"] = f"{first} {last}".strip()
        claims["given_name"] = first
        claims["family_name"] = last
    return claims


def save_users(sandbox: Sandbox, realm_row: Obj, users: list[Obj]) -> Obj:
    """Replace a realm's users as they are (already hashed: the users API and the login flow's password
    change prepare them); the only other writer of realm rows besides create/update_realm."""
    return sandbox.store.update(KIND, realm_row["id"], {"users": users})
