"""Browser security headers on every portal and SSO response (pure ASGI, so streaming bodies are untouched).

Portal: Rails' defaults as porta sends them (ActionDispatch default_headers: X-Frame-Options SAMEORIGIN,
X-Content-Type-Options nosniff, Referrer-Policy strict-origin-when-cross-origin) plus a CSP that only forbids
framing by other sites and plugins (the CMS may hold any inline script, so no script-src).
Admin portal and Admin API: see ADMIN.
SSO: Keycloak's defaults (realm browserSecurityHeaders): X-Frame-Options SAMEORIGIN, CSP
"frame-src 'self'; frame-ancestors 'self'; object-src 'none';", nosniff, X-Robots-Tag none, Referrer-Policy
no-referrer.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PORTAL = (
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"content-security-policy", b"frame-ancestors 'self'; object-src 'none'"),
)
# Admin portal, Admin API and its Swagger page: what porta's admin side sends (nosniff, the Referrer-Policy
# above) and a CSP that allows scripts from this origin only (the pages hold no inline script; Swagger UI and
# the pages style elements inline), no framing at all, no plugins, forms posted to this origin only.
ADMIN = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                 b"img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
                                 b"frame-ancestors 'none'"),
)
SSO = (
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"content-security-policy", b"frame-src 'self'; frame-ancestors 'self'; object-src 'none';"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-robots-tag", b"none"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, headers: tuple[tuple[bytes, bytes], ...]) -> None:
        self.app = app
        self.headers = headers
        self.names = {name for name, _ in headers}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in self.names]
                message = {**message, "headers": [*kept, *self.headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
