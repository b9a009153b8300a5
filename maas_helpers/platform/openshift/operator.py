"""Notebook 1's cluster steps: the namespace, an OLM operator (OperatorGroup + Subscription, wait for its CSV,
approve only the expected InstallPlan) and the llm-metrics policy Secret."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from maas_helpers import manifests as mf
from maas_helpers.errors import MaasError
from maas_helpers.platform.openshift import permissions
from maas_helpers.platform.openshift.permissions import OLM, Need
from maas_helpers.platform.openshift.plumbing import OG_API, SUB_API, ClusterBase
from maas_helpers.platform.openshift.waits import Deadline, image_pull_errors
from maas_helpers.results import Change, StepResult


class OperatorSteps(ClusterBase):
    def ensure_namespace(self) -> StepResult:
        return self.ensure_ns(self.ns, "Namespace", "operator")

    def ensure_operator(self, *, approve_install_plan: bool | None = None, timeout: float = 900) -> StepResult:
        """OperatorGroup (only this namespace) + Subscription; wait for the CSV to succeed."""
        sub = mf.subscription(self.ns, self.settings.operator_channel, self.install_plan_approval)
        with self.step_timeout(timeout):
            return self.ensure_olm_operator(self.ns, sub, "3scale operator", approve_install_plan, timeout, "operator")

    def ensure_olm_operator(
        self,
        ns: str,
        sub: dict[str, Any],
        title: str,
        approve: bool | None,
        timeout: float,
        notebook: str,
        expected_csv: Callable[[str], bool] | None = None,
        expected_text: str = "",
    ) -> StepResult:
        result = StepResult(f"{title} in {ns}")
        self._tls_notes(result)
        if approve is None:
            approve = sub["spec"]["installPlanApproval"] == "Manual"
        approving = [Need("patch", OLM, "installplans", ns)] if approve else []  # approving a Manual InstallPlan
        reads = [Need("list", OLM, "operatorgroups", ns), Need("get", OLM, "subscriptions", ns),
                 Need("get", OLM, "clusterserviceversions", ns), Need("get", OLM, "installplans", ns)]
        if permissions.missing(self.kube, reads):  # cannot even look: name everything the step may need
            worst = permissions.writes(OLM, "operatorgroups", ns) + permissions.writes(OLM, "subscriptions", ns)
            self.require(reads + worst + approving, f"installing the {title}", notebook)
        groups = self.kube.list(OG_API, "OperatorGroup", ns)
        ours = mf.operator_group(ns)
        mine = [og for og in groups if self.owned(og)]
        current_sub = self.kube.get(SUB_API, "Subscription", sub["metadata"]["name"], ns)
        sub_foreign = current_sub is not None and not self.owned(current_sub) and not self.adopted(sub)
        approve = approve and not sub_foreign  # never approve for a Subscription someone else runs
        needs: list[Need] = []
        if not sub_foreign:
            needs += permissions.writes(OLM, "subscriptions", ns, exists=current_sub is not None)
        if not groups:
            needs += permissions.writes(OLM, "operatorgroups", ns)
        elif mine:
            needs += permissions.writes(OLM, "operatorgroups", ns, exists=True)  # server-side apply re-applies it
        if approve:
            needs += approving
        self.require(needs, f"installing the {title}", notebook)
        if groups and not mine:
            # OLM refuses two OperatorGroups in one namespace: use the one that is there, as it is.
            og = groups[0]
            targets = (og.get("spec") or {}).get("targetNamespaces")
            self.left_alone(result, og)
            result.actions[-1].detail = f"exists, not managed by the kit: used as it is (targets {targets or 'all'})"
        else:
            self.apply(result, ours)
        self.apply(result, sub)
        deadline = self.deadline(timeout)
        self._wait_for_csv(result, ns, sub["metadata"]["name"], approve, deadline, expected_csv, expected_text)
        return result

    def _wait_for_csv(
        self,
        result: StepResult,
        ns: str,
        sub_name: str,
        approve: bool,
        deadline: Deadline,
        expected_csv: Callable[[str], bool] | None = None,
        expected_text: str = "",
    ) -> str:
        start = self.clock()
        stuck = "Subscription has no status yet (is the catalog source healthy?)"
        while True:
            sub = self.kube.get(SUB_API, "Subscription", sub_name, ns) or {}
            status = sub.get("status") or {}
            plan_name = (status.get("installPlanRef") or {}).get("name") or (status.get("installplan") or {}).get(
                "name"
            )
            if plan_name:
                stuck = self._check_install_plan(result, ns, plan_name, approve, expected_csv, expected_text) or stuck
            csv_name = status.get("installedCSV")
            if csv_name:
                csv = self.kube.get(SUB_API, "ClusterServiceVersion", csv_name, ns) or {}
                cstatus = csv.get("status") or {}
                phase = cstatus.get("phase")
                if phase == "Succeeded":
                    seconds = int(self.clock() - start)
                    result.add("ClusterServiceVersion", f"{ns}/{csv_name}", Change.WAITED, f"Succeeded ({seconds} s)")
                    return str(csv_name)
                if phase == "Failed":
                    raise MaasError(
                        f"ClusterServiceVersion {csv_name} in {ns} Failed: {cstatus.get('reason', '?')}: "
                        f"{cstatus.get('message', '')}; check the operator pod events, then re-run ensure_operator"
                    )
                stuck = f"CSV {csv_name} is in phase {phase or 'unknown'} ({cstatus.get('reason', '')})"
            else:
                failing = [
                    f"{c.get('type')}: {c.get('message', '')}"
                    for c in status.get("conditions") or []
                    if str(c.get("status")) == "True"
                    and c.get("type") in ("ResolutionFailed", "CatalogSourcesUnhealthy")
                ]
                if failing:
                    stuck = "; ".join(failing)
            if deadline.expired():
                pulls = image_pull_errors(self.kube, ns)
                raise MaasError(
                    f"Subscription {sub_name} in {ns} not installed after {deadline.describe()}: {stuck}"
                    + (f"; image pull errors: {pulls}" if pulls else "")
                )
            self.pause(deadline)

    def _check_install_plan(
        self,
        result: StepResult,
        ns: str,
        plan_name: str,
        approve: bool,
        expected_csv: Callable[[str], bool] | None = None,
        expected_text: str = "",
    ) -> str | None:
        plan = self.kube.get(SUB_API, "InstallPlan", plan_name, ns)
        if not plan:
            return None
        spec = plan.get("spec") or {}
        if spec.get("approval") == "Manual" and not spec.get("approved"):
            csvs = [str(c) for c in spec.get("clusterServiceVersionNames") or []]
            if approve and expected_csv is not None and not (csvs and all(expected_csv(c) for c in csvs)):
                # Approving installs everything the plan lists: only the CSV the kit expects, nothing else.
                raise MaasError(
                    f"InstallPlan {plan_name} in {ns} would install {', '.join(csvs) or 'nothing'}, not "
                    f"{expected_text}; the kit did not approve it — check the channel or approve it by hand"
                )
            if approve:
                self.kube.patch(SUB_API, "InstallPlan", plan_name, ns, {"spec": {"approved": True}})
                result.add("InstallPlan", f"{ns}/{plan_name}", Change.UPDATED, "approved")
                return f"InstallPlan {plan_name} approved, installing"
            return (
                f"InstallPlan {plan_name} is pending manual approval; approve it in the console "
                "(Operators → Installed Operators) or call ensure_operator(approve_install_plan=True)"
            )
        phase = (plan.get("status") or {}).get("phase")
        if phase == "Failed":
            conds = [c.get("message", "") for c in (plan.get("status") or {}).get("conditions") or []]
            raise MaasError(f"InstallPlan {plan_name} in {ns} Failed: {'; '.join(conds) or 'no message'}")
        return f"InstallPlan {plan_name} is {phase or 'being created'}"

    def operator_status(self) -> dict[str, Any]:
        """What notebook 1 verifies, read from the cluster: the Subscription's installed CSV and its phase (OLM's
        ClusterServiceVersion status), and whether the llm-metrics policy Secret is there. Reads only."""
        sub_name = mf.subscription(self.ns, self.settings.operator_channel)["metadata"]["name"]
        sub = self.kube.get(SUB_API, "Subscription", sub_name, self.ns) or {}
        status = sub.get("status") or {}
        csv_name = status.get("installedCSV")
        csv = (self.kube.get(SUB_API, "ClusterServiceVersion", csv_name, self.ns) or {}) if csv_name else {}
        cstatus = csv.get("status") or {}
        secret = mf.policy_secret(self.ns)["metadata"]["name"]
        return {
            "subscription": f"{self.ns}/{sub_name}" if sub else None,
            "channel": (sub.get("spec") or {}).get("channel"),
            "installed_csv": csv_name,
            "phase": cstatus.get("phase") or ("no CSV installed yet" if sub else "no Subscription"),
            "reason": cstatus.get("reason", ""),
            "policy_secret": self.kube.get("v1", "Secret", secret, self.ns) is not None,
            "ready": cstatus.get("phase") == "Succeeded",
        }

    # --- the llm-metrics policy Secret --------------------------------------------------------------------

    def ensure_policy_secret(self) -> StepResult:
        result = StepResult(f"llm-metrics policy Secret in {self.ns}")
        self._tls_notes(result)
        self.require(permissions.writes("", "secrets", self.ns), "the policy Secret", "operator")
        self.apply(result, mf.policy_secret(self.ns, self.policy_dir))
        return result
