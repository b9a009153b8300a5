"""The run's first reads, side by side.

Without this, a run reads one list after another as each section reaches it: the policies 3scale offers, the
kit's inventory, the products, the backends, ActiveDocs, the provider, the policy registry, the CMS, the
accounts, the SSO providers, every application — a dozen round trips in a row before and between the product
fan-out, ~1.2 s at a real 3scale's 100 ms per call. These lists do not depend on each other, so with
concurrency > 1 they are read at once before the first section (only those the run's sections read), and each
section finds its list in the run's cache under the key it would have used. A list read here for a later stage
is forgotten (`Context.settle`) if anything was written before that stage starts, so a run that writes reads
it again after the writes, exactly as before; a re-apply writes nothing and keeps them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from maas_helpers.reconcile.accounts import applications_of, subscriptions_of
from maas_helpers.reconcile.context import Context
from maas_helpers.reconcile.organisation import registry, registry_by_admin_api
from maas_helpers.reconcile.owned import CLAIMING, applications
from maas_helpers.reconcile.policy_check import offered
from maas_helpers.reconcile.portal import CMS_LISTINGS, cms_listing, load_manifest
from maas_helpers.reconcile.sample_data import SAMPLE_PRODUCT
from maas_helpers.reconcile.sso import providers
from maas_helpers.section_names import PRODUCT_SECTIONS

BEFORE_SECTIONS = -1  # read by the catalogue checks and the ownership claim, before stage 0
# products (each reading side by side itself), accounts and the sample plans at once; the client bounds the
# calls in flight
WORKERS = 16


def warm_up(ctx: Context, sections: Iterable[str], stage_of: Callable[[str], int]) -> None:
    """Read what `sections` will read of the account-wide lists, side by side (concurrency > 1 only)."""
    names = set(sections)
    portal = ctx.catalogue.portal
    if "portal" in names and portal.enabled:
        load_manifest(ctx)  # local input first: a missing manifest is one line before any call
    loads: dict[str, tuple[int, Callable[[], Any]]] = {}

    def want(key: str, stage: int, load: Callable[[], Any], *users: str) -> None:
        if names & set(users):
            loads[key] = (stage, load)

    want("policies_offered", BEFORE_SECTIONS, lambda: offered(ctx), "policies")
    want("inventory", BEFORE_SECTIONS, ctx.inventory, *CLAIMING)
    want("services", BEFORE_SECTIONS, ctx.services, *CLAIMING)
    want("backends", BEFORE_SECTIONS, ctx.backends, *CLAIMING)
    docs_first = BEFORE_SECTIONS if names & {"active_docs", "prune"} else stage_of("sample_data")
    want("active_docs", docs_first, ctx.active_docs, "active_docs", "prune", "sample_data")
    want("provider", stage_of("organisation"), ctx.provider, "organisation")
    if registry_by_admin_api(ctx):
        want("registry", stage_of("policy_registry"), lambda: registry(ctx), "policy_registry")
    if portal.enabled:
        if portal.remove_access_code:
            want("provider", min(stage_of("organisation"), stage_of("portal")), ctx.provider, "portal")
        for key in CMS_LISTINGS:
            want(key, stage_of("portal"), lambda key=key: cms_listing(ctx, key), "portal")  # type: ignore[misc]
    want("accounts", stage_of("subscriptions_and_apps"), ctx.accounts, "subscriptions_and_apps", "prune")
    if ctx.catalogue.sso.enabled:
        want("auth_providers", stage_of("sso"), lambda: providers(ctx), "sso")
    want("all_applications", stage_of("prune"), lambda: applications(ctx), "prune")
    if ctx.catalogue.remove_sample_data:
        want("services", BEFORE_SECTIONS, ctx.services, "sample_data")
    ctx.warm(loads, workers=len(loads))  # a dozen reads at most: all at once (the client bounds what is in flight)
    ctx.warm(_second(ctx, names, stage_of), workers=WORKERS)


def _second(ctx: Context, names: set[str], stage_of: Callable[[str], int]) -> dict[str, tuple[int, Callable[[], Any]]]:
    """What needs the first lists: each existing product's own objects (its prefetch), the sample product's
    plans, the catalogue accounts' applications and subscriptions."""
    loads: dict[str, tuple[int, Callable[[], Any]]] = {}
    services = ctx.cache.get("services") or {}
    if names & set(PRODUCT_SECTIONS):
        for product in ctx.catalogue.products:
            if product.system_name in services:
                loads[f"prefetched:{product.system_name}"] = (stage_of("products"),
                                                              partial(ctx.prefetch, product, names))
    sample = services.get(SAMPLE_PRODUCT)
    if sample is not None and "sample_data" in names and ctx.catalogue.remove_sample_data:
        loads[f"plans:{sample['id']}"] = (stage_of("sample_data"), partial(ctx.app_plans, sample))
    accounts = ctx.cache.get("accounts") or {}
    if "subscriptions_and_apps" in names and accounts:
        named = {spec.account for spec in ctx.catalogue.applications}
        for name, account in accounts.items():
            if name in named:
                loads[f"apps:{account['id']}"] = (stage_of("subscriptions_and_apps"),
                                                  partial(applications_of, ctx, account))
            if ctx.catalogue.subscribe_existing_accounts:
                loads[f"subs:{account['id']}"] = (stage_of("subscriptions_and_apps"),
                                                  partial(subscriptions_of, ctx, account))
    return loads
