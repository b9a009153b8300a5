"""Converge 3scale to the catalogue: desired (catalogue) vs observed (Admin API) → actions → execute.

Each section observes (the run's cached reads), plans with pure functions (`plan_*` in the section modules:
`Action`s with field-level changes and the exact `Write`s) and hands the actions to `Context.execute`, the one
executor. `Reconciler.apply(section)` runs one section (one notebook step) or all of them in order; `plan` is the
same code with nothing sent; `destroy` / `plan_destroy` remove / preview what the catalogue owns. Re-applying an
unchanged catalogue makes no write.

With `concurrency` > 1 the per-product sections (backends … plans) run product by product on a bounded thread
pool: each product goes through them in 3scale's order (backend before usage, rules before deploy, deploy
before promote), products side by side. The result lists rows section by section in catalogue order, exactly
as a sequential run; a product that fails is reported (a `failed` row and `ProductsFailed`) after the others
have finished.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from maas_helpers.admin_client import AdminClient
from maas_helpers.catalogue import Catalogue
from maas_helpers.errors import MaasError
from maas_helpers.reconcile.accounts import application_keys, apply_subscriptions_and_apps
from maas_helpers.reconcile.active_docs import apply_active_docs
from maas_helpers.reconcile.context import Context
from maas_helpers.reconcile.destroy import destroy
from maas_helpers.reconcile.organisation import apply_organisation, apply_policy_registry
from maas_helpers.reconcile.owned import apply_prune, claim
from maas_helpers.reconcile.plans import apply_plans
from maas_helpers.reconcile.policy_check import check_policies
from maas_helpers.reconcile.portal import apply_portal
from maas_helpers.reconcile.products import (
    apply_authentication,
    apply_backends,
    apply_mapping_rules,
    apply_metrics,
    apply_policies,
    apply_products,
    apply_promote,
)
from maas_helpers.reconcile.sample_data import apply_sample_data
from maas_helpers.reconcile.sso import apply_sso
from maas_helpers.reconcile.warm import warm_up
from maas_helpers.results import Action, Change, StepResult, plural
from maas_helpers.section_names import PRODUCT_SECTIONS

if TYPE_CHECKING:
    from maas_helpers.platform.base import Platform

Section = Callable[[Context], StepResult]

# Order matters: rules and metrics before deploy, deploy before promote, plans before applications,
# proxy endpoints before ActiveDocs, the sample product's default plan gone before any signup.
SECTIONS: dict[str, Section] = {
    "organisation": apply_organisation,
    "policy_registry": apply_policy_registry,
    "backends": apply_backends,
    "products": apply_products,
    "metrics": apply_metrics,
    "mapping_rules": apply_mapping_rules,
    "authentication": apply_authentication,
    "sample_data": apply_sample_data,
    "policies": apply_policies,
    "promote": apply_promote,
    "plans": apply_plans,
    "subscriptions_and_apps": apply_subscriptions_and_apps,
    "active_docs": apply_active_docs,
    "portal": apply_portal,
    "sso": apply_sso,
    "prune": apply_prune,  # last: what the kit owns and the catalogue no longer names
}

# With concurrency > 1, consecutive sections of one stage run side by side (results still in SECTIONS order):
# the account-wide settings first (the policy chain needs the registry entry), then the products, then what
# needs the products (plans for applications, endpoints for ActiveDocs) with the SSO provider. The portal's
# CMS content runs beside all of them (see `_steps_with_portal_lane`).
# A section on account-wide or seed objects only (e.g. a `sample_data` section on the seed's sample product)
# belongs to stage 0 so the products' stage stays one block; unknown sections run in stage 2.
STAGE = {"organisation": 0, "policy_registry": 0, "sample_data": 0, **dict.fromkeys(PRODUCT_SECTIONS, 1),
         "prune": 3}
DEFAULT_CONCURRENCY = 8
# Each product worker may have a few independent reads or writes out at once (its prefetch, its limits): the
# Admin API sees at most this many calls per worker in flight (32 at the default concurrency).
IN_FLIGHT_PER_WORKER = 4

__all__ = ["DEFAULT_CONCURRENCY", "PRODUCT_SECTIONS", "SECTIONS", "ProductsFailed", "Reconciler",
           "application_keys"]


def stage_of(section: str) -> int:
    """The stage a section runs in with concurrency > 1 (the portal's lane starts with stage 0)."""
    return 0 if section == "portal" else STAGE.get(section, 2)


class ProductsFailed(MaasError):
    """Some products failed while the others were completed; `result` holds what was done (and `failed` rows)."""

    def __init__(self, message: str, result: StepResult, completed: list[str], failed: dict[str, str]) -> None:
        super().__init__(message)
        self.result, self.completed, self.failed = result, completed, failed


@dataclass
class _ProductRun:
    steps: list[StepResult] = field(default_factory=list)
    section: str | None = None  # where it failed
    error: Exception | None = None


def _run_product(ctx: Context, block: list[str]) -> _ProductRun:
    run = _ProductRun()
    try:
        with ctx.client.about(f"product {ctx.catalogue.products[0].system_name}: reading"):
            ctx.prefetch(ctx.catalogue.products[0], block)
    except MaasError as exc:
        run.section, run.error = block[0], exc
        return run
    for name in block:
        try:
            run.steps.append(SECTIONS[name](ctx))
        except MaasError as exc:
            run.section, run.error = name, exc
            break
    return run


def _fan_out(ctx: Context, block: list[str]) -> list[StepResult]:
    """The per-product sections of `block`, products in parallel; merged back into one result per section."""
    products = ctx.catalogue.products
    shared = []  # read the shared lists once (side by side), before the threads
    if any(name != "backends" for name in block):
        shared.append(ctx.services)
    if {"backends", "products"} & set(block):
        shared.append(ctx.backends)
    ctx.map(lambda load: load(), shared)
    contexts = [ctx.for_product(p) for p in products]
    runs = ctx.map(lambda sub: _run_product(sub, block), contexts)
    merged = []
    for index, name in enumerate(block):
        titles = [r.steps[index].title for r in runs if len(r.steps) > index]
        step = StepResult(titles[0] if titles else name)
        for product, run in zip(products, runs, strict=True):
            if len(run.steps) > index:
                step.extend(run.steps[index])
            elif run.section == name:
                step.actions.append(Action("product", product.system_name, Change.FAILED, str(run.error)))
        merged.append(step)
    for sub in contexts:
        ctx.absorb(sub)
    failed = {p.system_name: f"{r.section}: {r.error}" for p, r in zip(products, runs, strict=True) if r.error}
    if failed:
        completed = [p.system_name for p, r in zip(products, runs, strict=True) if not r.error]
        result = StepResult("Apply")
        for step in merged:
            result.extend(step)
        raise ProductsFailed(
            f"{len(failed)} of {len(products)} products failed — " + "; ".join(f"{k} ({v})" for k, v in failed.items())
            + f". Completed: {', '.join(completed) or 'none'}. Fix the cause and apply again (it resumes).",
            result, completed, failed)
    return merged


class Reconciler:
    def __init__(self, client: AdminClient, catalogue: Catalogue, platform: Platform | None = None,
                 state_dir: Path | None = None, *, concurrency: int = DEFAULT_CONCURRENCY,
                 progress: Callable[[Action], None] | None = None, prune: bool = False) -> None:
        if concurrency < 1:
            raise MaasError(f"concurrency must be at least 1 (got {concurrency}); 1 = one call at a time")
        self.client = client
        self.catalogue = catalogue
        self.platform = platform
        self.state_dir = state_dir
        self.concurrency = concurrency
        self.progress = progress
        self.prune = prune  # confirmed: prune products even when they hold applications the kit did not create

    def _context(self, plan_only: bool) -> Context:
        return Context(self.client, self.catalogue, plan_only=plan_only, platform=self.platform,
                       state_dir=self.state_dir, concurrency=self.concurrency, progress=self.progress,
                       prune=self.prune)

    def _steps_with_portal_lane(self, ctx: Context, names: list[str]) -> list[StepResult]:
        """With concurrency > 1: sections run stage by stage (STAGE; SECTIONS order inside a stage) and are
        reported in SECTIONS order. The portal's CMS content reads and writes nothing the other sections use
        (the provider's access code aside, a field no other section writes), so it runs beside them all."""
        if ctx.concurrency <= 1 or len(names) == 1:
            return self._steps(ctx, names)
        rest = sorted((n for n in names if n != "portal"), key=lambda n: STAGE.get(n, 2))  # stable sort
        ctx.settle(0)
        with ThreadPoolExecutor(max_workers=1) as lane:
            portal = lane.submit(SECTIONS["portal"], ctx) if "portal" in names else None
            try:
                done = dict(zip(rest, self._steps(ctx, rest), strict=True))
            finally:
                if portal is not None:
                    wait([portal])
        if portal is not None:
            done["portal"] = portal.result()
        return [done[n] for n in names]

    def _steps(self, ctx: Context, names: list[str]) -> list[StepResult]:
        """Each section's result in order; consecutive per-product sections fan out when concurrency > 1."""
        steps: list[StepResult] = []
        i = 0
        while i < len(names):
            stage = STAGE.get(names[i], 2)
            ctx.settle(stage)
            group = [names[i]]
            while ctx.concurrency > 1 and i + len(group) < len(names) and STAGE.get(names[i + len(group)], 2) == stage:
                group.append(names[i + len(group)])
            if ctx.concurrency <= 1:
                steps.append(SECTIONS[names[i]](ctx))
                i += 1
                continue
            if stage != 1:
                steps.extend(ctx.map(lambda name: SECTIONS[name](ctx), group))
                i += len(group)
                continue
            block = group
            if block:
                try:
                    steps.extend(_fan_out(ctx, block))
                except ProductsFailed as exc:  # report the sections already done as well
                    done = StepResult(exc.result.title)
                    for step in [*steps, exc.result]:
                        done.extend(step)
                    exc.result = done
                    raise
                i += len(block)
            else:
                steps.append(SECTIONS[names[i]](ctx))
                i += 1
        return steps

    def _run(self, section: str | None, plan_only: bool) -> StepResult:
        if section is not None and section not in SECTIONS:
            raise MaasError(f"unknown section {section!r}; choose one of: {', '.join(SECTIONS)}")
        names = [section] if section else list(SECTIONS)
        ctx = self._context(plan_only)
        self.client.limit_in_flight(IN_FLIGHT_PER_WORKER * self.concurrency if self.concurrency > 1 else None)
        before_calls, before_writes = self.client.total_calls, self.client.writes
        warm_up(ctx, names, stage_of)
        notes = check_policies(ctx) if "policies" in names else []  # before anything is written
        with self.client.about("the kit's inventory"):
            claims = claim(ctx, names)  # foreign objects with catalogue names: reported, left out of the run
        steps = self._steps_with_portal_lane(ctx, names)
        if len(names) == 1:
            result = steps[0]
            result.actions[:0] = claims.actions
        else:
            result = StepResult("Plan" if plan_only else "Apply")
            result.extend(claims)
            for step in steps:
                result.extend(step)
        result.notes.extend(notes)
        calls, writes = self.client.total_calls - before_calls, self.client.writes - before_writes
        if plan_only:
            result.notes.append(f"plan only: {plural(calls, 'API read')}, nothing written")
        elif writes == 0:
            result.notes.append(f"already in sync: {plural(calls, 'API read')}, 0 writes")
        else:
            result.notes.append(f"{plural(calls, 'API call')}, {plural(writes, 'write')}")
        return result

    def apply(self, section: str | None = None) -> StepResult:
        return self._run(section, plan_only=False)

    def plan(self, section: str | None = None) -> StepResult:
        return self._run(section, plan_only=True)

    def destroy(self) -> StepResult:
        return destroy(self._context(plan_only=False))

    def plan_destroy(self) -> StepResult:
        """What `destroy` would remove (the same code, nothing written): the teardown preview."""
        return destroy(self._context(plan_only=True))

    def application_keys(self) -> dict[str, str]:
        return application_keys(self._context(plan_only=True))
