"""Applications and their keys (reference §14). Create and update read flat params.

Products use user_key authentication, so an application's credential is its `user_key`; the keys list
shows it first, followed by any extra application keys added through the keys endpoint.
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
)
from maas_sandbox.admin.routes.accounts import account_of
from maas_sandbox.admin.routes.plans import plan_view
from maas_sandbox.clock import iso
from maas_sandbox.context import Sandbox

router = admin_router(tags=["applications"])
Obj = dict[str, Any]
API = "/admin/api"
MAX_APP_KEYS = 5


def application_view(sandbox: Sandbox, app: Obj) -> Obj:
    store = sandbox.store
    service = store.get("service", app["service_id"]) or {}
    plan = store.get("plan", app["plan_id"]) or {}
    account = store.get("account", app["account_id"]) or {}
    view = {**public(app), **extra_fields.extra_view(sandbox, "Cinstance", app)}
    view.update(
        {
            "end_user_required": False,
            "service_name": service.get("name"),
            "plan_name": plan.get("name"),
            "org_name": account.get("org_name"),
        }
    )
    base = f"{sandbox.admin_url}{API}"
    app_url = f"{base}/accounts/{app['account_id']}/applications/{app['id']}"
    view["links"] = [
        link("self", app_url),
        link("service", f"{base}/services/{app['service_id']}"),
        link("account", f"{base}/accounts/{app['account_id']}"),
        link("plan", f"{base}/services/{app['service_id']}/application_plans/{app['plan_id']}"),
        link("keys", f"{app_url}/keys"),
    ]
    return view


def _app(sandbox: Sandbox, account: Obj, app_id: str) -> Obj:
    app = sandbox.store.get("application", path_id(app_id))
    if app is None or app["account_id"] != account["id"]:
        raise NotFound()
    return app


def _show(sandbox: Sandbox, app: Obj, status: int = 200) -> Response:
    return single("application", application_view(sandbox, app), status=status)


# -- provider-wide --------------------------------------------------------------------------------
@router.get(API + "/applications.json")
async def list_all_applications(request: Request) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    apps = sandbox.store.list("application")
    for field in ("service_id", "plan_id"):
        if params.get(field) not in (None, ""):
            apps = [a for a in apps if str(a[field]) == str(params[field])]
    if params.get("state"):
        apps = [a for a in apps if a["state"] == params["state"]]
    views = [application_view(sandbox, a) for a in apps]
    return collection("applications", "application", views, params, paginate=True)


@router.get(API + "/applications/find.json")
async def find_application(request: Request) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    app = None
    if params.get("application_id") not in (None, ""):
        app = sandbox.store.get("application", params["application_id"])
    elif params.get("user_key"):
        app = sandbox.store.first("application", user_key=str(params["user_key"]))
    if app is not None and params.get("service_id") not in (None, ""):
        app = app if str(app["service_id"]) == str(params["service_id"]) else None
    if app is None:
        raise NotFound()
    return _show(sandbox, app)


# -- per account ----------------------------------------------------------------------------------
@router.get(API + "/accounts/{account_id}/applications.json")
async def list_applications(request: Request, account_id: str) -> Response:
    sandbox = sandbox_of(request)
    account = account_of(sandbox, account_id)
    apps = sandbox.store.list("application", account_id=account["id"])
    return collection("applications", "application", [application_view(sandbox, a) for a in apps])


@router.post(API + "/accounts/{account_id}/applications.json")
async def create_application(request: Request, account_id: str) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    account = account_of(sandbox, account_id)
    app = accounts.create_application(
        sandbox,
        account["id"],
        path_id(params.get("plan_id")),
        params.get("name") or "",
        params.get("description") or "",
        params.get("user_key") or None,
        extra=extra_fields.assign(sandbox, "Cinstance", None, params, by_buyer=False),  # buyers_applications_controller
    )
    return _show(sandbox, app, status=201)


@router.get(API + "/accounts/{account_id}/applications/{app_id}.json")
async def read_application(request: Request, account_id: str, app_id: str) -> Response:
    sandbox = sandbox_of(request)
    return _show(sandbox, _app(sandbox, account_of(sandbox, account_id), app_id))


@router.put(API + "/accounts/{account_id}/applications/{app_id}.json")
async def update_application(request: Request, account_id: str, app_id: str) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    app = _app(sandbox, account_of(sandbox, account_id), app_id)
    app = accounts.update_application(sandbox, app, params)
    extra = extra_fields.assign(sandbox, "Cinstance", app.get(extra_fields.STORED), params, by_buyer=False)
    app = extra_fields.store(sandbox, "application", app, extra)
    return _show(sandbox, app)


@router.delete(API + "/accounts/{account_id}/applications/{app_id}.json")
async def delete_application(request: Request, account_id: str, app_id: str) -> Response:
    sandbox = sandbox_of(request)
    app = _app(sandbox, account_of(sandbox, account_id), app_id)
    accounts.delete_application(sandbox, app)
    return deleted()


@router.put(API + "/accounts/{account_id}/applications/{app_id}/change_plan.json")
async def change_plan(request: Request, account_id: str, app_id: str) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    app = _app(sandbox, account_of(sandbox, account_id), app_id)
    changed = accounts.change_application_plan(sandbox, app["id"], path_id(params.get("plan_id")))
    # porta buyers_applications_controller.rb change_plan: answers with the plan (ApplicationPlanRepresenter)
    return JSONResponse({"application_plan": plan_view(sandbox, sandbox.store.get("plan", changed["plan_id"]))})


async def _event(request: Request, account_id: str, app_id: str, event: str) -> Response:
    sandbox = sandbox_of(request)
    app = _app(sandbox, account_of(sandbox, account_id), app_id)
    return _show(sandbox, accounts.set_application_state(sandbox, app["id"], event))


@router.put(API + "/accounts/{account_id}/applications/{app_id}/accept.json")
async def accept_application(request: Request, account_id: str, app_id: str) -> Response:
    return await _event(request, account_id, app_id, "accept")


@router.put(API + "/accounts/{account_id}/applications/{app_id}/suspend.json")
async def suspend_application(request: Request, account_id: str, app_id: str) -> Response:
    return await _event(request, account_id, app_id, "suspend")


@router.put(API + "/accounts/{account_id}/applications/{app_id}/resume.json")
async def resume_application(request: Request, account_id: str, app_id: str) -> Response:
    return await _event(request, account_id, app_id, "resume")


# -- keys -----------------------------------------------------------------------------------------
def _keys(app: Obj) -> list[Obj]:
    first = {"value": app["user_key"], "created_at": app["created_at"], "updated_at": app["updated_at"]}
    return [first, *app.get("_app_keys", [])]


@router.get(API + "/accounts/{account_id}/applications/{app_id}/keys.json")
async def list_keys(request: Request, account_id: str, app_id: str) -> Response:
    sandbox = sandbox_of(request)
    app = _app(sandbox, account_of(sandbox, account_id), app_id)
    return collection("keys", "key", _keys(app))


@router.post(API + "/accounts/{account_id}/applications/{app_id}/keys.json")
async def create_key(request: Request, account_id: str, app_id: str) -> Response:
    sandbox = sandbox_of(request)
    params = await read_params(request)
    app = _app(sandbox, account_of(sandbox, account_id), app_id)
    value = str(params.get("key") or "")
    extra = list(app.get("_app_keys", []))
    if not value:
        raise Unprocessable({"value": ["can't be blank"]})
    if any(k["value"] == value for k in _keys(app)):
        raise Unprocessable({"value": ["has already been taken"]})
    if len(extra) >= MAX_APP_KEYS:
        raise Unprocessable({"base": ["Limit reached"]})
    stamp = iso(sandbox.clock.now())
    extra.append({"value": value, "created_at": stamp, "updated_at": stamp})
    return _show(sandbox, accounts.set_app_keys(sandbox, app, extra), status=201)


@router.delete(API + "/accounts/{account_id}/applications/{app_id}/keys/{key:path}.json")
async def delete_key(request: Request, account_id: str, app_id: str, key: str) -> Response:
    sandbox = sandbox_of(request)
    app = _app(sandbox, account_of(sandbox, account_id), app_id)
    # The server has already percent-decoded the path once, as Rails does for a route segment (`key:path`
    # keeps a decoded "/"); decoding again would turn a literal "%D9" in a key into another key.
    value = key
    extra = [k for k in app.get("_app_keys", []) if k["value"] != value]
    if len(extra) == len(app.get("_app_keys", [])):
        raise NotFound()
    return _show(sandbox, accounts.set_app_keys(sandbox, app, extra))
