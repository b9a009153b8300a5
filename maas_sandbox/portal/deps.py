"""What the portal's routes depend on, as FastAPI dependencies reading `request.app.state` (set by
`create_portal_app`): the renderer, the visitor's session, the CSRF check and the signed-in developer.

FastAPI resolves a route's dependencies in the order its parameters are declared and caches each one per
request, so `session` is the same dict everywhere in one request, and a route that declares `user` before
`csrf` checks the sign-in before the form is read (as the portal always did).
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import Response

from maas_sandbox.admin.conventions import ApiError
from maas_sandbox.context import Sandbox
from maas_sandbox.login_guard import BruteForce
from maas_sandbox.portal.render import Portal

Obj = dict[str, Any]


class CsrfRejected(Exception):
    """A form post without the session's CSRF token."""


class Answered(Exception):
    """A dependency's own answer (e.g. the redirect to the login page); the app's handler returns it."""

    def __init__(self, response: Response) -> None:
        super().__init__("answered by a dependency")
        self.response = response


def get_portal(request: Request) -> Portal:
    return request.app.state.portal


def login_guards(request: Request) -> tuple[BruteForce, BruteForce]:
    """(per user name, per client address) brute-force guards of the portal's password sign-in."""
    return request.app.state.login_guards


# Dependencies are `async def`: FastAPI would run plain functions in a worker thread, and the store is used
# from the event loop only.
async def portal_dep(request: Request) -> Portal:
    return get_portal(request)


async def sandbox_dep(request: Request) -> Sandbox:
    return get_portal(request).sandbox


async def get_session(request: Request) -> Obj:
    return get_portal(request).sessions.load(request)


PortalDep = Annotated[Portal, Depends(portal_dep)]
SandboxDep = Annotated[Sandbox, Depends(sandbox_dep)]
SessionDep = Annotated[Obj, Depends(get_session)]


async def require_csrf(request: Request, session: SessionDep) -> None:
    """Every form post carries the session's token (form field or header), else 422 before anything runs."""
    form = await request.form()
    token = str(form.get("authenticity_token") or request.headers.get("x-csrf-token") or "")
    if not (token and hmac.compare_digest(token, session["csrf"])):
        raise CsrfRejected()


async def signed_in(request: Request, portal: PortalDep, session: SessionDep) -> Obj:
    """The developer of this session; a stranger is sent to the login page, coming back here afterwards."""
    user = portal.current_user(session)
    if user is None:
        raise Answered(portal.redirect(session, f"/login?return_to={quote(request.url.path)}"))
    return user


CsrfChecked = Annotated[None, Depends(require_csrf)]
UserDep = Annotated[Obj, Depends(signed_in)]


def own_application(sandbox: Sandbox, user: Obj, app_id: str) -> Obj | None:
    found = sandbox.store.get("application", app_id)
    return found if found is not None and found["account_id"] == user["account_id"] else None


def errors_text(exc: ApiError) -> str:
    """An Admin API validation error as the one line the portal flashes."""
    body = getattr(exc, "body", None) or {}
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, dict):
        return "; ".join(f"{k} {', '.join(map(str, v))}" for k, v in errors.items())
    return str(exc)
