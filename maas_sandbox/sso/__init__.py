"""Keycloak-shaped OpenID Connect provider for the sandbox: `create_sso_app(sandbox)` (served on `sso_url`)."""

from maas_sandbox.sso.app import create_sso_app

__all__ = ["create_sso_app"]
