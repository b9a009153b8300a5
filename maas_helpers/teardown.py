"""Notebook 99: what a teardown removes and the removal itself, from the same code.

The preview is `Reconciler.plan_destroy()` — `destroy` run with writes skipped — plus the developer accounts
found by the same lookup (`developer_accounts`) that `remove_developers` deletes. The kit only removes what it
created: catalogue objects by system name, and the developer accounts it signed up (those with a password file
in the state directory). 3scale's seed objects stay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from maas_helpers.billing import delete_buyer_account
from maas_helpers.journey import developer_password_file, kit_developers
from maas_helpers.results import Change, StepResult

if TYPE_CHECKING:
    from maas_helpers.kit import Kit

DEVELOPER = "developer account"


def developer_accounts(kit: Kit) -> list[tuple[str, int]]:
    """(username, account id) of every developer account the kit signed up that still exists."""
    out = []
    for username in kit_developers(kit):
        found = kit.admin.get_json("/admin/api/accounts/find.json", allow_404=True, params={"username": username})
        if found is not None:
            out.append((username, int(found["account"]["id"])))
    return out


def teardown_plan(kit: Kit) -> StepResult:
    """What `teardown_apply` would remove, nothing written."""
    result = StepResult("Teardown plan")
    for username, account_id in developer_accounts(kit):
        result.add(DEVELOPER, username, Change.PLANNED_DELETE, f"id {account_id}, with its applications")
    return result.extend(kit.reconciler.plan_destroy())


def remove_developers(kit: Kit) -> StepResult:
    """Delete the developer accounts the kit signed up (with their applications) and forget their passwords.
    Accounts the kit did not create are never touched."""
    result = StepResult("Developer accounts")
    for username, account_id in developer_accounts(kit):
        delete_buyer_account(kit.admin, account_id, f"developer {username}")  # cancels un-issued invoices first
        result.add(DEVELOPER, username, Change.DELETED, f"id {account_id}, with its applications")
    for username in kit_developers(kit):
        developer_password_file(kit, username).unlink(missing_ok=True)
    return result


def teardown_apply(kit: Kit) -> StepResult:
    """The developer accounts first (their applications sit on our plans), then the catalogue's objects, then
    the platform's (cluster) objects."""
    result = remove_developers(kit)
    result.title = "Teardown"
    return result.extend(kit.destroy())


def teardown_button(kit: Kit) -> Any:
    """A button that runs the teardown after an explicit click (interactive kernels only)."""
    import ipywidgets as widgets
    from IPython.display import display

    button = widgets.Button(description="Remove everything the kit created", button_style="danger",
                            layout=widgets.Layout(width="auto"))
    out = widgets.Output()

    def _confirm(_: Any) -> None:
        button.disabled = True
        with out:
            display(teardown_apply(kit))

    button.on_click(_confirm)
    return widgets.VBox([button, out])
