"""The users and clients part of Keycloak's admin REST API, as the sandbox SSO serves it.

Shapes follow Keycloak's `UsersResource` / `UserResource` (services/src/main/java/org/keycloak/services/
resources/admin/): list with `username`, `exact`, `q` (attribute `key:value` pairs), `first`, `max`; create answers
201 with a Location and 409 "User exists with same username"; read/update/delete by id (404 "User not found");
`reset-password` takes a CredentialRepresentation. A password credential with `temporary: true` adds the
UPDATE_PASSWORD required action, as Keycloak does. Credentials are hashed before storage and never returned.
Authorisation: the master bearer token (the sandbox's stand-in for a master-realm admin-cli token).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from argon2 import PasswordHasher
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from maas_sandbox.context import Sandbox
from maas_sandbox.sso.realms import KIND, client_view

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


def set_password(user: Obj, value: str, temporary: bool) -> None:
    user["credentials"] = [{"type": "password", "_hash": _hasher.hash(value)}]
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


def router(sandbox: Sandbox, authorised: Callable[[Request], bool]) -> APIRouter:
    api = APIRouter()
    base = "/admin/realms/{realm}/users"
    unauthorized = {"error": "HTTP 401 Unauthorized"}

    def realm_row(name: str) -> Obj | None:
        return sandbox.store.first(KIND, realm=name)

    def save(row: Obj, users: list[Obj]) -> None:
        sandbox.store.update(KIND, row["id"], {"users": users})

    def guard(request: Request, realm: str) -> tuple[Obj | None, Response | None]:
        if not authorised(request):
            return None, JSONResponse(unauthorized, status_code=401)
        row = realm_row(realm)
        if row is None:
            return None, JSONResponse({"error": "Realm not found."}, status_code=404)
        return row, None

    @api.get("/admin/realms/{realm}/clients")
    async def list_clients(realm: str, request: Request) -> Response:
        """Keycloak's ClientsResource.getClients: every client, or the one whose `clientId` is given."""
        row, error = guard(request, realm)
        if error:
            return error
        wanted = request.query_params.get("clientId")
        clients = [c for c in row.get("clients") or [] if not wanted or c.get("clientId") == wanted]  # type: ignore[union-attr]
        return JSONResponse([client_view(c) for c in clients])

    @api.get(base)
    async def list_users(realm: str, request: Request) -> Response:
        row, error = guard(request, realm)
        if error:
            return error
        q = request.query_params
        users = list(row.get("users") or [])  # type: ignore[union-attr]
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

    @api.get(base + "/count")
    async def count_users(realm: str, request: Request) -> Response:
        row, error = guard(request, realm)
        return error or JSONResponse(len(row.get("users") or []))  # type: ignore[union-attr]

    @api.post(base)
    async def create_user(realm: str, request: Request) -> Response:
        row, error = guard(request, realm)
        if error:
            return error
        rep = await request.json()
        username = str(rep.get("username") or "").strip().lower()
        if not username:
            return JSONResponse({"errorMessage": "User name is missing"}, status_code=400)
        users = list(row.get("users") or [])  # type: ignore[union-attr]
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
        for cred in rep.get("credentials") or []:
            if cred.get("type", "password") == "password" and cred.get("value"):
                set_password(user, str(cred["value"]), bool(cred.get("temporary", False)))
        save(row, [*users, user])  # type: ignore[arg-type]
        location = f"{sandbox.sso_url}/admin/realms/{realm}/users/{user['id']}"
        return Response(status_code=201, headers={"Location": location})

    def user_at(request: Request, realm: str, user_id: str) -> tuple[Obj, list[Obj], int] | Response:
        """The realm row, its users and the index of `user_id`; or the 401/404 Keycloak answers."""
        row, error = guard(request, realm)
        if error:
            return error
        users = list(row.get("users") or [])  # type: ignore[union-attr]
        index = next((i for i, u in enumerate(users) if u.get("id") == user_id), -1)
        if index < 0:
            return JSONResponse({"error": "User not found"}, status_code=404)
        return row, users, index  # type: ignore[return-value]

    @api.get(base + "/{user_id}")
    async def read_user(realm: str, user_id: str, request: Request) -> Response:
        found = user_at(request, realm, user_id)
        if isinstance(found, Response):
            return found
        row, users, index = found
        return JSONResponse(user_view(users[index]))

    @api.put(base + "/{user_id}")
    async def update_user(realm: str, user_id: str, request: Request) -> Response:
        found = user_at(request, realm, user_id)
        if isinstance(found, Response):
            return found
        row, users, index = found
        rep = await request.json()
        users[index].update({k: rep[k] for k in _FIELDS if k in rep and k != "username"})
        save(row, users)
        return Response(status_code=204)

    @api.put(base + "/{user_id}/reset-password")
    async def reset_password(realm: str, user_id: str, request: Request) -> Response:
        found = user_at(request, realm, user_id)
        if isinstance(found, Response):
            return found
        row, users, index = found
        cred = await request.json()
        if not cred.get("value"):
            return JSONResponse({"error": "invalidPasswordMinLengthMessage"}, status_code=400)
        set_password(users[index], str(cred["value"]), bool(cred.get("temporary", True)))
        save(row, users)
        return Response(status_code=204)

    @api.delete(base + "/{user_id}")
    async def delete_user(realm: str, user_id: str, request: Request) -> Response:
        found = user_at(request, realm, user_id)
        if isinstance(found, Response):
            return found
        row, users, index = found
        del users[index]
        save(row, users)
        return Response(status_code=204)

    return api
