"""Where to look: the admin-portal pages of each product (notebook 4) and how a developer signs in to the
portal through SSO (notebook 9). Both render as short HTML in JupyterLab; no password is ever shown."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from maas_helpers.listings import our_products

if TYPE_CHECKING:
    from maas_helpers.kit import Kit


# --- "where to see it": admin-portal pages (porta 3scale-2.16-stable config/routes.rb paths) ---------------------
ADMIN_PAGES = (("overview", ""), ("methods and metrics", "/metrics"), ("mapping rules", "/proxy_rules"),
               ("configuration", "/integration"), ("application plans", "/application_plans"))


@dataclass
class AdminLinks:
    """Admin-portal URLs per product; renders as a table of links."""

    rows: list[dict[str, str]]
    sandbox: bool

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["product", "page", "url"])

    def __repr__(self) -> str:
        return self.frame().to_string(index=False)

    def _repr_html_(self) -> str:
        by_product: dict[str, list[str]] = {}
        for r in self.rows:  # one row per product: its pages side by side
            by_product.setdefault(r["product"], []).append(
                f"<a href=\"{html.escape(r['url'])}\" target=\"_blank\">{html.escape(r['page'])}</a>")
        cells = "".join(f"<tr><td>{html.escape(p)}</td><td>{' · '.join(links)}</td></tr>"
                        for p, links in by_product.items())
        note = ("<p>On the sandbox these open its read-only admin portal: sign in with the admin token "
                "(<code>.venv/bin/maas sandbox env</code> prints it) or user <code>admin</code> with the password "
                "in the state dir's <code>credentials.json</code> (0600).</p>") if self.sandbox else ""
        return f"<table><tr><th>product</th><th>admin portal pages</th></tr>{cells}</table>{note}"


def admin_links(kit: Kit) -> AdminLinks:
    base = kit.credentials.admin_url
    rows = []
    for product, service in our_products(kit):
        sid = service["id"]
        rows += [{"product": product.system_name, "page": page, "url": f"{base}/apiconfig/services/{sid}{tail}"}
                 for page, tail in ADMIN_PAGES]
        rows.append({"product": product.system_name, "page": "traffic analytics",
                     "url": f"{base}/services/{sid}/stats/usage"})
    return AdminLinks(rows, kit.settings.target == "sandbox")


# --- notebook 9: how a developer signs in through SSO ------------------------------------------------------------
@dataclass
class SsoSignIn:
    portal_url: str
    realm_url: str
    demo_user: str
    demo_password_file: Path
    registration: bool

    def _repr_html_(self) -> str:
        register = ("<li>or <b>Register</b> on the SSO login page: the realm allows registration"
                    " (sandbox always; on a cluster only with <code>sso_registration: true</code>)</li>"
                    if self.registration else "<li>registration is off on this realm (set "
                    "<code>sso_registration: true</code> in the configuration to allow it)</li>")
        return (f"<p>Developer portal: <a href=\"{html.escape(self.portal_url)}\" target=\"_blank\">"
                f"{html.escape(self.portal_url)}</a> → <b>Sign in with SSO</b>, then</p><ul>"
                f"<li>user <code>{html.escape(self.demo_user)}</code>, password in "
                f"<code>{html.escape(str(self.demo_password_file))}</code> (0600, generated, never shown here)</li>"
                f"{register}</ul><p>Realm: <code>{html.escape(self.realm_url)}</code></p>")

    def __repr__(self) -> str:
        return (f"SsoSignIn(portal={self.portal_url!r}, user={self.demo_user!r}, "
                f"password_file={str(self.demo_password_file)!r}, registration={self.registration})")


def sso_sign_in(kit: Kit) -> SsoSignIn:
    sso = kit.catalogue.sso
    path = Path(kit.settings.state_dir) / f"sso-{sso.realm}-{sso.client_id}-demo-user.secret"
    allowed = kit.platform.sso_registration_allowed
    return SsoSignIn(kit.links().get("developer portal", ""), kit.platform.sso_realm_url(sso.realm), "demo",
                     path, allowed)


