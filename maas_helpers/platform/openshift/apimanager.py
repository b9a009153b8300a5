"""Notebook 2's cluster steps: storage check, databases, the APIManager and its wait, the CustomPolicyDefinition,
and the tenant's admin credentials (system-seed + routes)."""

from __future__ import annotations

import base64
from typing import Any

from pydantic import SecretStr

from maas_helpers import manifests as mf
from maas_helpers.errors import MaasError
from maas_helpers.platform.base import AdminCredentials
from maas_helpers.platform.openshift import permissions
from maas_helpers.platform.openshift.databases import DatabaseSteps, database_needs
from maas_helpers.platform.openshift.waits import (
    Deadline,
    cond,
    describe_pending_claims,
    false_conditions,
    is_true,
    pending_claims,
    pod_problems,
    rolled_out,
)
from maas_helpers.results import Change, StepResult

AM_API = "apps.3scale.net/v1alpha1"
RWX_PROVISIONER_HINTS = ("cephfs", "nfs", "efs", "azurefile", "filestore", "gluster", "manila")
SETTLE_POLLS = 3  # polls an unchanged APIManager must stay Available after a change that rolled nothing
NO_OPERATOR = "no status at all: the 3scale operator is not running (check notebook 1: kit.operator.status())"


class ApiManagerSteps(DatabaseSteps):
    def check_rwx_storage(self, result: StepResult) -> None:
        """The configured StorageClass must exist; 3scale system file storage needs ReadWriteMany."""
        wanted = self.settings.storage_class
        review = self.kube.self_subject_access_review("list", "storage.k8s.io", "storageclasses", None)
        if not review.allowed:
            result.notes.append(
                f"cannot list StorageClasses to check {wanted}; make sure it exists and supports ReadWriteMany"
            )
            return
        classes = {sc["metadata"]["name"]: sc for sc in self.kube.list("storage.k8s.io/v1", "StorageClass")}
        if wanted not in classes:
            have = ", ".join(sorted(classes)) or "none"
            raise MaasError(
                f"StorageClass {wanted} not found (cluster has: {have}); 3scale system storage needs ReadWriteMany "
                "(RWX) — install OpenShift Data Foundation (CephFS class ocs-storagecluster-cephfs) or set "
                "storage_class to an RWX class"
            )
        provisioner = str(classes[wanted].get("provisioner", ""))
        result.add("StorageClass", wanted, Change.UNCHANGED, f"exists ({provisioner})")
        if not any(hint in provisioner.lower() for hint in RWX_PROVISIONER_HINTS):
            result.notes.append(
                f"StorageClass {wanted} ({provisioner}) may not support ReadWriteMany; 3scale system storage "
                "needs RWX (e.g. ODF CephFS) or its PVC stays Pending"
            )

    def _owned_deployments(self) -> list[dict[str, Any]]:
        return [
            d for d in self.kube.list("apps/v1", "Deployment", self.ns)
            if any(o.get("kind") == "APIManager" for o in (d.get("metadata") or {}).get("ownerReferences") or [])
        ]

    def ensure_apimanager(self, *, timeout: float = 600) -> StepResult:
        """Databases first (the operator's preflights read their Secrets), then the policy Secret, then the
        APIManager with the three externalComponents flags. ``timeout`` bounds the whole step (the database
        wait included) unless a notebook step's deadline already does."""
        s = self.settings
        needs = permissions.writes("apps.3scale.net", "apimanagers", self.ns) + permissions.writes(
            "", "secrets", self.ns
        )
        if s.databases == "deploy":
            needs += database_needs(self.ns)
        self.require(needs, "the APIManager", "apimanager")
        with self.step_timeout(timeout):
            result = StepResult(f"APIManager in {self.ns}")
            self.check_rwx_storage(result)
            result.extend(self.ensure_databases(timeout=timeout))
            result.title = f"APIManager in {self.ns}"
            secret = mf.policy_secret(self.ns, self.policy_dir)
            if self.kube.get("v1", "Secret", secret["metadata"]["name"], self.ns) is None:
                self.apply(result, secret)  # the APIManager mounts it: it must exist first
            before = {
                d["metadata"]["name"]: int(d["metadata"].get("generation") or 0) for d in self._owned_deployments()
            }
            external = s.databases != "internal"
            self.apply(
                result,
                mf.apimanager(self.ns, s.cluster_domain, s.tenant, s.storage_class, external_databases=external),
            )
            if result.actions[-1].change in (Change.UPDATED, Change.CREATED):
                self._apimanager_change = before
        return result

    def wait_for_apimanager(self, timeout: float = 1800) -> StepResult:
        """Wait for Available on a settled APIManager; stop at once when its preflights failed.

        The APIManager carries no observedGeneration, so after a change its Available may still be the old
        one: it counts only once an owned Deployment's generation moved and all are rolled out again (or,
        for a change that rolls nothing, after SETTLE_POLLS polls with everything rolled out)."""
        with self.step_timeout(timeout):
            return self._wait_for_apimanager(self.deadline(timeout))

    def _wait_for_apimanager(self, deadline: Deadline) -> StepResult:
        result = StepResult(f"APIManager {mf.APIMANAGER_NAME} ready")
        start = self.clock()
        settled = 0
        bar = self.progress(f"APIManager {mf.APIMANAGER_NAME}: deployments ready")
        try:
            while True:
                am = self.kube.get(AM_API, "APIManager", mf.APIMANAGER_NAME, self.ns)
                if am is None:
                    raise MaasError(f"APIManager {mf.APIMANAGER_NAME} not found in {self.ns}; run ensure_apimanager()")
                preflights = cond(am, "Preflights")
                message = str((preflights or {}).get("message") or "")
                if preflights and str(preflights.get("status")) == "False" and message.startswith("Preflights failed"):
                    # The operator retries in 10 minutes only; nothing changes until its input does.
                    raise MaasError(
                        f"APIManager {mf.APIMANAGER_NAME} in {self.ns}: {message}; fix the database Secrets "
                        "(ensure_databases) and re-run ensure_apimanager()"
                    )
                owned = self._owned_deployments()
                ready, waiting = self._deployment_state(am, owned)
                bar.update(len(ready), len(ready) + len(waiting), ", ".join(waiting[:3]))
                if is_true(am, "Available") and not waiting and self._change_settled(owned, settled):
                    self._apimanager_change = None
                    seconds = int(self.clock() - start)
                    result.add(
                        "APIManager",
                        f"{self.ns}/{mf.APIMANAGER_NAME}",
                        Change.WAITED,
                        f"Available, {len(ready)} deployments ready ({seconds} s)",
                    )
                    return result
                settled = settled + 1 if is_true(am, "Available") and not waiting else 0
                if deadline.expired():
                    raise MaasError(self._apimanager_stuck(am, waiting, deadline))
                self.pause(deadline)
        finally:
            bar.close()

    def _change_settled(self, owned: list[dict[str, Any]], settled_polls: int) -> bool:
        before = self._apimanager_change
        if before is None:
            return True
        now = {d["metadata"]["name"]: int(d["metadata"].get("generation") or 0) for d in owned}
        moved = any(now.get(name, 0) > gen for name, gen in before.items()) or set(now) - set(before)
        return bool(moved) or settled_polls >= SETTLE_POLLS

    def apimanager_status(self) -> dict[str, Any]:
        """What notebook 2 verifies: Available, the False conditions, each owned Deployment's readiness, and
        ``summary``: one line saying what is wrong (missing, no status, not Available) or that all is well."""
        am = self.kube.get(AM_API, "APIManager", mf.APIMANAGER_NAME, self.ns)
        owned = self._owned_deployments()
        ready, waiting = self._deployment_state(am or {}, owned)
        conditions = false_conditions(am)
        if am is None:
            summary = f"APIManager {mf.APIMANAGER_NAME} not found in {self.ns}: run notebook 2's install first"
        elif not (am.get("status") or {}):
            summary = f"APIManager {mf.APIMANAGER_NAME} in {self.ns} has {NO_OPERATOR}"
        elif is_true(am, "Available") and not waiting:
            summary = f"Available, {len(ready)} deployments ready"
        else:
            summary = "; ".join(
                [f"APIManager {mf.APIMANAGER_NAME} in {self.ns} not Available"] + conditions
                + ([f"not ready: {', '.join(waiting)}"] if waiting else [])
            )
        return {
            "available": is_true(am, "Available"),
            "conditions": conditions or ([] if is_true(am, "Available") else [summary]),
            "ready": ready,
            "not_ready": waiting,
            "summary": summary,
        }

    def _deployment_state(
        self, am: dict[str, Any], owned: list[dict[str, Any]] | None = None
    ) -> tuple[list[str], list[str]]:
        """(ready, not ready) deployment names: the owned Deployments (rolled out or not), else the status."""
        owned = self._owned_deployments() if owned is None else owned
        if owned:
            ready = sorted(d["metadata"]["name"] for d in owned if rolled_out(d))
            waiting = sorted(d["metadata"]["name"] for d in owned if not rolled_out(d))
            return ready, waiting
        deployments = (am.get("status") or {}).get("deployments") or {}
        ready = sorted(deployments.get("ready") or [])
        waiting = sorted((deployments.get("starting") or []) + (deployments.get("stopped") or []))
        return ready, waiting

    def _apimanager_stuck(self, am: dict[str, Any], waiting: list[str], deadline: Deadline) -> str:
        parts = [f"APIManager {mf.APIMANAGER_NAME} in {self.ns} not Available after {deadline.describe()}"]
        if not (am.get("status") or {}):
            parts.append(NO_OPERATOR)
        parts += false_conditions(am)
        if waiting:
            parts.append("not ready: " + ", ".join(waiting))
        claims = describe_pending_claims(pending_claims(self.kube, self.ns))
        if claims:
            parts.append(claims)
        problems = pod_problems(self.kube, self.ns)
        if problems:
            parts.append(problems)
        for c in (am.get("status") or {}).get("conditions") or []:
            if c.get("type") != "Available" and str(c.get("status")) == "True" and c.get("message"):
                parts.append(f"{c['type']}: {c['message']}")
        return "; ".join(parts)

    # --- the CustomPolicyDefinition -----------------------------------------------------------------------

    def ensure_custom_policy_definition(self, *, timeout: float = 120) -> StepResult:
        """Apply the CPD. ``Failed`` is expected while no tenant exists; once the APIManager is Available,
        wait for the CPD to be Ready (within the step's deadline) and fail with its message otherwise."""
        result = StepResult(f"CustomPolicyDefinition llm-metrics in {self.ns}")
        self._tls_notes(result)
        group = "capabilities.3scale.net"
        self.require(permissions.writes(group, "custompolicydefinitions", self.ns), "the CustomPolicyDefinition",
                     "apimanager")
        cpd = mf.custom_policy_definition(self.ns)
        self.apply(result, cpd)
        am = self.kube.get(AM_API, "APIManager", mf.APIMANAGER_NAME, self.ns)
        if not is_true(am, "Available"):
            result.notes.append(
                "the APIManager is not Available yet, so the definition may show Failed (no tenant to register "
                "into); re-run this step after wait_for_apimanager()"
            )
            return result
        deadline = self.deadline(timeout)
        name = cpd["metadata"]["name"]
        while True:
            current = self.kube.get(cpd["apiVersion"], "CustomPolicyDefinition", name, self.ns)
            if is_true(current, "Ready"):
                result.add("CustomPolicyDefinition", f"{self.ns}/{name}", Change.WAITED, "Ready")
                return result
            if deadline.expired():
                failed = cond(current, "Failed") or cond(current, "Invalid") or {}
                raise MaasError(
                    f"CustomPolicyDefinition {name} in {self.ns} not Ready after {deadline.describe()}"
                    f" ({failed.get('message') or 'no condition yet'}); check the 3scale operator log"
                )
            self.pause(deadline)

    # --- credentials and routes -------------------------------------------------------------------------

    def _route_hosts(self) -> list[str]:
        return [
            str((r.get("spec") or {}).get("host", ""))
            for r in self.kube.list("route.openshift.io/v1", "Route", self.ns)
        ]

    def admin_credentials(self) -> AdminCredentials:
        s = self.settings
        seed = self.kube.get("v1", "Secret", "system-seed", self.ns)
        if seed is None:
            raise MaasError(
                f"Secret system-seed not found in {self.ns}; the APIManager is not ready — run wait_for_apimanager()"
            )
        data = seed.get("data") or {}

        def secret(key: str) -> SecretStr | None:
            raw = data.get(key)
            return SecretStr(base64.b64decode(raw).decode()) if raw else None

        admin_token = s.admin_token or secret("ADMIN_ACCESS_TOKEN")
        if admin_token is None:
            raise MaasError(f"Secret system-seed in {self.ns} has no ADMIN_ACCESS_TOKEN; set MAAS_ADMIN_TOKEN instead")
        hosts = self._route_hosts()
        domain = s.cluster_domain

        def host(expected: str, prefix: str) -> str:
            if expected in hosts:
                return expected
            return next((h for h in hosts if h.startswith(prefix)), expected)  # else the operator's convention

        admin = host(f"{s.tenant}-admin.{domain}", f"{s.tenant}-admin.")
        master = host(f"master.{domain}", "master.")
        portal = host(f"{s.tenant}.{domain}", f"{s.tenant}.")
        return AdminCredentials(
            admin_url=s.admin_url or f"https://{admin}",
            admin_token=admin_token,
            master_url=f"https://{master}",
            master_token=secret("MASTER_ACCESS_TOKEN"),
            portal_url=f"https://{portal}",
            verify_tls=s.tls_verify,
        )
