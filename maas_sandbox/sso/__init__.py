"""Keycloak-shaped OpenID Connect provider for the sandbox: `create_sso_app(sandbox)` (served on `sso_url`)."""

from maas_sandbox import extra as _extra  # noqa: F401  (first: names the [sandbox] extra if missing)
from maas_sandbox.sso.app import create_sso_app

__all__ = ["create_sso_app"]
