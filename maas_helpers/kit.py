"""The notebook facade: load the saved settings, build the catalogue, talk to 3scale through one client.

    kit = Kit.load()                 # settings from maas-config.yaml (notebook 0 saves it)
    kit.backends.apply()             # one object per tutorial step, same verbs: plan() / apply() / list()
    kit.operator.install()           # platform steps: install(); kit.apimanager.status()
    kit.teardown.plan()              # what a teardown removes (destroy's own code, nothing written)
    kit.apply("backends")            # one reconcile section (the CLI and the tests); kit.plan() for all
    kit.links()                      # where to look in the admin and developer portals
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from maas_helpers.admin_client import AdminClient
from maas_helpers.catalogue import Catalogue, default_catalogue, load_catalogue
from maas_helpers.config import Settings, load_settings, make_settings, save_settings
from maas_helpers.errors import MaasError
from maas_helpers.platform import get_platform
from maas_helpers.platform.base import AdminCredentials, Platform
from maas_helpers.reconcile import SECTIONS, Reconciler
from maas_helpers.results import Action, StepResult

if TYPE_CHECKING:
    from maas_helpers.served_models import ModelsStep
    from maas_helpers.steps import (
        ApiManagerStep,
        JourneyStep,
        OperatorStep,
        PlansStep,
        PortalStep,
        ProductsStep,
        SsoStep,
        Step,
        TeardownStep,
        TenantStep,
        UsageStep,
    )


class Kit:
    def __init__(self, settings: Settings, catalogue: Catalogue | None = None,
                 platform: Platform | None = None) -> None:
        self.settings = settings
        self._catalogue = catalogue
        self._platform = platform

    @classmethod
    def load(cls, config_path: str | Path | None = None, catalogue_path: str | Path | None = None) -> Kit:
        """The kit for the saved settings; a one-line ConfigError when notebook 0 has not saved them."""
        settings = load_settings(config_path)
        catalogue = load_catalogue(catalogue_path) if catalogue_path else None
        return cls(settings, catalogue)

    @classmethod
    def configure(cls, **values: Any) -> Kit:
        """Validate new settings (one-line ConfigError on bad input); call `.save()` to keep them."""
        return cls(make_settings(**values))

    def save(self, config_path: str | Path | None = None) -> Path:
        return save_settings(self.settings, config_path)

    # --- parts ------------------------------------------------------------------------------------------
    @property
    def platform(self) -> Platform:
        if self._platform is None:
            self._platform = get_platform(self.settings)
        return self._platform

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            models = self.settings.resolved_models(self._sandbox_models_url())
            self._catalogue = default_catalogue(self.settings, models)
        return self._catalogue

    @catalogue.setter
    def catalogue(self, value: Catalogue) -> None:
        self._catalogue = value

    def _sandbox_models_url(self) -> str | None:
        if self.settings.target != "sandbox" or self.settings.models:
            return None
        if self.settings.admin_url and os.environ.get("MAAS_MODELS_URL"):  # `eval "$(maas sandbox env)"`
            return os.environ["MAAS_MODELS_URL"]
        return str(getattr(self.platform, "models_url", "")) or None

    @cached_property
    def credentials(self) -> AdminCredentials:
        """Admin URL/token: MAAS_ADMIN_URL/MAAS_ADMIN_TOKEN when set, else from the platform.

        With `eval "$(maas sandbox env)"` the environment names the sandbox that runs from the state dir: then the
        platform's full credentials (master token, portal URL) are used, and otherwise the exported
        MAAS_MASTER_URL/MAAS_MASTER_TOKEN/MAAS_PORTAL_URL complete the admin pair (dropping them broke notebooks
        2 and 8)."""
        s = self.settings
        if s.admin_url and s.admin_token:
            running = getattr(self.platform, "running_credentials", None)
            creds = running() if s.target == "sandbox" and running else None
            if creds is not None and creds.admin_url.rstrip("/") == s.admin_url.rstrip("/"):
                return creds
            master = os.environ.get("MAAS_MASTER_TOKEN")
            return AdminCredentials(admin_url=s.admin_url, admin_token=s.admin_token,
                                    master_url=os.environ.get("MAAS_MASTER_URL") or None,
                                    master_token=SecretStr(master) if master else None,
                                    portal_url=os.environ.get("MAAS_PORTAL_URL") or None, verify_tls=s.tls_verify)
        creds = self.platform.admin_credentials()
        if s.target == "openshift":  # the settings decide TLS on a cluster (CA bundle / explicit off)
            creds = AdminCredentials(creds.admin_url, creds.admin_token, creds.master_url, creds.master_token,
                                     creds.portal_url, s.tls_verify)
        return creds

    @cached_property
    def admin(self) -> AdminClient:
        return AdminClient.from_credentials(self.credentials)

    @property
    def reconciler(self) -> Reconciler:
        self.admin  # noqa: B018 - resolve credentials first: a bad URL/token fails before the catalogue is built
        return Reconciler(self.admin, self.catalogue, platform=self.platform, state_dir=Path(self.settings.state_dir),
                          concurrency=self.settings.concurrency, progress=self.progress, prune=self.prune)

    # --- the tutorial's steps, one object each (maas_helpers/steps.py; imported on first use: pandas) ------
    def _step(self, name: str) -> Any:
        from maas_helpers.steps import make_step

        return make_step(self, name)

    @property
    def operator(self) -> OperatorStep:  # notebook 1
        return self._step("operator")

    @property
    def apimanager(self) -> ApiManagerStep:  # notebook 2
        return self._step("apimanager")

    @property
    def tenant(self) -> TenantStep:  # notebook 2
        return self._step("tenant")

    @property
    def backends(self) -> Step:  # notebook 3
        return self._step("backends")

    @property
    def products(self) -> ProductsStep:  # notebook 4
        return self._step("products")

    @property
    def policies(self) -> Step:  # notebook 5
        return self._step("policies")

    @property
    def plans(self) -> PlansStep:  # notebook 6
        return self._step("plans")

    @property
    def active_docs(self) -> Step:  # notebook 7
        return self._step("active_docs")

    @property
    def portal(self) -> PortalStep:  # notebook 8
        return self._step("portal")

    @property
    def sso(self) -> SsoStep:  # notebook 9
        return self._step("sso")

    @property
    def journey(self) -> JourneyStep:  # notebook 10
        return self._step("journey")

    @property
    def usage(self) -> UsageStep:  # notebook 11
        return self._step("usage")

    @property
    def teardown(self) -> TeardownStep:  # notebook 99
        return self._step("teardown")

    @property
    def models(self) -> ModelsStep:  # notebooks 0 and 3: discovery and the lock
        from maas_helpers.served_models import ModelsStep

        return ModelsStep(self)

    def workshop(self, out_dir: str | Path | None = None) -> Any:  # notebook 12
        """A workshop room (maas_helpers.workshop.Workshop); its handout goes to `out_dir` (default build/workshop)."""
        from maas_helpers.workshop import DEFAULT_DIR, Workshop

        return Workshop(self, out_dir or DEFAULT_DIR)

    # --- reconcile sections -----------------------------------------------------------------------------
    sections = tuple(SECTIONS)

    progress: Callable[[Action], None] | None = None  # told about every recorded object (progress bars)
    # Confirmed pruning: a product the catalogue no longer names is deleted even when it holds applications the
    # kit did not create (`maas apply --prune`, `kit.products.apply(prune=True)`); without it they are kept
    prune: bool = False

    def apply(self, section: str | None = None, *, prune: bool | None = None) -> StepResult:
        if prune is not None:
            self.prune = prune
        return self._with_progress(section or "apply", lambda: self.reconciler.apply(section))

    def plan(self, section: str | None = None) -> StepResult:
        result = self._with_progress(f"plan {section or ''}".strip(), lambda: self.reconciler.plan(section))
        if section is None and any(m.source for m in self.settings.models):
            # a model chosen from discovery that went away: reported here, pruning is the ownership rule's
            try:
                result.notes += self.models.gone()
            except MaasError as exc:  # the 3scale plan stands; say what could not be compared
                result.notes.append(f"could not compare the models with what is served: {exc}")
        return result

    def destroy(self) -> StepResult:
        result = self._with_progress("destroy", lambda: self.reconciler.destroy())
        if self.settings.target == "openshift":
            result.extend(self.models.remove_lockdown())
        return result.extend(self.platform.destroy())

    def _with_progress(self, step: str, run: Callable[[], StepResult]) -> StepResult:
        """In JupyterLab (and no other listener set) a progress bar advances per object; headless: nothing."""
        if self.progress is not None:
            return run()
        from maas_helpers.widgets import object_progress

        bar = object_progress(step)
        if bar is None:
            return run()
        self.progress = bar
        try:
            result = run()
        except Exception:
            bar.done(failed=True)
            raise
        finally:
            self.progress = None
        bar.done(summary=result.summary())
        return result

    def application_keys(self) -> dict[str, str]:
        """user_key of the admin-created application per product (for verification cells)."""
        return self.reconciler.application_keys()

    def links(self) -> dict[str, str]:
        """Where to see things: admin portal pages, developer portal, and each product's endpoints."""
        creds = self.credentials
        out = {"admin portal": f"{creds.admin_url}/p/admin/dashboard"}
        if creds.portal_url:
            out["developer portal"] = creds.portal_url
        services = {s["system_name"]: s for s in self.admin.threescale.services.list()}
        for product in self.catalogue.products:
            service = services.get(product.system_name)
            if service is None:
                continue
            out[f"{product.system_name} (admin)"] = f"{creds.admin_url}/apiconfig/services/{service['id']}"
            proxy = service.proxy.fetch()
            if proxy.get("endpoint"):
                out[f"{product.system_name} (production)"] = proxy["endpoint"]
            if proxy.get("sandbox_endpoint"):
                out[f"{product.system_name} (staging)"] = proxy["sandbox_endpoint"]
        return out

    def __repr__(self) -> str:
        return f"Kit(target={self.settings.target!r}, tenant={self.settings.tenant!r})"
