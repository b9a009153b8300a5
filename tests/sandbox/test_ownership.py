"""Issue 23 over real HTTP on the sandbox.

- porta app/models/fields_definition.rb `editable_by?` + app/lib/fields/extra_fields.rb `extra_fields=`: a
  defined extra field is stored from the Admin API (Signup Express, buyers_applications create) and shown as a
  top-level attribute (app/representers/extra_fields_representer.rb); an undefined name is dropped.
- Prune: two models applied, then one: `plan` lists the second model's product, backend, ActiveDoc (its plans go
  with the product) as "would delete (no longer in the catalogue)"; `apply` removes them; the portal's
  ActiveDocs no longer offer it.
"""

from __future__ import annotations

from pathlib import Path

from maas_helpers import ownership
from maas_helpers.kit import Kit
from maas_helpers.results import Change

from harness.sandbox import running


def test_extra_fields_are_kept_only_when_defined(tmp_path: Path) -> None:
    with running(tmp_path / "state") as info:
        kit = Kit.configure(target="sandbox", state_dir=str(info.state_dir), org_name="MaaS Fields Org")
        made = kit.admin.send_json("POST", "/admin/api/signup.json", {
            "org_name": "before", "username": "before", "email": "before@example.com", "maas_owner": "x"})["account"]
        assert "maas_owner" not in made  # not defined yet: porta's extra_fields= drops it
        inventory = ownership.load_inventory(kit.admin)
        assert ownership.ensure_owner_fields(kit.admin, inventory) == list(ownership.OWNER_TARGETS)
        fields = [f["fields_definition"] for f in kit.admin.get_json("/admin/api/fields_definitions.json")
                  ["fields_definitions"] if f["fields_definition"]["name"] == "maas_owner"]
        assert {(f["target"], f["hidden"], f["read_only"]) for f in fields} == {
            (t, True, True) for t in ownership.OWNER_TARGETS}
        account = kit.admin.send_json("POST", "/admin/api/signup.json", {
            "org_name": "after", "username": "after", "email": "after@example.com",
            **ownership.owner_mark(inventory.instance)})["account"]
        assert ownership.marked(account, inventory.instance)
        assert kit.admin.get_json(f"/admin/api/accounts/{made['id']}.json")["account"]["maas_owner"] is None


def test_a_model_removed_from_the_catalogue_is_pruned(tmp_path: Path) -> None:
    with running(tmp_path / "state") as info:
        kit = Kit.configure(target="sandbox", state_dir=str(info.state_dir), org_name="MaaS Prune Org")
        two = kit.catalogue.model_copy(update={"products": kit.catalogue.products[:2], "applications": [
            a for a in kit.catalogue.applications if a.product in {p.system_name for p in kit.catalogue.products[:2]}]})
        kit.catalogue = two
        kit.apply()
        gone = two.products[1]
        kit.catalogue = two.model_copy(update={"products": two.products[:1], "applications": [
            a for a in two.applications if a.product == two.products[0].system_name]})
        plan = kit.plan()
        deletes = {(a.kind, a.name) for a in plan.actions if a.change is Change.PLANNED_DELETE}
        assert {("product", gone.system_name), ("backend", gone.backend.system_name)} <= deletes, str(plan)
        if gone.active_doc:
            assert ("ActiveDoc", gone.active_doc.system_name) in deletes
        assert all(a.detail.startswith("no longer in the catalogue") for a in plan.actions
                   if a.change is Change.PLANNED_DELETE)
        kit.apply()
        names = {s["service"]["system_name"] for s in kit.admin.get_json("/admin/api/services.json")["services"]}
        assert gone.system_name not in names and two.products[0].system_name in names
        docs = {d["api_doc"]["system_name"] for d in kit.admin.get_json("/admin/api/active_docs.json")["api_docs"]}
        assert not gone.active_doc or gone.active_doc.system_name not in docs
        again = kit.plan()
        assert not [a for a in again.actions if a.change is Change.PLANNED_DELETE]


def test_an_admin_only_field_cannot_be_required(tmp_path: Path) -> None:
    """porta app/models/fields_definition.rb `check_base_validations`: required and hidden/read_only exclude each
    other (a buyer could never fill a required field it cannot edit)."""
    with running(tmp_path / "state") as info:
        kit = Kit.configure(target="sandbox", state_dir=str(info.state_dir), org_name="MaaS Fields Org")
        resp = kit.admin.request("POST", "/admin/api/fields_definitions.json", allow=(422,), json={
            "target": "Account", "name": "both", "label": "Both", "required": True, "hidden": True})
        assert resp.status_code == 422 and "required" in resp.json()["errors"], resp.text


def test_inventory_saves_from_many_threads_are_grouped_and_each_is_stored_before_it_returns(tmp_path: Path) -> None:
    """The products' workers save the inventory at about the same moments (before and after their creates).
    Each save must return only once a stored draft holds that caller's change (a crash then leaves a name,
    never a silent orphan), and saves that overlap share one write (group commit) instead of queueing one
    write each. Real HTTP, the sandbox answering every Admin API call after 100 ms as a real 3scale does."""
    import threading

    with running(tmp_path / "state", admin_latency_ms=100) as info:
        kit = Kit.configure(target="sandbox", state_dir=str(info.state_dir), org_name="MaaS Group Commit Org")
        inventory = ownership.load_inventory(kit.admin)
        ownership.save_inventory(kit.admin, inventory)  # created (POST) once, as the first apply does
        kit.admin.reset_counts()
        seen: dict[int, str] = {}
        errors: list[BaseException] = []

        def worker(n: int) -> None:
            try:
                with inventory.lock:
                    inventory.record("product", 1000 + n, f"model-{n}")
                ownership.save_inventory(kit.admin, inventory)
                seen[n] = ownership.load_inventory(kit.admin).owned.get("product", {}).get(str(1000 + n), "")
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors
        assert seen == {n: f"model-{n}" for n in range(12)}, "a save returned before its change was stored"
        puts = kit.admin.calls["PUT"]
        assert 1 <= puts < 12, f"{puts} writes for 12 overlapping saves: they were not grouped"
        stored = ownership.load_inventory(kit.admin)
        assert stored.ids("product") == {1000 + n: f"model-{n}" for n in range(12)}
