"""The teardown preview and the destroy come from the same planner (maas_helpers/reconcile/destroy.py
`plan_destroy`): on a live sandbox the preview lists, as "would delete", exactly the rows the destroy then
reports as deleted, and the destroy sends exactly the requests the preview's actions hold (porta order: apps and
ActiveDocs, products with their backend usages, backends — app/models/backend_api.rb `avoid_destruction`)."""

from __future__ import annotations

from maas_helpers.kit import Kit
from maas_helpers.reconcile import SECTIONS, Reconciler
from maas_helpers.results import Change
from maas_sandbox.control import SandboxInfo

CORE_SECTIONS = [s for s in SECTIONS if s != "sso"]


def test_the_teardown_preview_lists_exactly_what_destroy_deletes(fresh_sandbox: SandboxInfo) -> None:
    kit = Kit.configure(target="sandbox", state_dir=str(fresh_sandbox.state_dir), org_name="MaaS Destroy Org")
    for section in CORE_SECTIONS:
        kit.apply(section)
    reconciler = Reconciler(kit.admin, kit.catalogue, concurrency=4)
    kit.admin.reset_counts()
    preview = reconciler.plan_destroy()
    assert kit.admin.writes == 0, dict(kit.admin.calls)
    requests = sum(len(a.writes) for a in preview.actions)

    kit.admin.reset_counts()
    done = reconciler.destroy()
    # plus one save of the kit's inventory (maas_helpers/ownership.py): what was deleted is forgotten
    assert kit.admin.calls["DELETE"] == requests and kit.admin.calls["PUT"] == 1, dict(kit.admin.calls)
    rows = [(a.kind, a.name, a.detail) for a in done.actions]
    assert [(a.kind, a.name, a.detail) for a in preview.actions] == rows
    assert {a.change for a in preview.actions} == {Change.PLANNED_DELETE}
    assert {a.change for a in done.actions} == {Change.DELETED}
    kinds = {kind for kind, _, _ in rows}
    assert kinds == {"application", "ActiveDoc", "product", "backend"}, kinds
    assert len([r for r in rows if r[0] == "product"]) == len(kit.catalogue.products)
    assert preview.notes == done.notes

    # nothing of ours is left: the preview is now empty, and a second destroy deletes nothing
    assert reconciler.plan_destroy().actions == []
    kit.admin.reset_counts()
    assert reconciler.destroy().actions == [] and kit.admin.writes == 0
