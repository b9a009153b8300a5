"""The developer's applications at 3scale's portal paths (`/admin/applications...`): choose a product, create
an application on a published plan, show it, regenerate its key; and its usage (`/stats/api/...usage.json`).
Every page needs a signed-in developer (`UserDep`: strangers go to the login page); only their own
account's applications are found."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from maas_sandbox.admin.conventions import ApiError
from maas_sandbox.admin.domain_accounts import check_plan_is_unique, create_application, regenerate_user_key
from maas_sandbox.portal import drops
from maas_sandbox.portal.deps import (
    CsrfChecked,
    PortalDep,
    SandboxDep,
    SessionDep,
    UserDep,
    errors_text,
    own_application,
)

router = APIRouter()


@router.get("/admin/applications")
async def applications_index(portal: PortalDep, session: SessionDep, _user: UserDep) -> Response:
    return portal.render_builtin("applications/index", session)


@router.get("/admin/applications/new")
async def new_application(
    request: Request, portal: PortalDep, sandbox: SandboxDep, session: SessionDep, _user: UserDep
) -> Response:
    wanted = request.query_params.get("service_id")
    services = [drops.service_drop(sandbox, s) for s in sandbox.store.list("service")]
    services = [s for s in services if s["application_plans"]]  # only products a developer can subscribe to
    chosen = next((s for s in services if wanted in (s["system_name"], str(s["id"]))), None) if wanted else None
    if chosen is None:
        return portal.render_builtin("applications/choose_service", session, {"services": services})
    return portal.render_builtin("applications/new", session, {"service": chosen})


@router.post("/admin/applications")
async def create_app(
    request: Request, portal: PortalDep, sandbox: SandboxDep, session: SessionDep, user: UserDep, _csrf: CsrfChecked
) -> Response:
    form = await request.form()
    plan = sandbox.store.get("plan", str(form.get("cinstance[plan_id]", "")))
    # Only published application plans are offered to developers (3scale hides the others).
    if plan is None or plan.get("type") != "application_plan" or plan.get("state") != "published":
        return portal.redirect(session, "/admin/applications/new", ("error", "Choose a published plan."))
    try:
        check_plan_is_unique(sandbox, user["account_id"], plan["id"])
        created = create_application(
            sandbox,
            user["account_id"],
            plan["id"],
            str(form.get("cinstance[name]", "")).strip(),
            str(form.get("cinstance[description]", "")),
        )
    except ApiError as exc:
        return portal.redirect(session, "/admin/applications/new", ("error", f"Not created: {errors_text(exc)}"))
    return portal.redirect(session, f"/admin/applications/{created['id']}", ("success", "Application was created."))


@router.get("/admin/applications/{app_id}")
async def show_application(
    app_id: str, portal: PortalDep, sandbox: SandboxDep, session: SessionDep, user: UserDep
) -> Response:
    found = own_application(sandbox, user, app_id)
    if found is None:
        return portal.not_found(session)
    return portal.render_builtin("applications/show", session, {"application": drops.application_drop(sandbox, found)})


@router.post("/admin/applications/{app_id}/change_user_key")
async def change_user_key(
    app_id: str, portal: PortalDep, sandbox: SandboxDep, session: SessionDep, user: UserDep, _csrf: CsrfChecked
) -> Response:
    found = own_application(sandbox, user, app_id)
    if found is None:
        return portal.not_found(session)
    regenerate_user_key(sandbox, found["id"])
    return portal.redirect(session, f"/admin/applications/{found['id']}", ("success", "The key was regenerated."))


@router.get("/stats/api/applications/{app_id}/usage.json")
async def usage(app_id: str, request: Request, portal: PortalDep, sandbox: SandboxDep, session: SessionDep) -> Response:
    """The developer's own application usage: the Analytics API's answer for that application (JSON 401 for a
    stranger: a script's call, not a page)."""
    user = portal.current_user(session)
    if user is None:
        return JSONResponse({"error": "Unauthorized"}, status_code=401)
    if own_application(sandbox, user, app_id) is None:
        return JSONResponse({"status": "Not found"}, status_code=404)
    params = {k: v for k, v in request.query_params.items() if k not in ("access_token", "provider_key")}
    try:
        # the admin token in a header (HTTP Basic, as porta accepts it), never in the URL: URLs get logged;
        # plain HTTP on loopback, so no TLS context to build for each call
        async with httpx.AsyncClient(timeout=10, verify=False, auth=("", sandbox.admin_token)) as client:
            url = f"{sandbox.admin_url}/stats/applications/{int(app_id)}/usage.json"
            upstream = await client.get(url, params=params)
    except httpx.HTTPError:
        return JSONResponse({"error": "usage not available"}, status_code=503)
    return Response(upstream.content, status_code=upstream.status_code, media_type="application/json")
