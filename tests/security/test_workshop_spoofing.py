"""Issue 28 item 2 / issue 23: an org name is no mark. A developer account named like a workshop attendee's
(`wsa-001 [maas-workshop]`) made before `workshop up --prefix wsa` gets no application, and `down` leaves it.
The kit's mark is the hidden, read-only `maas_owner` extra field (porta app/models/fields_definition.rb
`editable_by?`), which only the Admin API can write; the lookalike is created without it, as any signup is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from maas_helpers import ownership
from maas_helpers.workshop import Workshop, WorkshopSpec

from harness.sandbox import applied_kit, running


def test_a_lookalike_workshop_account_is_never_adopted_nor_deleted(tmp_path: Path) -> None:
    with running(tmp_path / "state") as info:
        kit = applied_kit(info, "MaaS Spoof Org")
        kit.apply("sso")  # attendees sign in with SSO
        spoof = kit.admin.send_json("POST", "/admin/api/signup.json", {
            "org_name": "wsa-001 [maas-workshop]", "username": "mallory", "email": "mallory@example.com",
            "password": "Mallory-pass-1"})["account"]
        room = Workshop(kit, tmp_path / "handout")
        up = room.up(WorkshopSpec(attendees=2, prefix="wsa", models=()))
        assert any("not the kit's" in n and str(spoof["id"]) in n for n in up.notes), up.notes

        def apps_of(account_id: Any) -> list[dict[str, Any]]:
            body = kit.admin.get_json(f"/admin/api/accounts/{account_id}/applications.json")
            return [a.get("application", a) for a in body["applications"]]

        assert [a for a in apps_of(spoof["id"]) if "wsa-001" in a["name"]] == []
        mine = kit.admin.get_json("/admin/api/accounts/find.json", params={"username": "wsa-001"})["account"]
        assert mine["id"] != spoof["id"] and ownership.marked(mine, ownership.load_inventory(kit.admin).instance)
        assert len(apps_of(mine["id"])) == len(kit.catalogue.products)

        room.down("wsa")
        assert kit.admin.get_json(f"/admin/api/accounts/{spoof['id']}.json")["account"]["org_name"] == \
            "wsa-001 [maas-workshop]"
        assert kit.admin.get_json("/admin/api/accounts/find.json", allow_404=True, params={"username": "wsa-001"}) \
            is None


def test_a_developer_cannot_write_the_mark_through_the_portal(tmp_path: Path) -> None:
    """porta app/models/fields_definition.rb `editable_by?` (a buyer edits no hidden / read-only field) and
    app/lib/fields/fields.rb `editable_defined_fields_for`: the portal's signup never stores `maas_owner`, however
    the form names it; only the Admin API does (maas_sandbox/admin/domain_extra_fields.py)."""
    import re

    import requests

    with running(tmp_path / "state") as info:
        kit = applied_kit(info, "MaaS Portal Spoof Org")
        inventory = ownership.load_inventory(kit.admin)
        ownership.ensure_owner_fields(kit.admin, inventory)
        s = requests.Session()
        page = s.get(info.portal_url + "/signup", timeout=10).text
        token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
        assert token, page[:300]
        resp = s.post(info.portal_url + "/signup", timeout=10, data={
            "authenticity_token": token.group(1), "account[org_name]": "eve org", "account[user][username]": "eve",
            "account[user][email]": "eve@example.com", "account[user][password]": "s3cret-pass-9",
            "account[maas_owner]": inventory.instance, "account[extra_fields][maas_owner]": inventory.instance,
            "account[user][maas_owner]": inventory.instance, "maas_owner": inventory.instance})
        assert resp.status_code == 200 and "eve" in resp.text, resp.text[:300]
        account = kit.admin.get_json("/admin/api/accounts/find.json", params={"username": "eve"})["account"]
        assert account["maas_owner"] is None and not ownership.marked(account, inventory.instance)
        users = kit.admin.get_json(f"/admin/api/accounts/{account['id']}/users.json")["users"]
        assert all(u["user"].get("maas_owner") is None for u in users)
