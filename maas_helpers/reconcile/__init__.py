"""Converge 3scale to the catalogue: desired (catalogue) vs observed (Admin API) → actions → apply.

`Reconciler.apply(section)` runs one section (one notebook step) or all of them in order; `plan` is the same
without writing; `destroy` removes what the catalogue owns. Re-applying an unchanged catalogue makes no write.
"""

from __future__ import annotations

from collections.abc import Callable
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
from maas_helpers.results import StepResult

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
}

__all__ = ["SECTIONS", "Reconciler", "application_keys"]


class Reconciler:
    def __init__(self, client: AdminClient, catalogue: Catalogue, platform: Platform | None = None,
                 state_dir: Path | None = None) -> None:
        self.client = client
        self.catalogue = catalogue
        self.platform = platform
        self.state_dir = state_dir

    def _context(self, plan_only: bool) -> Context:
        return Context(self.client, self.catalogue, plan_only=plan_only, platform=self.platform,
                       state_dir=self.state_dir)

    def _run(self, section: str | None, plan_only: bool) -> StepResult:
        if section is not None and section not in SECTIONS:
            raise MaasError(f"unknown section {section!r}; choose one of: {', '.join(SECTIONS)}")
        names = [section] if section else list(SECTIONS)
        ctx = self._context(plan_only)
        before_calls, before_writes = self.client.total_calls, self.client.writes
        notes = check_policies(ctx) if "policies" in names else []  # before anything is written
        if len(names) == 1:
            result = SECTIONS[names[0]](ctx)
        else:
            result = StepResult("Plan" if plan_only else "Apply")
            for name in names:
                result.extend(SECTIONS[name](ctx))
        result.notes.extend(notes)
        calls, writes = self.client.total_calls - before_calls, self.client.writes - before_writes
        if plan_only:
            result.notes.append(f"plan only: {calls} API reads, nothing written")
        elif writes == 0:
            result.notes.append(f"already in sync: {calls} API reads, 0 writes")
        else:
            result.notes.append(f"{calls} API calls, {writes} writes")
        return result

    def apply(self, section: str | None = None) -> StepResult:
        return self._run(section, plan_only=False)

    def plan(self, section: str | None = None) -> StepResult:
        return self._run(section, plan_only=True)

    def destroy(self) -> StepResult:
        return destroy(self._context(plan_only=False))

    def application_keys(self) -> dict[str, str]:
        return application_keys(self._context(plan_only=True))
