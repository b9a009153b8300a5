"""The platform contract: one protocol, two implementations (`openshift`, `sandbox`).

Each `ensure_…` step converges one piece of infrastructure and returns a `StepResult`, so a notebook
shows the same table whichever target it runs against.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import SecretStr

from maas_helpers.results import StepResult


@dataclass(frozen=True)
class AdminCredentials:
    """Where the tenant Admin API (and the Master API, when known) answer, and with which tokens."""

    admin_url: str
    admin_token: SecretStr
    master_url: str | None
    master_token: SecretStr | None
    portal_url: str | None
    verify_tls: bool | str  # True/False or the path of a CA bundle

    def __repr__(self) -> str:  # SecretStr already masks; keep the repr short and explicit
        return (
            f"AdminCredentials(admin_url={self.admin_url!r}, admin_token='**********', "
            f"master_url={self.master_url!r}, portal_url={self.portal_url!r}, verify_tls={self.verify_tls!r})"
        )

    __str__ = __repr__


@runtime_checkable
class Platform(Protocol):
    """Reconcile never asks which platform it runs on (`name` is for people); it asks what the platform does."""

    name: str  # "openshift" | "sandbox"
    # Who fills the tenant's policy registry: the kit through the Admin API (`admin_api`, the sandbox) or the
    # 3scale operator from the CustomPolicyDefinition (`custom_policy_definition`, a cluster).
    policy_registry: Literal["admin_api", "custom_policy_definition"]
    # Whether the Master API provider update takes `multiple_applications` (a sandbox extension; porta has no
    # API for the Feature Visibility switch, so on a cluster it is a manual step).
    provider_switches_api: bool

    @property
    def sso_registration_allowed(self) -> bool: ...  # the realm's registrationAllowed ("Register" on the login page)

    def ensure_namespace(self) -> StepResult: ...

    def ensure_operator(self) -> StepResult: ...  # OperatorGroup + Subscription, wait CSV Succeeded

    def operator_status(self) -> dict[str, Any]: ...  # installed CSV, its phase, the policy Secret; reads only

    def ensure_policy_secret(self) -> StepResult: ...  # Secret from policies/llm-metrics/1.0.0, watched-by label

    def ensure_apimanager(self) -> StepResult: ...  # RWX precheck, APIManager with customPolicies

    def wait_for_apimanager(self, timeout: float = 1800) -> StepResult: ...

    def apimanager_status(self) -> dict: ...  # available, False conditions, ready / not_ready deployments

    def ensure_custom_policy_definition(self) -> StepResult: ...  # cluster: CPD CR; sandbox: registry API

    def admin_credentials(self) -> AdminCredentials: ...  # cluster: system-seed + routes; sandbox: running sandbox

    # The realm as the SSO holds it (None: none yet), with the named users (credentials only where readable).
    def sso_realm(self, realm_name: str, users: Collection[str] = ()) -> dict[str, Any] | None: ...

    # cluster: RHBK operator + Keycloak (+ the realm import when `write_realm`); sandbox: the realm through the
    # sandbox SSO's admin API when `write_realm`. Reconcile passes `write_realm=False` when `sso_realm` matches.
    def ensure_sso(self, realm: dict, *, write_realm: bool = True) -> StepResult: ...

    def sso_realm_url(self, realm_name: str) -> str: ...

    def destroy(self) -> StepResult: ...  # removes what ensure_* created (cluster objects / nothing)

    def plan_destroy(self) -> StepResult: ...  # destroy's own plan: what it would delete, and what it leaves alone

    # One deadline for a whole notebook step: every wait inside shares it (the sandbox waits for nothing).
    def step_timeout(self, seconds: float | None) -> AbstractContextManager[None]: ...
