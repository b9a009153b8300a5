"""The SSO's HTML: Keycloak-like login and error pages (no template engine; every value escaped)."""

from __future__ import annotations

from html import escape

_STYLE = (
    "body{font-family:Helvetica,Arial,sans-serif;background:#f0f0f0;margin:0}"
    "main{max-width:24rem;margin:4rem auto;background:#fff;padding:2rem;border-top:4px solid #ee0000}"
    "label{display:block;margin:1rem 0}input{display:block;width:100%;padding:.4rem;margin-top:.25rem}"
    "button{margin-top:1rem;padding:.5rem 1rem;background:#0066cc;color:#fff;border:0}"
    ".error{color:#a30000;background:#faeae8;padding:.5rem}"
)


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><main>{body}</main></body></html>"
    )


def login_page(
    realm_display: str, action: str, request_token: str, error: str | None = None, username: str = "",
    register_url: str | None = None,
) -> str:
    err = f'<p class="error" id="input-error">{escape(error)}</p>' if error else ""
    body = (
        f'<h1 id="kc-page-title">Sign in to {escape(realm_display)}</h1>{err}'
        f'<form id="kc-form-login" action="{escape(action)}" method="post">'
        f'<input type="hidden" name="request" value="{escape(request_token)}">'
        f'<label>Username or email<input id="username" name="username" value="{escape(username)}" '
        'autocomplete="username" autofocus></label>'
        '<label>Password<input id="password" name="password" type="password" autocomplete="current-password"></label>'
        '<button id="kc-login" type="submit">Sign In</button></form>'
    )
    if register_url:  # Keycloak shows "New user? Register" only when the realm allows registration
        body += f'<p id="kc-registration">New user? <a href="{escape(register_url)}">Register</a></p>'
    return _page(f"Sign in to {realm_display}", body)


def registration_page(realm_display: str, action: str, request_token: str, error: str | None = None,
                      values: dict[str, str] | None = None) -> str:
    """Keycloak's registration form: first/last name, email, username, password and its confirmation."""
    values = values or {}
    err = f'<p class="error" id="input-error">{escape(error)}</p>' if error else ""
    inputs = "".join(
        f'<label>{label}<input id="{name}" name="{name}" value="{escape(values.get(name, ""))}"></label>'
        for name, label in (("firstName", "First name"), ("lastName", "Last name"), ("email", "Email"),
                            ("username", "Username")))
    body = (
        f'<h1 id="kc-page-title">Register</h1>{err}'
        f'<form id="kc-register-form" action="{escape(action)}" method="post">'
        f'<input type="hidden" name="request" value="{escape(request_token)}">{inputs}'
        '<label>Password<input id="password" name="password" type="password" autocomplete="new-password"></label>'
        '<label>Confirm password<input id="password-confirm" name="password-confirm" type="password" '
        'autocomplete="new-password"></label><button type="submit">Register</button></form>'
    )
    return _page(f"Register in {realm_display}", body)


def error_page(message: str) -> str:
    return _page("Error", f'<h1>We are sorry...</h1><p class="error" id="kc-error-message">{escape(message)}</p>')


def logged_out_page() -> str:
    return _page("Signed out", "<h1>You are signed out</h1>")


def update_password_page(realm_display: str, action: str, request_token: str, error: str | None = None) -> str:
    """Keycloak's login-update-password.ftl: shown after a temporary password, before the code is issued."""
    err = f'<p class="error" id="input-error">{escape(error)}</p>' if error else ""
    body = (
        f'<h1 id="kc-page-title">Update password</h1><p>{escape(realm_display)}: you need to change your password '
        f"to activate your account.</p>{err}"
        f'<form id="kc-passwd-update-form" action="{escape(action)}" method="post">'
        f'<input type="hidden" name="request" value="{escape(request_token)}">'
        '<label>New Password<input id="password-new" name="password-new" type="password" '
        'autocomplete="new-password" autofocus></label>'
        '<label>Confirm password<input id="password-confirm" name="password-confirm" type="password" '
        'autocomplete="new-password"></label>'
        '<button type="submit">Submit</button></form>'
    )
    return _page("Update password", body)
