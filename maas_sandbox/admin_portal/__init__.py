"""A read-only admin portal for the sandbox, at 3scale's own admin-portal paths (porta 3scale-2.16-stable,
config/routes.rb): the pages the kit's "where to see it" links open. Sign-in with the admin token or the seeded
`admin` user's generated password; an HMAC-signed session cookie; the only POSTs are sign-in and sign-out, both
CSRF-checked. Nothing here writes to the store. See docs/sandbox.md ("Admin portal")."""

from maas_sandbox.admin_portal.pages import router

__all__ = ["router"]
