"""The sandbox platform: the same steps as on OpenShift, against the local sandbox.

Cluster steps render and validate the very manifests the OpenShift path would apply and report them as
skipped ("sandbox: would apply …"); the custom policy goes into the tenant's policy registry through the Admin
API (the kit's `policy_registry` section does that: `policy_registry = "admin_api"`); SSO realms are read and
written through the sandbox SSO's Keycloak-shaped admin REST API. `maas_sandbox.control` is the only sandbox
module the helpers import.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Literal

import requests
from pydantic import SecretStr

from maas_helpers.config import Settings
from maas_helpers.errors import MaasError
from maas_helpers.platform.base import AdminCredentials
from maas_helpers.results import Change, StepResult


class SandboxPlatform:
    name = "sandbox"
    policy_registry: Literal["admin_api", "custom_policy_definition"] = "admin_api"
    provider_switches_api = True  # the sandbox's provider update takes `multiple_applications`
    sso_registration_allowed = True  # learners try the "Register" link on the sandbox

    def __init__(self, settings: Settings, *, start: bool = True) -> None:
        self.settings = settings
        self._start = start
        self._info: Any = None

    # --- the running sandbox ------------------------------------------------------------------------------
    @property
    def info(self) -> Any:
        """The running sandbox (started in `settings.state_dir` when none runs there)."""
        if self._info is None:
            from maas_sandbox import control

            current = control.running(self.settings.state_dir)
            if current is None:
                if not self._start:
                    raise MaasError(f"no sandbox runs from {self.settings.state_dir}; start it with 'maas sandbox up'")
                try:
                    current = control.up(self.settings.state_dir, tenant=self.settings.tenant)
                except (control.SandboxError, ValueError) as exc:
                    raise MaasError(f"sandbox: {exc}") from None
            self._info = current
        return self._info

    @property
    def models_url(self) -> str:
        return str(self.info.models_url)

    def _would_apply(self, title: str, objs: list[dict[str, Any]]) -> StepResult:
        result = StepResult(title)
        try:
            from maas_helpers import manifests
        except ImportError:  # the cluster half of the library is optional for the sandbox
            result.notes.append("sandbox: manifests renderer not available; nothing to show")
            return result
        for obj in objs:
            manifests.validate_manifest(obj)
            meta = obj.get("metadata", {})
            name = f"{meta.get('namespace') + '/' if meta.get('namespace') else ''}{meta.get('name')}"
            result.add(obj["kind"], name, Change.SKIPPED, f"sandbox: would apply {obj['apiVersion']}")
        result.notes.append("sandbox: the manifests were rendered and validated, not applied (no cluster)")
        return result

    def _manifests(self, *kinds: str) -> list[dict[str, Any]]:
        try:
            from maas_helpers import manifests
        except ImportError:
            return []
        return [o for o in manifests.threescale_manifests(self.settings) if o["kind"] in kinds]

    # --- Platform steps -------------------------------------------------------------------------------------
    def ensure_namespace(self) -> StepResult:
        return self._would_apply(f"Namespace {self.settings.namespace}", self._manifests("Namespace"))

    def ensure_operator(self) -> StepResult:
        return self._would_apply("3scale operator", self._manifests("OperatorGroup", "Subscription"))

    def ensure_policy_secret(self) -> StepResult:
        return self._would_apply("llm-metrics policy Secret", self._manifests("Secret"))

    def _database_manifests(self) -> list[dict[str, Any]]:
        """The databases OpenShift would get (``databases: deploy``), without their credentials Secrets: those
        hold passwords generated on the cluster only."""
        if self.settings.databases != "deploy":
            return []
        from maas_helpers import manifests

        ns = self.settings.namespace
        return [o for db in manifests.THREESCALE_DATABASES
                for o in (manifests.database_pvc(ns, db), manifests.database_service(ns, db),
                          manifests.database_deployment(ns, db))]

    def ensure_apimanager(self) -> StepResult:
        result = self._would_apply("APIManager", self._database_manifests() + self._manifests("APIManager"))
        info = self.info
        result.add("sandbox", str(info.state_dir), Change.WAITED, f"admin {info.admin_url}", info.admin_url)
        return result

    def wait_for_apimanager(self, timeout: float = 1800) -> StepResult:
        info = self.info
        result = StepResult("3scale ready")
        result.add("sandbox", "admin API", Change.WAITED, info.admin_url, info.admin_url)
        result.add("sandbox", "developer portal", Change.WAITED, info.portal_url, info.portal_url)
        return result

    def operator_status(self) -> dict[str, Any]:
        """The sandbox runs 3scale's parts itself: there is no operator or CSV (same keys as on OpenShift)."""
        return {"subscription": None, "channel": None, "installed_csv": None,
                "phase": "sandbox: no operator, 3scale's parts run in the sandbox", "reason": "",
                "policy_secret": False, "ready": True}

    def apimanager_status(self) -> dict[str, Any]:
        """The sandbox has no APIManager: "available" means its admin API answers; its one "deployment" is
        the sandbox itself (same shape as the OpenShift platform's answer, for notebook 2's check)."""
        info = self.info
        try:
            up = requests.get(f"{info.admin_url}/admin/api/provider.json", timeout=10,
                              params={"access_token": info.admin_token}).ok
        except requests.RequestException:
            up = False
        summary = "the sandbox admin API answers" if up else "the sandbox admin API does not answer: 'maas sandbox up'"
        return {"available": up, "conditions": [] if up else [summary], "ready": ["sandbox"] if up else [],
                "not_ready": [] if up else ["sandbox"], "summary": summary}

    def ensure_custom_policy_definition(self) -> StepResult:
        """Render the CustomPolicyDefinition (skipped): without an operator nothing registers it, so the kit's
        `policy_registry` section puts the policy into the tenant's registry through the Admin API."""
        result = self._would_apply("llm-metrics custom policy", self._manifests("CustomPolicyDefinition"))
        result.notes.append("sandbox: the policy registry entry comes from the kit's policy_registry section "
                            "(kit.apply('policy_registry'))")
        return result

    def running_credentials(self) -> AdminCredentials | None:
        """The credentials of a sandbox already running from the state dir, or None (never starts one)."""
        from maas_sandbox import control

        if self._info is None and control.running(self.settings.state_dir) is None:
            return None
        return self.admin_credentials()

    def admin_credentials(self) -> AdminCredentials:
        info = self.info
        return AdminCredentials(
            admin_url=info.admin_url,
            admin_token=SecretStr(info.admin_token),
            master_url=info.master_url,
            master_token=SecretStr(info.master_token),
            portal_url=info.portal_url,
            verify_tls=True,  # loopback HTTP
        )

    def sso_realm_url(self, realm_name: str) -> str:
        return f"{self.info.sso_url}/realms/{realm_name}"

    def _sso(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One call to the sandbox SSO's admin REST API (master token as the bearer, as admin-cli's would be)."""
        info = self.info
        try:
            return requests.request(method, f"{info.sso_url}/admin/realms{path}", timeout=10,
                                    headers={"Authorization": f"Bearer {info.master_token}"}, **kwargs)
        except requests.RequestException as exc:
            why = type(exc).__name__
            raise MaasError(f"SSO: cannot reach the sandbox SSO at {info.sso_url} ({why})") from None

    def _sso_ok(self, resp: requests.Response, what: str) -> requests.Response:
        if not resp.ok:
            detail = resp.text[:200].replace(self.info.master_token, "****")
            raise MaasError(f"SSO realm {what}: the sandbox SSO refused it ({resp.status_code} {detail})")
        return resp

    def sso_realm(self, realm_name: str, users: Collection[str] = ()) -> dict[str, Any] | None:
        """The realm as the sandbox SSO holds it, read the way Keycloak serves it: the top-level representation
        (GET /admin/realms/{realm}, no clients or users: RealmAdminResource.getRealm), its clients with their
        secrets (GET …/clients, ClientsResource), and the named users without credentials (GET
        …/users?username=…&exact=true, UsersResource). None when the realm does not exist."""
        resp = self._sso("GET", f"/{realm_name}")
        if resp.status_code == 404:
            return None
        realm = dict(self._sso_ok(resp, realm_name).json())
        realm["clients"] = self._sso_ok(self._sso("GET", f"/{realm_name}/clients"), realm_name).json()
        found = []
        for username in users:
            resp = self._sso("GET", f"/{realm_name}/users", params={"username": username, "exact": "true"})
            found += self._sso_ok(resp, realm_name).json()
        realm["users"] = found
        return realm

    def ensure_sso(self, realm: dict, *, write_realm: bool = True) -> StepResult:
        """The SSO manifests a cluster would get (rendered, skipped) and, when `write_realm`, the realm
        imported (POST /admin/realms) or, when it exists, replaced (PUT /admin/realms/{realm}: the sandbox's
        PUT also takes the clients and users, like an import would)."""
        name = str(realm.get("realm"))
        result = StepResult(f"SSO realm {name}")
        for obj in self._sso_manifests(realm):
            result.add(obj["kind"], obj["metadata"]["name"], Change.SKIPPED, "sandbox: would apply")
        if not write_realm:
            return result
        if self._sso("GET", f"/{name}").status_code == 200:
            self._sso_ok(self._sso("PUT", f"/{name}", json=realm), name)
        else:
            self._sso_ok(self._sso("POST", "", json=realm), name)
        return result

    def _sso_manifests(self, realm: dict) -> list[dict[str, Any]]:
        try:
            from maas_helpers import manifests
        except ImportError:
            return []
        objs = manifests.sso_manifests(self.settings, None)
        for obj in objs:
            manifests.validate_manifest(obj)
        return objs

    def step_timeout(self, seconds: float | None) -> AbstractContextManager[None]:
        return nullcontext()  # nothing on the sandbox platform waits

    def plan_destroy(self) -> StepResult:
        result = StepResult("Platform")
        result.notes.append("sandbox: no cluster objects; 'maas sandbox reset' wipes all sandbox state")
        return result

    def destroy(self) -> StepResult:
        result = StepResult("Platform")
        result.notes.append("sandbox: nothing to remove on the platform; 'maas sandbox reset' wipes all sandbox state")
        return result
