"""Bring a buyer account the kit signed up to the state in which its people can sign in to the portal.

porta 3scale-2.16-stable: Signup Express (`POST /admin/api/signup.json`) activates the admin user only when a
password is given and the account plan needs no approval (`app/models/user/states.rb`
`activate_on_minimal_signup?`, `app/lib/signup/developer_account_manager.rb`); otherwise the account stays
`created` and the user `pending`. Only an active user of an approved account can sign in, through SSO too
(`app/models/user.rb` `can_login?`). Activating the user upgrades a `created` account to `approved`, or to
`pending` when the plan requires approval (`account/states.rb` `upgrade_state!`), which `approve` ends.
"""

from __future__ import annotations

from typing import Any

from maas_helpers.admin_client import AdminClient

Obj = dict[str, Any]


def make_sign_in_ready(client: AdminClient, account: Obj) -> Obj:
    """Activate the account's pending users and approve the account; returns the account as 3scale has it now.

    Zero writes when the account is already approved and its users active (a rerun changes nothing)."""
    account_id = account["id"]
    base = f"/admin/api/accounts/{account_id}"
    users = [row.get("user", row) for row in client.get_json(f"{base}/users.json").get("users", [])]
    for user in users:
        if user.get("state") == "pending":
            client.send_json("PUT", f"{base}/users/{user['id']}/activate.json")
    current = client.get_json(f"{base}.json")
    current = current.get("account", current)
    if current.get("state") in ("created", "pending"):
        current = client.send_json("PUT", f"{base}/approve.json")
        current = current.get("account", current)
    return current
