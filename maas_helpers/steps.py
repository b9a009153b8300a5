"""The notebook API: one object per tutorial step, each with the same verbs.

    kit.backends.plan()      # what would change (nothing written) → StepResult
    kit.backends.apply()     # make it so → StepResult (renders as a table of what changed)
    kit.backends.list()      # what exists in 3scale now → DataFrame (the notebook's "what exists" table)
    kit.products.links()     # where to see it in the admin portal

A reconcile step owns one or more sections of `Reconciler` (`kit.plan(section)` / `kit.apply(section)`, still
there for the CLI and the tests) and runs them in the reconciler's order; its result is one table. Platform
steps (`kit.operator`, `kit.apimanager`) wrap the platform's `ensure_*` methods: on a cluster they apply and
wait, on the sandbox they report the manifests they would apply as skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from maas_helpers import journey, links, listings, teardown, usage
from maas_helpers.reconcile import SECTIONS
from maas_helpers.results import StepResult

if TYPE_CHECKING:
    from maas_helpers.kit import Kit
    from maas_helpers.platform.base import AdminCredentials

OPERATOR_KINDS = ("Namespace", "OperatorGroup", "Subscription", "Secret")


def merged(title: str, results: list[StepResult]) -> StepResult:
    """One table for a step: every section's actions in order; notes keep the section they came from."""
    out = StepResult(title)
    for result in results:
        out.actions.extend(result.actions)
        out.notes.extend(f"{result.title}: {note}" if len(results) > 1 else note for note in result.notes)
    return out


class Step:
    """A reconcile step: `plan()`, `apply()`, `list()` and (where there is something to see) `links()`."""

    def __init__(self, kit: Kit, title: str, sections: tuple[str, ...],
                 lister: Callable[[Kit], Any] | None = None) -> None:
        unknown = [s for s in sections if s not in SECTIONS]
        if unknown:  # a programming error, caught by the unit tests
            raise ValueError(f"unknown reconcile section(s) {unknown}")
        self.kit = kit
        self.title = title
        self.sections = sections
        self._lister = lister

    def plan(self) -> StepResult:
        title = f"plan {self.title}"  # one progress bar for the step in JupyterLab, not one per section
        return self.kit._with_progress(title, lambda: merged(title, [self.kit.plan(s) for s in self.sections]))

    def apply(self, prune: bool = False) -> StepResult:
        """`prune=True` confirms deleting a product no longer in the catalogue that holds applications the kit did
        not create (without it such a product is reported and kept)."""
        self.kit.prune = prune
        return self.kit._with_progress(
            self.title, lambda: merged(self.title, [self.kit.apply(s) for s in self.sections]))

    def list(self) -> Any:
        if self._lister is None:
            raise NotImplementedError(f"{self.title}: nothing to list")
        return self._lister(self.kit)

    def links(self) -> dict[str, str]:
        """Admin-portal page of each product and its gateway URLs (the Kit's links)."""
        return self.kit.links()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.title}: {', '.join(self.sections)}>"


class PlansStep(Step):
    def terms(self, limits: pd.DataFrame | None = None) -> pd.DataFrame:
        """One row per product and plan: limits as columns and the plan's prices (notebook 6's table)."""
        return listings.plan_terms(self.kit, self.list() if limits is None else limits)


class ProductsStep(Step):
    def links(self) -> links.AdminLinks:  # type: ignore[override]
        """Each product's pages in the admin portal (overview, metrics, rules, configuration, plans, traffic)."""
        return links.admin_links(self.kit)

    def sample_plans(self) -> list[dict[str, Any]] | None:
        """Application plans left on 3scale's sample product `api` (None: the tenant has no sample product)."""
        return listings.list_sample_plans(self.kit)


class TenantStep(Step):
    def credentials(self) -> AdminCredentials:
        """The tenant's admin URL and token (cluster: `system-seed`; sandbox: its credentials file), masked."""
        return self.kit.platform.admin_credentials()


class PortalStep(Step):
    def links(self) -> dict[str, str]:
        return {"developer portal": self.kit.credentials.portal_url or ""}

    def served(self) -> pd.DataFrame:
        """Whether the portal serves the kit's own home page and files (one row per check, `ours` True/False)."""
        return listings.list_portal_served(self.kit)


class SsoStep(Step):
    def apply(self, timeout: float = 900) -> StepResult:
        """``timeout`` bounds every cluster wait of the step (operator, database, Keycloak, realm import)."""
        with self.kit.platform.step_timeout(timeout):
            return super().apply()

    def realm_url(self) -> str:
        return self.kit.platform.sso_realm_url(self.kit.catalogue.sso.realm)

    def sign_in(self) -> links.SsoSignIn:
        """How a developer signs in: the demo user, where its password is, whether registration is open."""
        return links.sso_sign_in(self.kit)


class OperatorStep:
    """Notebook 1: the namespace, the 3scale operator (OperatorGroup + Subscription, then the CSV) and the
    llm-metrics policy Secret."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit

    def install(self, timeout: float = 900) -> StepResult:
        """``timeout`` bounds the whole step: every wait inside shares it."""
        p = self.kit.platform
        with p.step_timeout(timeout):
            return merged("3scale operator and policy Secret",
                          [p.ensure_namespace(), p.ensure_operator(), p.ensure_policy_secret()])

    def status(self) -> dict[str, Any]:
        """subscription, channel, installed_csv, phase, reason, policy_secret, ready (read from the cluster)."""
        return self.kit.platform.operator_status()

    def manifests(self) -> listings.ManifestView:
        """The objects `install` sends (on the sandbox: would send); Secret data shown as file sizes only."""
        return listings.show_manifests(self.kit, list(OPERATOR_KINDS))

    def __repr__(self) -> str:
        return "<OperatorStep: Namespace, OperatorGroup, Subscription, policy Secret>"


class ApiManagerStep:
    """Notebook 2: the databases (cluster), the APIManager and its wait, the CustomPolicyDefinition."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit

    def install(self, timeout: float = 1800) -> StepResult:
        """``timeout`` bounds the whole step (databases, APIManager, policy definition): one deadline."""
        p = self.kit.platform
        with p.step_timeout(timeout):
            return merged("APIManager", [p.ensure_apimanager(), p.wait_for_apimanager(timeout=timeout),
                                         p.ensure_custom_policy_definition()])

    def status(self) -> dict[str, Any]:
        """available, the False conditions, ready / not_ready deployments, and a one-line summary."""
        return self.kit.platform.apimanager_status()

    def __repr__(self) -> str:
        return "<ApiManagerStep: databases, APIManager, CustomPolicyDefinition>"


class JourneyStep:
    """Notebook 10: the developer's side. `start` signs a developer up (or finds the account) with keys."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit

    def start(self, username: str, plan: str = "standard") -> journey.Journey:
        return journey.Journey.start(self.kit, username, plan)

    def list(self) -> pd.DataFrame:
        """The developer accounts the kit signed up that exist now."""
        rows = teardown.developer_accounts(self.kit)
        return pd.DataFrame(rows, columns=["username", "account_id"])

    def __repr__(self) -> str:
        return "<JourneyStep: start(username)>"


class UsageStep:
    """Notebook 11: traffic from the Analytics API and the plans' prices."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit

    def summary(self, day: str | None = None) -> usage.UsageSummary:
        return usage.usage_summary(self.kit, day)

    def prices(self) -> pd.DataFrame:
        return usage.list_prices(self.kit)

    def cost(self, month: str | None = None) -> pd.DataFrame:
        """Usage × pricing per account, application, metric and day of `month` (YYYY-MM), as 3scale bills,
        for the catalogue's products (the products the usage tables show)."""
        from maas_helpers import billing
        from maas_helpers.listings import our_products

        services = {service["id"]: service for _product, service in our_products(self.kit)}
        return billing.cost_frame(self.kit.admin, month, services=services)

    def send_priced_traffic(self, tokens: int = 2000) -> pd.DataFrame:
        """Chat calls on a priced plan until `tokens` completion tokens are spent (bounded): a cost to read."""
        return usage.send_priced_traffic(self.kit, tokens)

    def cost_by_product(self, summary: pd.DataFrame) -> pd.DataFrame:
        """`billing.cost_summary` per product, one row for every catalogue product that exists."""
        from maas_helpers.listings import our_products

        return usage.cost_by_product(summary, [p.system_name for p, _s in our_products(self.kit)])

    def invoices(self, month: str | None = None) -> pd.DataFrame:
        """The invoices' line items of `month` from the Billing API."""
        from maas_helpers import billing

        return billing.invoices_frame(self.kit.admin, month)

    def __repr__(self) -> str:
        return ("<UsageStep: summary(), prices(), send_priced_traffic(tokens), cost(month), cost_by_product(summary), "
                "invoices(month)>")


class TeardownStep:
    """Notebook 99: `plan()` is destroy's own code with writes skipped plus the developer accounts the same
    lookup finds; `apply()` removes them."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit

    def plan(self) -> StepResult:
        return teardown.teardown_plan(self.kit)

    def left(self) -> list[str]:
        """What the kit still owns on the Admin API side, read fresh (empty: the teardown is complete)."""
        return teardown.verify_teardown(self.kit)

    def apply(self) -> StepResult:
        return teardown.teardown_apply(self.kit)

    def button(self) -> Any:
        """Two steps: the first click asks, the second deletes and re-checks (maas_helpers/teardown_widget.py)."""
        from maas_helpers import teardown_widget

        return teardown_widget.teardown_button(self.kit)

    @property
    def confirmed(self) -> bool:
        """The button above deleted (notebook 99's Verify then checks that nothing is left)."""
        from maas_helpers import teardown_widget

        return teardown_widget.confirmed(self.kit)

    def pending_note(self, left: StepResult) -> str:
        from maas_helpers import teardown_widget
        from maas_helpers.widgets import in_interactive_kernel

        return teardown_widget.pending_note(left, in_interactive_kernel())

    def __repr__(self) -> str:
        return "<TeardownStep: plan(), apply()>"


# name → the step object (the Kit's properties of the same name)
STEPS: dict[str, Callable[[Kit], Any]] = {
    "operator": OperatorStep,
    "apimanager": ApiManagerStep,
    "tenant": lambda kit: TenantStep(kit, "tenant", ("organisation", "policy_registry"),
                                     listings.get_provider_account),
    # the products step ends with `prune`: what the kit owns and the catalogue no longer names (a backend goes
    # only after the product that uses it; notebook 3 previews it with `kit.plan("prune")`)
    "backends": lambda kit: Step(kit, "backends", ("backends",), listings.list_backends),
    "products": lambda kit: ProductsStep(kit, "products", ("products", "metrics", "mapping_rules", "authentication",
                                                           "sample_data", "prune"), listings.list_mapping_rules),
    "policies": lambda kit: Step(kit, "policies and promotion", ("policies", "promote"),
                                 listings.list_proxy_versions),
    "plans": lambda kit: PlansStep(kit, "application plans", ("plans", "subscriptions_and_apps"),
                                   listings.list_plan_limits),
    "active_docs": lambda kit: Step(kit, "ActiveDocs", ("active_docs",), listings.list_active_docs),
    "portal": lambda kit: PortalStep(kit, "developer portal", ("portal",), listings.list_portal_served),
    "sso": lambda kit: SsoStep(kit, "SSO", ("sso",)),
    "journey": JourneyStep,
    "usage": UsageStep,
    "teardown": TeardownStep,
}


def make_step(kit: Kit, name: str) -> Any:
    return STEPS[name](kit)
