"""The portal's renderer: PUBLISHED CMS content (python-liquid against 3scale-shaped drops) inside its layout,
plus the portal's own pages (not found, Liquid error, access code). One `Portal` per app, on `app.state.portal`.
"""

from __future__ import annotations

import logging
from datetime import UTC
from typing import Any

from fastapi.responses import HTMLResponse, RedirectResponse, Response
from liquid.exceptions import LiquidError
from markupsafe import Markup, escape

from maas_sandbox.context import Sandbox
from maas_sandbox.portal import drops
from maas_sandbox.portal.liquid_env import make_environment, prepare_layout
from maas_sandbox.portal.session import Sessions

Obj = dict[str, Any]
log = logging.getLogger("maas_sandbox.portal")


class Portal:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.sessions = Sessions(sandbox)
        self.env = make_environment(self.partial_source)

    # -- CMS lookups (published content only) -----------------------------------------------------
    def _published(self, **where: Any) -> Obj | None:
        for template in self.sandbox.store.list("cms_template", **where):
            if template.get("published") is not None:
                return template
        return None

    def partial_source(self, name: str) -> str | None:
        for kind in ("partial", "builtin_partial"):
            found = self._published(type=kind, system_name=name)
            if found is not None:
                return found["published"]
        return None

    def page_by_path(self, path: str) -> Obj | None:
        return self._published(type="page", path=path)

    def builtin(self, system_name: str) -> Obj | None:
        return self._published(type="builtin_page", system_name=system_name)

    def file_by_path(self, path: str) -> Obj | None:
        return self.sandbox.store.first("cms_file", path=path)

    # -- rendering -----------------------------------------------------------------------------------
    def base_context(self, session: Obj, title: str | None) -> Obj:
        user = self.current_user(session)
        current_user, current_account, apps = drops.account_drops(self.sandbox, user)
        now = self.sandbox.clock.now().astimezone(UTC)
        return {
            "provider": drops.provider_drop(self.sandbox),
            "site": drops.site_drop(self.sandbox),
            "urls": drops.URLS,
            "current_user": current_user,
            "current_account": current_account,
            "applications": apps,
            "flash": {"messages": session.pop("flash", [])},
            "page": {"title": title or ""},
            "today": {"year": now.year, "month": now.month, "day": now.day},
            "_csrf_token": session["csrf"],
        }

    def render(self, template: Obj, session: Obj, extra: Obj | None = None, status: int = 200) -> Response:
        flags: Obj = {}
        ctx = {**self.base_context(session, template.get("title")), **(extra or {}), "_response_flags": flags}
        source = template["published"] or ""
        layout = (
            self.sandbox.store.get("cms_template", template.get("layout_id")) if template.get("layout_id") else None
        )
        try:
            body = self.env.from_string(source).render(**ctx) if template.get("liquid_enabled", True) else source
            if layout is not None and layout.get("published") is not None:
                page = Markup(body)
                body = self.env.from_string(prepare_layout(layout["published"])).render(**ctx, _page_content=page)
        except LiquidError as exc:
            return self.liquid_error(session, exc)
        response = HTMLResponse(body, status_code=status, media_type=template.get("content_type") or "text/html")
        response.headers["Cache-Control"] = (
            "no-store" if flags.get("no_store") or session.get("user_id") else "no-cache"
        )
        self.sessions.save(response, session)
        return response

    def liquid_error(self, session: Obj, exc: LiquidError) -> Response:
        """A template that fails or hits a limit: porta shows the Liquid error text on a plain error page."""
        log.warning("portal template error: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        message = escape(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        html = (
            "<!DOCTYPE html><html><head><title>Liquid error</title></head>"
            f"<body><h1>Liquid error</h1><p>Liquid error: {message}</p></body></html>"
        )
        response = HTMLResponse(html, status_code=500)
        response.headers["Cache-Control"] = "no-store"
        self.sessions.save(response, session)
        return response

    def current_user(self, session: Obj) -> Obj | None:
        user = self.sandbox.store.get("user", session.get("user_id")) if session.get("user_id") else None
        if user is None:
            return None
        account = self.sandbox.store.get("account", user["account_id"])
        if account is None or account.get("state") != "approved" or user.get("state") != "active":
            return None
        return user

    def redirect(self, session: Obj, location: str, flash: tuple[str, str] | None = None) -> Response:
        if flash:
            session.setdefault("flash", []).append({"type": flash[0], "text": flash[1]})
        response = RedirectResponse(location, status_code=303)
        self.sessions.save(response, session)
        return response

    def render_builtin(self, system_name: str, session: Obj, extra: Obj | None = None) -> Response:
        """One of porta's builtin pages (login, sign-up, applications) as published, or 404 when it is not."""
        page = self.builtin(system_name)
        return self.render(page, session, extra) if page else self.not_found(session)

    def not_found(self, session: Obj) -> Response:
        return self.simple_page(session, "Not found", "<h1>Not found</h1><p>The page does not exist.</p>", 404)

    def simple_page(self, session: Obj, title: str, html: str, status: int = 200) -> Response:
        """A page of the portal itself (errors, access code) inside the published main layout when there is one."""
        layout = self._published(type="layout", system_name="main_layout")
        page = {
            "title": title,
            "published": html,
            "liquid_enabled": False,
            "layout_id": layout["id"] if layout else None,
        }
        return self.render(page, session, status=status)
