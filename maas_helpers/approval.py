"""Keys the admin hands out themselves are approved by that act: an application the kit creates for a developer
(the catalogue's applications, the journey's, the workshop's) on a plan that needs approval starts `pending`
in 3scale (porta contract.rb `accept_on_create` skips plans with `approval_required`), so the kit accepts it
explicitly (`PUT …/applications/{id}/accept.json`), as an admin clicking "Accept" would. Applications
developers create themselves stay pending until the admin decides (docs/reliability.md, "Approval")."""

from __future__ import annotations

from typing import Any

from maas_helpers.admin_client import AdminClient

Obj = dict[str, Any]


def accept_if_pending(client: AdminClient, account_id: Any, app: Obj) -> Obj:
    if app.get("state") != "pending":
        return app
    body = client.send_json("PUT", f"/admin/api/accounts/{account_id}/applications/{app['id']}/accept.json", {})
    return body.get("application", body)
