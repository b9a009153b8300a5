"""Notebook 99: what a teardown removes and the removal itself, from the same code.

Everything the kit owns and nothing else (ownership: `maas_helpers.ownership`, never a name):
1. the developer accounts it signed up — the journey's developers and the workshop attendees — known by the
   admin-only `maas_owner` mark, with their applications, and the workshop's SSO users in the realm;
2. the catalogue's objects it created (`Reconciler.destroy`: the tenant's inventory and marked applications);
3. the platform's cluster objects (`platform.destroy`, labelled objects only; nothing on the sandbox).

`teardown_plan` and `teardown_apply` build the same list of (row, deletion) pairs (`_plan`); the preview shows the
rows, the apply runs the deletions. `verify_teardown` re-reads: "teardown complete" only when nothing owned is
left; otherwise it lists what is left. A second teardown finds nothing and says "already gone".
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from maas_helpers import ownership
from maas_helpers.billing import delete_buyer_account
from maas_helpers.errors import MaasError
from maas_helpers.journey import developer_password_file, kit_developers
from maas_helpers.results import Action, Change, StepResult

if TYPE_CHECKING:
    from maas_helpers.kit import Kit

DEVELOPER = "developer account"
SSO_USER = "SSO user"
GONE_NOTE = "already gone: nothing the kit created is left on the Admin API side"


def owned_accounts(kit: Kit) -> list[dict[str, Any]]:
    """Every developer account carrying the kit's mark (journey developers, workshop attendees)."""
    instance = ownership.load_inventory(kit.admin).instance
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        body = kit.admin.get_json("/admin/api/accounts.json", params={"page": page, "per_page": 500})
        batch = [a.get("account", a) for a in body.get("accounts", [])]
        out.extend(a for a in batch if ownership.marked(a, instance))
        if len(batch) < 500:
            return out
        page += 1


def developer_accounts(kit: Kit) -> list[tuple[str, int]]:
    """(username, account id) of the journey's developer accounts (notebook 10) that still exist and carry the
    kit's mark (an account someone else made with that username is not the kit's)."""
    instance = ownership.load_inventory(kit.admin).instance
    out = []
    for username in kit_developers(kit):
        found = kit.admin.get_json("/admin/api/accounts/find.json", allow_404=True, params={"username": username})
        if found is not None and ownership.marked(found["account"], instance):
            out.append((username, int(found["account"]["id"])))
    return out


def _workshop_sso_users(kit: Kit, accounts: list[dict[str, Any]],
                        result: StepResult) -> list[tuple[dict[str, Any], Any]]:
    """The SSO users of the workshops whose (marked) accounts the kit owns: the realm's users carrying the
    workshop attribute (only the realm admin sets it) for that prefix, with the client that deletes them."""
    from maas_helpers.workshop.spec import MARKER, SSO_ATTRIBUTE, number_of
    from maas_helpers.workshop.sso_users import SsoUsers

    suffix = f" [{MARKER}]"
    prefixes = sorted({str(a.get("org_name"))[: -len(suffix)].rsplit("-", 1)[0] for a in accounts
                       if str(a.get("org_name", "")).endswith(suffix)})
    sso = kit.catalogue.sso
    if not prefixes or not sso.enabled:
        return []
    try:
        users = SsoUsers.for_platform(kit.platform, sso.realm, kit.settings.tls_verify)
        return [(u, users) for prefix in prefixes for u in users.with_attribute(SSO_ATTRIBUTE, prefix)
                if number_of(prefix, str(u.get("username", ""))) is not None]
    except (MaasError, OSError) as exc:  # no realm yet / no SSO admin credentials: say so, do not guess
        result.notes.append(f"SSO users not checked: {exc}")
        return []


def _plan(kit: Kit) -> tuple[StepResult, list[Callable[[], Any]]]:
    """The Admin API side's rows (would delete) and, in the same order, the deletions that make them so."""
    result = StepResult("Teardown plan")
    runs: list[Callable[[], Any]] = []
    accounts = owned_accounts(kit)
    usernames = {account_id: username for username, account_id in developer_accounts(kit)} if accounts else {}
    for account in accounts:
        result.add(DEVELOPER, usernames.get(int(account["id"]), str(account.get("org_name"))), Change.PLANNED_DELETE,
                   f"id {account['id']}, with its users and applications")
        # invoices not yet issued are cancelled first; an issued, unpaid one stops it with a clear line (billing.py)
        runs.append(partial(delete_buyer_account, kit.admin, int(account["id"]), str(account.get("org_name"))))
    for user, client in _workshop_sso_users(kit, accounts, result):
        result.add(SSO_USER, str(user.get("username")), Change.PLANNED_DELETE, f"realm {client.realm} (workshop)")
        runs.append(partial(client.delete, user["id"]))
    return result, runs


def teardown_plan(kit: Kit) -> StepResult:
    """What `teardown_apply` would remove, nothing written: accounts and SSO users, the catalogue's objects,
    then the platform's cluster objects."""
    result, _ = _plan(kit)
    result.extend(kit.reconciler.plan_destroy())
    result.extend(kit.platform.plan_destroy())  # the cluster side: destroy's own plan (labelled objects)
    if kit.settings.target == "openshift":  # the lock's NetworkPolicies (kit.destroy removes them)
        result.extend(kit.models.remove_lockdown(plan_only=True))
    if not any(a.change is Change.PLANNED_DELETE for a in result.actions):
        result.notes.append(GONE_NOTE)
    return result


def remove_developers(kit: Kit) -> StepResult:
    """Delete the accounts the kit signed up (with their applications) and the workshop's SSO users; forget the
    developers' passwords. Accounts the kit did not mark are never touched."""
    planned, runs = _plan(kit)
    result = StepResult("Developer accounts")
    result.notes.extend(planned.notes)
    for row, run in zip(planned.actions, runs, strict=True):
        try:
            run()
        except MaasError as exc:  # half-finished: list what was done and what is left
            result.add(row.kind, row.name, Change.FAILED, f"{exc} — left; run the teardown again to finish")
            continue
        result.actions.append(Action(row.kind, row.name, Change.DELETED, row.detail))
    for username in kit_developers(kit):
        developer_password_file(kit, username).unlink(missing_ok=True)
    return result


def teardown_apply(kit: Kit) -> StepResult:
    """The developer accounts first (their applications sit on our plans), then the catalogue's objects, then
    the platform's (cluster) objects; then a re-read says whether anything the kit owns is left."""
    result = remove_developers(kit)
    result.title = "Teardown"
    planned = kit.reconciler.plan_destroy()  # to say what went before a failure (403, network) stopped it
    try:
        result.extend(kit.destroy())
    except MaasError as exc:
        still = {(a.kind, a.name) for a in kit.reconciler.plan_destroy().actions}
        for row in planned.actions:
            if (row.kind, row.name) not in still:
                result.actions.append(Action(row.kind, row.name, Change.DELETED, row.detail))
        result.add("teardown", "Admin API objects", Change.FAILED,
                   f"stopped: {exc} — the rows below are left; run the teardown again to finish")
    if not any(a.change is Change.DELETED for a in result.actions):
        result.notes.append(GONE_NOTE)
    left = verify_teardown(kit)
    result.notes.append("teardown complete: a re-read finds nothing the kit owns" if not left
                        else "left after the teardown: " + "; ".join(left))
    return result


def verify_teardown(kit: Kit) -> list[str]:
    """What the kit still owns on the Admin API side (empty = teardown complete), read fresh."""
    preview = StepResult("check")
    rows, _ = _plan(kit)
    preview.extend(rows).extend(kit.reconciler.plan_destroy())
    return [f"{a.kind} {a.name} ({a.detail})" for a in preview.actions
            if a.change in (Change.PLANNED_DELETE, Change.SKIPPED)]

