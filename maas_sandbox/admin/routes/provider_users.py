"""The provider's own users (`/admin/api/users`), their member permissions, and personal access tokens.

porta 3scale-2.16-stable: config/routes.rb (admin/api users, personal/access_tokens),
app/controllers/admin/api/users_controller.rb (a provider-created user starts `pending` with role `member`;
member/admin, activate/suspend/unsuspend), app/controllers/admin/api/member_permissions_controller.rb and
app/representers/member_permissions_representer.rb (admins have every section; a member's
allowed_service_ids is nil = all products until set), app/models/admin_section.rb (section names),
app/controllers/admin/api/personal/access_tokens_controller.rb and app/representers/access_token_representer.rb
(the value is shown only on create), app/models/access_token.rb (scopes, permission ro/rw).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from maas_sandbox.admin import domain_accounts as accounts
from maas_sandbox.admin import domain_provider as provider_domain
from maas_sandbox.admin.conventions import (
    NotFound,
    Unprocessable,
    admin_router,
    collection,
    deleted,
    link,
    path_id,
    public,
    read_params,
    sandbox_of,
    wrapped,
)
from maas_sandbox.clock import iso
from maas_sandbox.context import Sandbox

router = admin_router(tags=["provider users"])
Obj = dict[str, Any]
API = "/admin/api"
SECTIONS = ("portal", "finance", "settings", "partners", "monitoring", "plans", "policy_registry")
SCOPES = ("account_management", "stats", "finance", "cms", "policy_registry")
PERMISSIONS = ("ro", "rw")
_EVENTS = {
    "activate": ("state", "active", ("pending",)),
    "suspend": ("state", "suspended", ("pending", "active")),
    "unsuspend": ("state", "active", ("suspended",)),
    "admin": ("role", "admin", None),
    "member": ("role", "member", None),
}


def _view(sandbox: Sandbox, user: Obj) -> Obj:
    view = {k: v for k, v in public(user).items() if k not in ("allowed_sections", "allowed_service_ids")}
    view["links"] = [link("self", f"{sandbox.admin_url}{API}/users/{user['id']}")]
    return view


def _user(sandbox: Sandbox, user_id: str) -> Obj:
    user = sandbox.store.get("provider_user", path_id(user_id))
    if user is None:
        raise NotFound()
    return user


def _check(sandbox: Sandbox, username: Any, email: Any, except_id: int | None = None) -> None:
    """user.rb rules, scoped to the provider's users (uniqueness_scope is the account)."""
    errors: dict[str, list[str]] = {}
    rows = sandbox.store.list("provider_user")
    if not str(username or "").strip():
        errors["username"] = ["can't be blank"]
    elif any(u["id"] != except_id and u["username"] == str(username) for u in rows):
        errors["username"] = ["has already been taken"]
    if not accounts._EMAIL.match(str(email or "")):
        errors["email"] = ["should look like an email address"]  # app/lib/authentication.rb MSG_EMAIL_BAD
    elif any(u["id"] != except_id and u["email"] == str(email) for u in rows):
        errors["email"] = ["has already been taken"]
    if errors:
        raise Unprocessable(errors)


@router.get(API + "/users.json")
async def list_users(request: Request) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    rows = sandbox.store.list("provider_user")
    for field in ("state", "role"):
        if params.get(field):
            rows = [u for u in rows if u.get(field) == params[field]]
    return collection("users", "user", [_view(sandbox, u) for u in rows])


@router.post(API + "/users.json")
async def create_user(request: Request) -> Response:
    sandbox = sandbox_of(request)
    attrs = wrapped(await read_params(request), "user")
    _check(sandbox, attrs.get("username"), attrs.get("email"))
    password = attrs.get("password") or None
    if password is not None and len(str(password)) < 6:
        raise Unprocessable({"password": ["is too short (minimum is 6 characters)"]})
    user = provider_domain.create(sandbox, "provider_user", {
        "username": str(attrs["username"]), "email": str(attrs["email"]), "state": "pending", "role": "member",
        "allowed_sections": [], "allowed_service_ids": None,
        "_password_hash": accounts.hash_password(str(password)) if password else None,
    })  # fmt: skip
    return JSONResponse({"user": _view(sandbox, user)}, status_code=201)


@router.get(API + "/users/{user_id}.json")
async def read_user(request: Request, user_id: str) -> Response:
    sandbox = sandbox_of(request)
    return JSONResponse({"user": _view(sandbox, _user(sandbox, user_id))})


@router.put(API + "/users/{user_id}.json")
async def update_user(request: Request, user_id: str) -> Response:
    sandbox = sandbox_of(request)
    attrs = wrapped(await read_params(request), "user")
    user = _user(sandbox, user_id)
    username, email = attrs.get("username", user["username"]), attrs.get("email", user["email"])
    _check(sandbox, username, email, except_id=user["id"])
    changes: Obj = {"username": str(username), "email": str(email)}
    if attrs.get("password"):
        changes["_password_hash"] = accounts.hash_password(str(attrs["password"]))
    return JSONResponse({"user": _view(sandbox, provider_domain.update(sandbox, "provider_user", user, changes))})


@router.delete(API + "/users/{user_id}.json")
async def delete_user(request: Request, user_id: str) -> Response:
    sandbox = sandbox_of(request)
    user = _user(sandbox, user_id)
    provider_domain.delete_provider_user(sandbox, user)
    return deleted()


@router.put(API + "/users/{user_id}/{event}.json")
async def user_event(request: Request, user_id: str, event: str) -> Response:
    if event == "permissions":
        return await update_permissions(request, user_id)
    sandbox = sandbox_of(request)
    if event not in _EVENTS:
        raise NotFound()
    user = _user(sandbox, user_id)
    field, value, allowed_from = _EVENTS[event]
    if allowed_from is not None and user["state"] not in allowed_from:
        raise accounts.transition_error(event)
    user = provider_domain.update(sandbox, "provider_user", user, {field: value})
    return JSONResponse({"user": _view(sandbox, user)})


def _permissions(sandbox: Sandbox, user: Obj) -> JSONResponse:
    admin = user["role"] == "admin"
    body = {
        "user_id": user["id"],
        "role": user["role"],
        "allowed_sections": sorted(SECTIONS) if admin else sorted(user.get("allowed_sections") or []),
        "allowed_service_ids": None if admin else user.get("allowed_service_ids"),
        "links": [link("user", f"{sandbox.admin_url}{API}/users/{user['id']}")],
    }
    return JSONResponse({"permissions": body})


@router.get(API + "/users/{user_id}/permissions.json")
async def read_permissions(request: Request, user_id: str) -> Response:
    sandbox = sandbox_of(request)
    return _permissions(sandbox, _user(sandbox, user_id))


def _list_param(value: Any) -> list[str] | None:
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    return [str(v) for v in values if str(v) not in ("", "[]")]  # `[]` is how clients send an empty list


@router.put(API + "/users/{user_id}/permissions.json")
async def update_permissions(request: Request, user_id: str) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    user = _user(sandbox, user_id)
    changes: Obj = {}
    sections = _list_param(params.get("allowed_sections"))
    if sections is not None:
        # porta member_permissions_controller_test.rb 'PUT: setting an invalid allowed section': unknown ones
        # are dropped and the answer is 200
        changes["allowed_sections"] = sorted(set(sections) & set(SECTIONS))
    service_ids = _list_param(params.get("allowed_service_ids"))
    if service_ids is not None:
        known = {s["id"] for s in sandbox.store.list("service")}
        try:
            ids = [int(v) for v in service_ids]
        except ValueError as exc:
            raise Unprocessable({"allowed_service_ids": ["is invalid"]}) from exc
        changes["allowed_service_ids"] = [i for i in ids if i in known]
    user = provider_domain.update(sandbox, "provider_user", user, changes)
    return _permissions(sandbox, user)


# -- personal access tokens -----------------------------------------------------------------------
def _token_view(token: Obj, *, with_value: bool = False) -> Obj:
    view = {k: token.get(k) for k in ("id", "name", "scopes", "permission", "expires_at", "created_at")}
    if with_value:
        view["value"] = token["_value"]
    return view


def _expiry(sandbox: Sandbox, value: Any) -> str | None:
    """porta `access_token.rb`: a blank `expires_at` is none; one that does not parse is stored as the epoch, so
    it and a past time both fail `validate_expiration_date` (here: "" = refused). Rendered in UTC, no fraction
    (`config/initializers/time_with_zone.rb` `time_precision = 0`). porta parses with Ruby's lenient
    `DateTime.parse`; the sandbox takes ISO 8601 only, which is what porta's message asks for."""
    if value is None or str(value).strip() == "":
        return None
    try:
        when = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return ""
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return iso(when) if when > sandbox.clock.now() else ""


def _token(sandbox: Sandbox, token_id: str) -> Obj:
    token = sandbox.store.get("access_token", path_id(token_id))
    if token is None:
        raise NotFound()
    return token


@router.get(API + "/personal/access_tokens.json")
async def list_tokens(request: Request) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    rows = sandbox.store.list("access_token")
    if params.get("name"):
        rows = [t for t in rows if str(params["name"]).lower() in t["name"].lower()]
    return JSONResponse({"access_tokens": [{"access_token": _token_view(t)} for t in rows]})


@router.post(API + "/personal/access_tokens.json")
async def create_token(request: Request) -> Response:
    sandbox = sandbox_of(request)
    attrs = wrapped(await read_params(request), "token")
    errors: dict[str, list[str]] = {}
    name = str(attrs.get("name") or "").strip()
    if not name:
        errors["name"] = ["can't be blank"]
    scopes = attrs.get("scopes")
    scopes = [str(s) for s in (scopes if isinstance(scopes, list) else [scopes] if scopes else [])]
    if not scopes:
        errors["scopes"] = ["select at least one scope"]  # config/locales/en.yml access_token scopes blank
    elif not set(scopes) <= set(SCOPES):
        errors["scopes"] = ["invalid"]
    permission = str(attrs.get("permission") or "")
    if permission not in PERMISSIONS:  # access_token.rb: presence, then inclusion, both on a blank one
        errors["permission"] = ([] if permission else ["can't be blank"]) + ["is not included in the list"]
    expires_at = _expiry(sandbox, attrs.get("expires_at"))
    if expires_at == "":
        example = iso(sandbox.clock.now() + timedelta(weeks=1))
        errors["expires_at"] = [f"Date must follow ISO8601 format and be future. Example: {example}"]
    if errors:
        raise Unprocessable(errors)
    token = provider_domain.create_access_token(sandbox, name, scopes, permission, expires_at)
    return JSONResponse({"access_token": _token_view(token, with_value=True)}, status_code=201)


@router.get(API + "/personal/access_tokens/{token_id}.json")
async def read_token(request: Request, token_id: str) -> Response:
    sandbox = sandbox_of(request)
    return JSONResponse({"access_token": _token_view(_token(sandbox, token_id))})


@router.delete(API + "/personal/access_tokens/{token_id}.json")
async def delete_token(request: Request, token_id: str) -> Response:
    sandbox = sandbox_of(request)
    provider_domain.delete(sandbox, "access_token", _token(sandbox, token_id))
    return deleted()
