"""Remove everything the kit owns on the Admin API side of the catalogue — and nothing else.

Ownership comes from `maas_helpers.ownership` (the tenant's inventory for products, backends and ActiveDocs;
the admin-only `maas_owner` mark for applications), never from names: a product or backend someone else made
with a catalogue name is left alone. The deletions are `owned.plan_prune` with nothing kept, run through the one
executor, so the teardown preview (`Reconciler.plan_destroy`) lists exactly what a destroy deletes. Stages go in
3scale's order (applications, ActiveDocs, products with their backend usages, then backends: `Write.after`).
A second run finds nothing left and says so."""

from __future__ import annotations

from maas_helpers.reconcile.context import Context
from maas_helpers.reconcile.owned import Keep, run_prune
from maas_helpers.results import StepResult

KEPT = ("kept: the policy registry entry, portal content and the SSO provider (3scale has no DELETE for SSO "
        "providers); the organisation settings; the kit's inventory partial (it records what is left)")
WHY = "teardown"


def destroy(ctx: Context) -> StepResult:
    """Delete what the kit owns (or, when `ctx.plan_only`, list it as "would delete")."""
    result = StepResult("Destroy")
    run_prune(ctx, result, Keep(), confirmed=True, why=WHY)
    ctx.cache.clear()
    if not result.actions:
        result.notes.append("nothing the kit created is left on the Admin API side")
    result.notes.append(KEPT)
    return result
