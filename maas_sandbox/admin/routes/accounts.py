"""Buyer accounts: signup, accounts, users and service subscriptions (reference §13).

Signup reads flat params only; account updates use the `account` wrapper, users the `user` wrapper.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from maas_sandbox.admin import domain_accounts as accounts
from maas_sandbox.admin import domain_extra_fields as extra_fields
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
    single,
    wrapped,
)
from maas_sandbox.context import Sandbox

router = admin_router(tags=["accounts"])
Obj = dict[str, Any]
API = "/admin/api"
ACCOUNT_FIELDS = ("org_name", "monthly_billing_enabled", "monthly_charging_enabled")


def account_view(sandbox: Sandbox, account: Obj) -> Obj:
    view = {**public(account), **extra_fields.extra_view(sandbox, "Account", account)}
    base = f"{sandbox.admin_url}{API}/accounts/{account['id']}"
    view["links"] = [link("self", base), link("users", f"{base}/users")]
    return view


def user_view(sandbox: Sandbox, user: Obj) -> Obj:
    view = {**public(user), **extra_fields.extra_view(sandbox, "User", user)}
    base = f"{sandbox.admin_url}{API}/accounts/{user['account_id']}"
    view["links"] = [link("self", f"{base}/users/{user['id']}"), link("account", base)]
    return view


def subscription_view(sandbox: Sandbox, sub: Obj) -> Obj:
    view = public(sub)
    base = f"{sandbox.admin_url}{API}/accounts/{sub['account_id']}"
    view["links"] = [
        link("self", f"{base}/service_subscriptions/{sub['id']}"),
        link("service", f"{sandbox.admin_url}{API}/services/{sub['service_id']}"),
        link("account", base),
    ]
    return view


def account_of(sandbox: Sandbox, account_id: str) -> Obj:
    account = sandbox.store.get("account", path_id(account_id))
    if account is None:
        raise NotFound()
    return account


def _ids(value: Any) -> list[int] | None:
    if value in (None, ""):
        return None
    values = value if isinstance(value, list) else [value]
    try:
        return [int(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise Unprocessable({"plans": ["is invalid"]}) from exc


# -- signup and accounts --------------------------------------------------------------------------
@router.post(API + "/signup.json")
async def signup(request: Request) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    plan_ids = _ids(params.get("account_plan_id"))
    account, _user = accounts.signup(
        sandbox,
        params.get("org_name") or "",
        params.get("username") or "",
        params.get("email") or "",
        params.get("password") or None,
        account_plan_id=plan_ids[0] if plan_ids else None,
        service_plan_ids=_ids(params.get("service_plan_id")),
        application_plan_ids=_ids(params.get("application_plan_id")),
        minimal=True,  # porta signups_controller.rb: Signup Express is signup_type :minimal
        # the same flat params feed the account's and the user's extra fields (signup/signup_params.rb)
        account_extra=extra_fields.assign(sandbox, "Account", None, params, by_buyer=False),
        user_extra=extra_fields.assign(sandbox, "User", None, params, by_buyer=False),
    )
    return single("account", account_view(sandbox, account), status=201)


@router.get(API + "/accounts.json")
async def list_accounts(request: Request) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    state = params.get("state")
    rows = sandbox.store.list("account", state=state) if state else sandbox.store.list("account")
    return collection("accounts", "account", [account_view(sandbox, a) for a in rows], params, paginate=True)


@router.get(API + "/accounts/find.json")
async def find_account(request: Request) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    user = None
    if params.get("user_id") not in (None, ""):
        user = sandbox.store.get("user", params["user_id"])
    elif params.get("username"):
        user = sandbox.store.first("user", username=str(params["username"]))
    elif params.get("email"):
        user = sandbox.store.first("user", email=str(params["email"]))
    account = sandbox.store.get("account", user["account_id"]) if user else None
    if account is None:
        raise NotFound()
    return single("account", account_view(sandbox, account))


@router.get(API + "/accounts/{account_id}.json")
async def read_account(request: Request, account_id: str) -> Response:
    sandbox = sandbox_of(request)
    return single("account", account_view(sandbox, account_of(sandbox, account_id)))


@router.put(API + "/accounts/{account_id}.json")
async def update_account(request: Request, account_id: str) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    attrs = wrapped(params, "account")
    account = accounts.update_account(sandbox, account_of(sandbox, account_id), attrs)
    extra = extra_fields.assign(sandbox, "Account", account.get(extra_fields.STORED), attrs, by_buyer=False)
    account = extra_fields.store(sandbox, "account", account, extra)  # accounts_controller.rb update
    return single("account", account_view(sandbox, account))


@router.delete(API + "/accounts/{account_id}.json")
async def delete_account(request: Request, account_id: str) -> Response:
    sandbox = sandbox_of(request)
    accounts.delete_account(sandbox, account_of(sandbox, account_id)["id"])
    return deleted()


async def _account_event(request: Request, account_id: str, event: str) -> Response:
    sandbox = sandbox_of(request)
    account = accounts.set_account_state(sandbox, account_of(sandbox, account_id)["id"], event)
    return single("account", account_view(sandbox, account))


@router.put(API + "/accounts/{account_id}/approve.json")
async def approve_account(request: Request, account_id: str) -> Response:
    return await _account_event(request, account_id, "approve")


@router.put(API + "/accounts/{account_id}/reject.json")
async def reject_account(request: Request, account_id: str) -> Response:
    return await _account_event(request, account_id, "reject")


@router.put(API + "/accounts/{account_id}/make_pending.json")
async def make_pending_account(request: Request, account_id: str) -> Response:
    return await _account_event(request, account_id, "make_pending")


@router.put(API + "/accounts/{account_id}/change_plan.json")
async def change_account_plan(request: Request, account_id: str) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    account = account_of(sandbox, account_id)
    account = accounts.change_account_plan(sandbox, account, params.get("plan_id"))
    return single("account", account_view(sandbox, account))


# -- users ----------------------------------------------------------------------------------------
def _user(sandbox: Sandbox, account: Obj, user_id: str) -> Obj:
    user = sandbox.store.get("user", path_id(user_id))
    if user is None or user["account_id"] != account["id"]:
        raise NotFound()
    return user


@router.get(API + "/accounts/{account_id}/users.json")
async def list_users(request: Request, account_id: str) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    account = account_of(sandbox, account_id)
    users = sandbox.store.list("user", account_id=account["id"])
    for field in ("state", "role"):
        if params.get(field):
            users = [u for u in users if u.get(field) == params[field]]
    return collection("users", "user", [user_view(sandbox, u) for u in users])


@router.post(API + "/accounts/{account_id}/users.json")
async def create_user(request: Request, account_id: str) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    account = account_of(sandbox, account_id)
    attrs = wrapped(params, "user")
    user = accounts.create_user(
        sandbox, account["id"], attrs.get("username") or "", attrs.get("email") or "", attrs.get("password") or None
    )
    return single("user", user_view(sandbox, user), status=201)


@router.get(API + "/accounts/{account_id}/users/{user_id}.json")
async def read_user(request: Request, account_id: str, user_id: str) -> Response:
    sandbox = sandbox_of(request)
    user = _user(sandbox, account_of(sandbox, account_id), user_id)
    return single("user", user_view(sandbox, user))


@router.put(API + "/accounts/{account_id}/users/{user_id}.json")
async def update_user(request: Request, account_id: str, user_id: str) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    user = _user(sandbox, account_of(sandbox, account_id), user_id)
    user = accounts.update_user(sandbox, user, wrapped(params, "user"))
    return single("user", user_view(sandbox, user))


@router.delete(API + "/accounts/{account_id}/users/{user_id}.json")
async def delete_user(request: Request, account_id: str, user_id: str) -> Response:
    sandbox = sandbox_of(request)
    account = account_of(sandbox, account_id)
    accounts.delete_user(sandbox, _user(sandbox, account, user_id))
    return deleted()


@router.put(API + "/accounts/{account_id}/users/{user_id}/{event}.json")
async def user_event(request: Request, account_id: str, user_id: str, event: str) -> Response:
    sandbox = sandbox_of(request)
    if event not in accounts.USER_EVENTS:
        raise NotFound()
    user = accounts.set_user_state(sandbox, _user(sandbox, account_of(sandbox, account_id), user_id), event)
    return single("user", user_view(sandbox, user))


# -- service subscriptions ------------------------------------------------------------------------
@router.get(API + "/accounts/{account_id}/service_subscriptions.json")
async def list_subscriptions(request: Request, account_id: str) -> Response:
    sandbox = sandbox_of(request)
    account = account_of(sandbox, account_id)
    subs = sandbox.store.list("service_subscription", account_id=account["id"])
    return collection("service_subscriptions", "service_subscription", [subscription_view(sandbox, s) for s in subs])


@router.post(API + "/accounts/{account_id}/service_subscriptions.json")
async def create_subscription(request: Request, account_id: str) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    account = account_of(sandbox, account_id)
    plan_id = wrapped(params, "service_subscription").get("plan_id")
    plan = sandbox.store.get("plan", plan_id)
    if plan is None or plan["type"] != "service_plan":
        raise NotFound()
    sub = accounts.subscribe(sandbox, account["id"], plan["id"])
    return JSONResponse({"service_subscription": subscription_view(sandbox, sub)}, status_code=201)


@router.get(API + "/accounts/{account_id}/service_subscriptions/{sub_id}.json")
async def read_subscription(request: Request, account_id: str, sub_id: str) -> Response:
    sandbox = sandbox_of(request)
    account = account_of(sandbox, account_id)
    sub = sandbox.store.get("service_subscription", path_id(sub_id))
    if sub is None or sub["account_id"] != account["id"]:
        raise NotFound()
    return single("service_subscription", subscription_view(sandbox, sub))


@router.delete(API + "/accounts/{account_id}/service_subscriptions/{sub_id}.json")
async def delete_subscription(request: Request, account_id: str, sub_id: str) -> Response:
    """porta refuses to unsubscribe while the account has applications on that product."""
    sandbox = sandbox_of(request)
    account = account_of(sandbox, account_id)
    sub = sandbox.store.get("service_subscription", path_id(sub_id))
    if sub is None or sub["account_id"] != account["id"]:
        raise NotFound()
    accounts.unsubscribe(sandbox, sub)
    return deleted()


def _subscription(sandbox: Sandbox, account: Obj, sub_id: str) -> Obj:
    sub = sandbox.store.get("service_subscription", path_id(sub_id))
    if sub is None or sub["account_id"] != account["id"]:
        raise NotFound()
    return sub


@router.put(API + "/accounts/{account_id}/service_subscriptions/{sub_id}/approve.json")
async def approve_subscription(request: Request, account_id: str, sub_id: str) -> Response:
    """porta service_subscriptions_controller.rb#approve: accept! from pending, else 422."""
    sandbox = sandbox_of(request)
    sub = _subscription(sandbox, account_of(sandbox, account_id), sub_id)
    sub = accounts.approve_subscription(sandbox, sub)
    return single("service_subscription", subscription_view(sandbox, sub))


@router.put(API + "/accounts/{account_id}/service_subscriptions/{sub_id}/change_plan.json")
async def change_subscription_plan(request: Request, account_id: str, sub_id: str) -> Response:
    """porta service_subscriptions_controller.rb#change_plan: a service plan of the same product."""
    sandbox = sandbox_of(request)
    params = await read_params(request)
    sub = _subscription(sandbox, account_of(sandbox, account_id), sub_id)
    sub = accounts.change_subscription_plan(sandbox, sub, params.get("plan_id"))
    return single("service_subscription", subscription_view(sandbox, sub))


@router.get(API + "/accounts/{account_id}/plan.json")
async def read_account_plan(request: Request, account_id: str) -> Response:
    """porta buyers_account_plans_controller.rb#show: the account's account plan."""
    sandbox = sandbox_of(request)
    account = account_of(sandbox, account_id)
    plan = sandbox.store.get("plan", account.get("plan_id"))
    if plan is None:
        raise NotFound()
    from maas_sandbox.admin.routes.plans import plan_view  # plans imports nothing from here; avoid a cycle anyway

    return single("account_plan", plan_view(sandbox, plan))
