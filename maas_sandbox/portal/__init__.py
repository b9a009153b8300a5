"""The sandbox developer portal: `create_portal_app(sandbox)` (served on `portal_url`)."""

from maas_sandbox import extra as _extra  # noqa: F401  (first: names the [sandbox] extra if missing)
from maas_sandbox.portal.app import create_portal_app

__all__ = ["create_portal_app"]
