"""Keycloak's admin REST API as the sandbox SSO serves it: realm import/read/update, clients and users.

Shapes follow Keycloak's `UsersResource` / `UserResource` (services/src/main/java/org/keycloak/services/
resources/admin/): list with `username`, `exact`, `q` (attribute `key:value` pairs), `first`, `max`; create answers
201 with a Location and 409 "User exists with same username"; read/update/delete by id (404 "User not found");
`reset-password` takes a CredentialRepresentation. A password credential with `temporary: true` adds the
UPDATE_PASSWORD required action, as Keycloak does. Credentials are hashed before storage and never returned.
Authorisation: the master bearer token (the sandbox's stand-in for a master-realm admin-cli token), checked by
the router's dependency before any route runs (401 `HTTP 401 Unauthorized`, as Keycloak).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from argon2 import PasswordHasher
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from maas_sandbox.context import Sandbox
from maas_sandbox.login_guard import hash_off_loop
from maas_sandbox.sso.realms import (
    KIND,
    RealmError,
    client_view,
    create_realm,
    get_realm,
    realm_view,
    save_users,
    update_realm,
)
from maas_sandbox.sso.state import SsoDep, require_master_bearer

Obj = dict[str, Any]
# Keycloak's argon2 provider defaults (Argon2PasswordHashProviderFactory: 7168 KiB, 5 iterations, parallelism 1);
# the accounts domain's verifier reads the parameters from the hash.
_hasher = PasswordHasher(time_cost=5, memory_cost=7168, parallelism=1, hash_len=32)
UPDATE_PASSWORD = "UPDATE_PASSWORD"
_FIELDS = ("username", "email", "firstName", "lastName", "enabled", "emailVerified", "attributes", "requiredActions")


def user_view(user: Obj) -> Obj:
    """A UserRepresentation without credentials."""
    return {
        "id": user["id"],
        "username": user["username"],
        "enabled": user.get("enabled", True),
        "emailVerified": bool(user.get("emailVerified", False)),
        "firstName": user.get("firstName"),
        "lastName": user.get("lastName"),
        "email": user.get("email"),
        "attributes": user.get("attributes") or {},
        "requiredActions": list(user.get("requiredActions") or []),
        "createdTimestamp": user.get("createdTimestamp"),
        "totp": False,
        "disableableCredentialTypes": [],
        "notBefore": 0,
    }


async def hash_credential(value: str) -> str:
    """Keycloak-parameter argon2 in the hashing thread (never on the loop that serves the gateways)."""
    return await hash_off_loop(value, _hasher.hash)


def set_password(user: Obj, hashed: str, temporary: bool) -> None:
    """Replace the user's password by `hashed` (from hash_credential); `temporary` adds UPDATE_PASSWORD."""
    user["credentials"] = [{"type": "password", "_hash": hashed}]
    actions = [a for a in user.get("requiredActions") or [] if a != UPDATE_PASSWORD]
    user["requiredActions"] = [*actions, UPDATE_PASSWORD] if temporary else actions


def _matches_q(user: Obj, q: str) -> bool:
    """Keycloak's `q=key1:value1 key2:value2`: every attribute pair must match exactly."""
    attrs = user.get("attributes") or {}
    for pair in q.split():
        key, _, value = pair.partition(":")
        if value not in (attrs.get(key) or []):
            return False
    return True


router = APIRouter(dependencies=[Depends(require_master_bearer)])
USERS = "/admin/realms/{realm}/users"


# -- realms --------------------------------------------------------------------------------------
@router.post("/admin/realms")
async def import_realm(request: Request, sso: SsoDep) -> Response:
    try:
        created = create_realm(sso.sandbox, await request.json())
    except FileExistsError as exc:
        return JSONResponse({"errorMessage": f"Conflict detected. See logs for details: {exc}"}, status_code=409)
    except (RealmError, ValueError) as exc:
        return JSONResponse({"errorMessage": str(exc)}, status_code=400)
    return Response(status_code=201, headers={"Location": f"{sso.sandbox.sso_url}/admin/realms/{created['realm']}"})


@router.put("/admin/realms/{realm}")
async def put_realm(realm: str, request: Request, sso: SsoDep) -> Response:
    try:
        update_realm(sso.sandbox, realm, await request.json())
    except KeyError:
        return JSONResponse({"error": "Realm not found."}, status_code=404)
    except (RealmError, ValueError) as exc:
        return JSONResponse({"errorMessage": str(exc)}, status_code=400)
    return Response(status_code=204)


@router.get("/admin/realms/{realm}")
async def read_realm(realm: str, sso: SsoDep) -> Response:
    found = get_realm(sso.sandbox, realm)
    if found is None:
        return JSONResponse({"error": "Realm not found."}, status_code=404)
    return JSONResponse(realm_view(found))


def _realm_row(sandbox: Sandbox, realm: str) -> Obj | Response:
    row = sandbox.store.first(KIND, realm=realm)
    return JSONResponse({"error": "Realm not found."}, status_code=404) if row is None else row


# -- clients -------------------------------------------------------------------------------------
@router.get("/admin/realms/{realm}/clients")
async def list_clients(realm: str, request: Request, sso: SsoDep) -> Response:
    """Keycloak's ClientsResource.getClients: every client, or the one whose `clientId` is given."""
    row = _realm_row(sso.sandbox, realm)
    if isinstance(row, Response):
        return row
    wanted = request.query_params.get("clientId")
    clients = [c for c in row.get("clients") or [] if not wanted or c.get("clientId") == wanted]
    return JSONResponse([client_view(c) for c in clients])


# -- users ---------------------------------------------------------------------------------------


@router.get(USERS)
async def list_users(realm: str, request: Request, sso: SsoDep) -> Response:
    row = _realm_row(sso.sandbox, realm)
    if isinstance(row, Response):
        return row
    q = request.query_params
    users = list(row.get("users") or [])
    exact = q.get("exact", "false").lower() == "true"
    if q.get("username"):
        wanted = q["username"].lower()
        users = [u for u in users if (u["username"] == wanted if exact else wanted in u["username"])]
    if q.get("email"):
        users = [u for u in users if str(u.get("email") or "").lower() == q["email"].lower()]
    if q.get("q"):
        users = [u for u in users if _matches_q(u, q["q"])]
    first, count = int(q.get("first", 0)), int(q.get("max", 100))
    return JSONResponse([user_view(u) for u in users[first : first + count]])


@router.get(USERS + "/count")
async def count_users(realm: str, sso: SsoDep) -> Response:
    row = _realm_row(sso.sandbox, realm)
    return row if isinstance(row, Response) else JSONResponse(len(row.get("users") or []))


@router.post(USERS)
async def create_user(realm: str, request: Request, sso: SsoDep) -> Response:
    if isinstance(row := _realm_row(sso.sandbox, realm), Response):
        return row
    rep = await request.json()
    username = str(rep.get("username") or "").strip().lower()
    if not username:
        return JSONResponse({"errorMessage": "User name is missing"}, status_code=400)
    passwords = [c for c in rep.get("credentials") or [] if c.get("type", "password") == "password" and c.get("value")]
    hashed = [(await hash_credential(str(c["value"])), bool(c.get("temporary", False))) for c in passwords]
    if isinstance(row := _realm_row(sso.sandbox, realm), Response):  # read after hashing: others wrote meanwhile
        return row
    users = list(row.get("users") or [])
    if any(u["username"] == username for u in users):
        return JSONResponse({"errorMessage": "User exists with same username"}, status_code=409)
    email = rep.get("email")
    if email and any(str(u.get("email") or "").lower() == str(email).lower() for u in users):
        return JSONResponse({"errorMessage": "User exists with same email"}, status_code=409)
    user: Obj = {k: rep[k] for k in _FIELDS if k in rep}
    user.update({"id": str(uuid.uuid4()), "username": username, "credentials": [],
                 "createdTimestamp": int(time.time() * 1000)})
    user.setdefault("enabled", True)
    user["requiredActions"] = list(user.get("requiredActions") or [])
    for value, temporary in hashed:
        set_password(user, value, temporary)
    save_users(sso.sandbox, row, [*users, user])
    location = f"{sso.sandbox.sso_url}/admin/realms/{realm}/users/{user['id']}"
    return Response(status_code=201, headers={"Location": location})


def user_at(sandbox: Sandbox, realm: str, user_id: str) -> tuple[Obj, list[Obj], int] | Response:
    """The realm row, its users and the index of `user_id`; or the 404 Keycloak answers."""
    row = _realm_row(sandbox, realm)
    if isinstance(row, Response):
        return row
    users = list(row.get("users") or [])
    index = next((i for i, u in enumerate(users) if u.get("id") == user_id), -1)
    if index < 0:
        return JSONResponse({"error": "User not found"}, status_code=404)
    return row, users, index


@router.get(USERS + "/{user_id}")
async def read_user(realm: str, user_id: str, sso: SsoDep) -> Response:
    found = user_at(sso.sandbox, realm, user_id)
    if isinstance(found, Response):
        return found
    _row, users, index = found
    return JSONResponse(user_view(users[index]))


@router.put(USERS + "/{user_id}")
async def update_user(realm: str, user_id: str, request: Request, sso: SsoDep) -> Response:
    found = user_at(sso.sandbox, realm, user_id)
    if isinstance(found, Response):
        return found
    row, users, index = found
    rep = await request.json()
    users[index].update({k: rep[k] for k in _FIELDS if k in rep and k != "username"})
    save_users(sso.sandbox, row, users)
    return Response(status_code=204)


@router.put(USERS + "/{user_id}/reset-password")
async def reset_password(realm: str, user_id: str, request: Request, sso: SsoDep) -> Response:
    if isinstance(found := user_at(sso.sandbox, realm, user_id), Response):
        return found
    cred = await request.json()
    if not cred.get("value"):
        return JSONResponse({"error": "invalidPasswordMinLengthMessage"}, status_code=400)
    hashed = await hash_credential(str(cred["value"]))
    if isinstance(found := user_at(sso.sandbox, realm, user_id), Response):  # read after hashing
        return found
    row, users, index = found
    set_password(users[index], hashed, bool(cred.get("temporary", True)))
    save_users(sso.sandbox, row, users)
    return Response(status_code=204)


@router.post(USERS + "/{user_id}/logout")
async def logout_user(realm: str, user_id: str, sso: SsoDep) -> Response:
    """Keycloak UserResource.logout: ends the user's sessions (204). The sandbox SSO keeps no login session
    (every authorize shows the form), so there is nothing to end beyond finding the user (404 if unknown)."""
    found = user_at(sso.sandbox, realm, user_id)
    if isinstance(found, Response):
        return found
    return Response(status_code=204)


@router.delete(USERS + "/{user_id}")
async def delete_user(realm: str, user_id: str, sso: SsoDep) -> Response:
    found = user_at(sso.sandbox, realm, user_id)
    if isinstance(found, Response):
        return found
    row, users, index = found
    del users[index]
    save_users(sso.sandbox, row, users)
    return Response(status_code=204)
