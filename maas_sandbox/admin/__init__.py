"""The sandbox's porta: Admin, Master, Analytics and CMS APIs."""

from maas_sandbox import extra as _extra  # noqa: F401  (first: names the [sandbox] extra if missing)
