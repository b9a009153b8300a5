"""Issue 23 (b): after the catalogue (all sections, SSO included), the developer's journey (notebook 10) and a
workshop room (notebook 12), a confirmed teardown (notebook 99, `teardown_apply`) leaves the Admin API with
exactly the accounts, applications, products, backends and ActiveDocs that were there before, and the sandbox
realm without any user the kit created; the preview listed exactly what was deleted; a second teardown says
"already gone". A product someone else made is never touched. Ownership: maas_helpers/ownership.py (porta
app/models/fields_definition.rb for the admin-only mark; the tenant's inventory for products/backends/docs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from maas_helpers.kit import Kit
from maas_helpers.results import Change
from maas_helpers.teardown import GONE_NOTE, teardown_apply, teardown_plan
from maas_helpers.workshop import Workshop, WorkshopSpec

from harness.sandbox import running


def _ids(kit: Kit, path: str, plural: str, singular: str) -> set[int]:
    body = kit.admin.get_json(path, params={"per_page": 500})
    return {int(row.get(singular, row)["id"]) for row in body[plural]}


def _state(kit: Kit, room: Workshop) -> dict[str, Any]:
    users = room.sso.session.get(room.sso.base, params={"max": 1000}).json()
    return {
        "accounts": _ids(kit, "/admin/api/accounts.json", "accounts", "account"),
        "applications": _ids(kit, "/admin/api/applications.json", "applications", "application"),
        "products": _ids(kit, "/admin/api/services.json", "services", "service"),
        "backends": _ids(kit, "/admin/api/backend_apis.json", "backend_apis", "backend_api"),
        "active_docs": _ids(kit, "/admin/api/active_docs.json", "api_docs", "api_doc"),
        "sso_users": {u["username"] for u in users},
    }


def test_teardown_removes_everything_the_kit_owns_and_nothing_else(tmp_path: Path) -> None:
    with running(tmp_path / "state") as info:
        kit = Kit.configure(target="sandbox", state_dir=str(info.state_dir), org_name="MaaS Teardown Org")
        kit.apply("sso")  # the realm first, so the state before includes its own users
        room = Workshop(kit, tmp_path / "handout")
        # someone else's product with a name nobody in the catalogue uses, made before the kit's run
        foreign = kit.admin.send_json("POST", "/admin/api/services.json",
                                      {"system_name": "someone-elses", "name": "Someone else's"})["service"]
        before = _state(kit, room)

        kit.apply()
        kit.journey.start("td-dev")
        up = room.up(WorkshopSpec(attendees=2, prefix="tdw", models=()))
        assert not [a for a in up.actions if a.change is Change.FAILED], str(up)
        during = _state(kit, room)
        assert during["accounts"] - before["accounts"] and during["sso_users"] - before["sso_users"]

        writes = kit.admin.writes
        preview = teardown_plan(kit)
        assert kit.admin.writes == writes  # the preview writes nothing
        planned = [(a.kind, a.name) for a in preview.actions if a.change is Change.PLANNED_DELETE]
        done = teardown_apply(kit)
        deleted = [(a.kind, a.name) for a in done.actions if a.change is Change.DELETED]
        assert deleted == planned, (str(preview), str(done))
        assert {k for k, _ in deleted} >= {"developer account", "SSO user", "application", "product", "backend",
                                           "ActiveDoc"}
        assert any(n.startswith("teardown complete") for n in done.notes), done.notes

        after = _state(kit, room)
        # nothing the run added is left; what was there stays (the seed's sample application aside: the
        # catalogue's `remove_sample_data` deletes the sample product's plans on purpose, sample_data.py)
        assert all(after[k] <= before[k] for k in before), {k: after[k] - before[k] for k in before}
        assert {k: after[k] for k in before if k != "applications"} == {k: before[k] for k in before
                                                                         if k != "applications"}
        assert int(foreign["id"]) in after["products"]

        again = teardown_apply(kit)
        assert not [a for a in again.actions if a.change is Change.DELETED] and GONE_NOTE in again.notes
