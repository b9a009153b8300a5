"""The OpenShift platform: the guide's cluster steps as converging calls through `maas_helpers.kube.Kube`.

Every object comes from `maas_helpers.manifests` and is validated before it is sent. Waits poll with an
injectable clock and sleep (tests replay status sequences without waiting) and, on timeout, name what is
stuck: a pending InstallPlan, a failed CSV, image pull errors, unready deployments, pending volume claims.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr

from maas_helpers import manifests as mf
from maas_helpers.errors import MaasError
from maas_helpers.kube import Kube
from maas_helpers.platform.base import AdminCredentials
from maas_helpers.results import Change, StepResult

if TYPE_CHECKING:
    from maas_helpers.config import Settings

SUB_API = "operators.coreos.com/v1alpha1"
OG_API = "operators.coreos.com/v1"
RWX_PROVISIONER_HINTS = ("cephfs", "nfs", "efs", "azurefile", "filestore", "gluster", "manila")
IMAGE_PULL_REASONS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
CRASH_REASONS = {"CrashLoopBackOff", "CreateContainerConfigError", "RunContainerError"}
SETTLE_POLLS = 3  # polls an unchanged APIManager must stay Available after a change that rolled nothing

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class DeploymentProgress:
    """Ready / total deployments, drawn with ipywidgets in a Jupyter kernel and rich in a terminal."""

    def __init__(self, title: str) -> None:
        self.title = title
        self._widget: Any = None
        self._rich: Any = None
        self._task: Any = None
        if _in_kernel():
            import ipywidgets as w
            from IPython.display import display

            self._bar = w.IntProgress(value=0, min=0, max=1, description="ready")
            self._label = w.Label(title)
            self._widget = w.HBox([self._bar, self._label])
            display(self._widget)
        else:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._rich = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
            self._task = self._rich.add_task(title, total=None)
            self._rich.start()

    def update(self, ready: int, total: int, waiting: str = "") -> None:
        suffix = f" — waiting for {waiting}" if waiting else ""
        if self._widget is not None:
            self._bar.max = max(total, 1)
            self._bar.value = ready
            self._label.value = f"{self.title}: {ready}/{total}{suffix}"
        elif self._rich is not None:
            self._rich.update(self._task, completed=ready, total=total or None, description=self.title + suffix)

    def close(self) -> None:
        if self._rich is not None:
            self._rich.stop()


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def default_progress(title: str) -> DeploymentProgress:
    return DeploymentProgress(title)


def _cond(obj: dict[str, Any] | None, ctype: str) -> dict[str, Any] | None:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return dict(c)
    return None


def _is_true(obj: dict[str, Any] | None, ctype: str) -> bool:
    c = _cond(obj, ctype)
    return bool(c and str(c.get("status")) == "True")


def _rv(obj: dict[str, Any] | None) -> str | None:
    return ((obj or {}).get("metadata") or {}).get("resourceVersion")


def _false_conditions(obj: dict[str, Any] | None, types: tuple[str, ...] | None = None) -> list[str]:
    """``Type=False (Reason): message`` for every False condition (HasErrors: when True)."""
    out = []
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        ctype, status = c.get("type"), str(c.get("status"))
        if types is not None and ctype not in types:
            continue
        if (status == "False" and ctype != "HasErrors") or (ctype == "HasErrors" and status == "True"):
            reason = f" ({c['reason']})" if c.get("reason") else ""
            out.append(f"{ctype}={status}{reason}: {c.get('message') or 'no message'}")
    return out


def _rolled_out(d: dict[str, Any]) -> bool:
    """A Deployment whose controller saw its latest spec and has every replica updated and ready."""
    meta, spec, status = d.get("metadata") or {}, d.get("spec") or {}, d.get("status") or {}
    want = spec.get("replicas", 1)
    return (
        (status.get("observedGeneration") or 0) >= (meta.get("generation") or 0)
        and (status.get("updatedReplicas") or 0) >= want
        and (status.get("readyReplicas") or 0) >= want
    )


def _decode(secret: dict[str, Any] | None) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in ((secret or {}).get("data") or {}).items()}


class OpenShiftPlatform:
    """`Platform` for a real cluster. Pass ``kube`` to reuse a connection (tests pass a recording fake)."""

    name = "openshift"
    policy_registry: Literal["admin_api", "custom_policy_definition"] = "custom_policy_definition"  # the operator
    provider_switches_api = False  # porta has no API for the Feature Visibility switch: a manual step

    def __init__(
        self,
        settings: Settings,
        kube: Kube | None = None,
        *,
        install_plan_approval: mf.Approval = "Automatic",
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        poll_interval: float = 5.0,
        progress: Callable[[str], DeploymentProgress] | None = None,
        policy_dir: Path = mf.POLICY_DIR,
    ) -> None:
        import time

        self.settings = settings
        self._kube = kube
        self.install_plan_approval = install_plan_approval
        self.clock: Clock = clock or time.monotonic
        self.sleep: Sleep = sleep or time.sleep
        self.poll_interval = poll_interval
        self.progress = progress or default_progress
        self.policy_dir = policy_dir
        # Owned Deployment generations when the APIManager was last changed: its stale Available must not
        # count until they move (or stay put for SETTLE_POLLS polls). None = no change pending.
        self._apimanager_change: dict[str, int] | None = None

    # --- plumbing -------------------------------------------------------------------------------------

    @property
    def kube(self) -> Kube:
        if self._kube is None:
            s = self.settings
            self._kube = Kube.connect(s.kubeconfig, verify_tls=s.verify_tls, ca_bundle=s.ca_bundle)
        return self._kube

    @property
    def ns(self) -> str:
        return self.settings.namespace

    def _tls_notes(self, result: StepResult) -> None:
        if not self.settings.verify_tls:
            result.notes.append("TLS verification is OFF (verify_tls: false) — only for throwaway clusters")

    def _console(self, obj: dict[str, Any]) -> str:
        base = f"https://console-openshift-console.{self.settings.cluster_domain}"
        meta = obj["metadata"]
        if obj["kind"] == "Namespace":
            return f"{base}/k8s/cluster/projects/{meta['name']}"
        if obj["apiVersion"] == "v1":
            return f"{base}/k8s/ns/{meta['namespace']}/{obj['kind'].lower()}s/{meta['name']}"
        group, version = obj["apiVersion"].split("/")
        return f"{base}/k8s/ns/{meta['namespace']}/{group}~{version}~{obj['kind']}/{meta['name']}"

    def _apply(self, result: StepResult, obj: dict[str, Any]) -> dict[str, Any]:
        """Validate, server-side apply, and record created / updated / unchanged (by resourceVersion)."""
        mf.validate_manifest(obj)
        meta = obj["metadata"]
        before = self.kube.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        after = self.kube.apply(obj)
        if before is None:
            change = Change.CREATED
        elif _rv(before) is not None and _rv(before) == _rv(after):
            change = Change.UNCHANGED
        else:
            change = Change.UPDATED
        where = f"{meta['namespace']}/" if meta.get("namespace") else ""
        result.add(obj["kind"], where + meta["name"], change, link=self._console(obj))
        return after

    def _who(self) -> str:
        return self.kube.whoami()

    def require(self, checks: list[tuple[str, str, str, str | None]], step: str) -> None:
        """SelfSubjectAccessReview precheck: raise naming the first missing permission and who can fix it."""
        for verb, group, resource, namespace in checks:
            review = self.kube.self_subject_access_review(verb, group, resource, namespace)
            if review.allowed:
                continue
            qualified = f"{resource}.{group}" if group else resource
            where = f" in namespace {namespace}" if namespace else " (cluster-wide)"
            who = self._who()
            if namespace:
                grant = f"oc adm policy add-role-to-user admin {who} -n {namespace}"
            else:
                grant = f"a ClusterRole allowing {verb} on {qualified}"
            raise MaasError(
                f"{who} cannot {verb} {qualified}{where}, needed by {step}; ask a cluster admin to run notebook 1 "
                f"(the platform steps) with their own login, or grant it ({grant})",
                status=403,
            )

    # --- namespace --------------------------------------------------------------------------------------

    def ensure_namespace(self) -> StepResult:
        return self._ensure_namespace(self.ns, "Namespace")

    def _ensure_namespace(self, name: str, title: str) -> StepResult:
        result = StepResult(f"{title} {name}")
        self._tls_notes(result)
        if self.kube.get("v1", "Namespace", name) is not None:
            # Existing namespaces are left as they are (and never deleted by destroy()).
            result.add("Namespace", name, Change.UNCHANGED, "exists", link=self._console(mf.namespace(name)))
            return result
        self.require([("create", "", "namespaces", None)], f"creating namespace {name}")
        self._apply(result, mf.namespace(name))
        return result

    # --- operators --------------------------------------------------------------------------------------

    def ensure_operator(self, *, approve_install_plan: bool | None = None, timeout: float = 900) -> StepResult:
        """OperatorGroup (only this namespace) + Subscription; wait for the CSV to succeed."""
        sub = mf.subscription(self.ns, self.settings.operator_channel, self.install_plan_approval)
        return self._ensure_olm_operator(self.ns, sub, "3scale operator", approve_install_plan, timeout)

    def _ensure_olm_operator(
        self,
        ns: str,
        sub: dict[str, Any],
        title: str,
        approve: bool | None,
        timeout: float,
        expected_csv: Callable[[str], bool] | None = None,
        expected_text: str = "",
    ) -> StepResult:
        result = StepResult(f"{title} in {ns}")
        self._tls_notes(result)
        group = "operators.coreos.com"
        self.require(
            [
                ("create", group, "operatorgroups", ns),
                ("create", group, "subscriptions", ns),
                ("patch", group, "subscriptions", ns),
                ("get", group, "clusterserviceversions", ns),
            ],
            f"installing the {title}",
        )
        existing = [og for og in self.kube.list(OG_API, "OperatorGroup", ns)]
        ours = mf.operator_group(ns)
        foreign = [og for og in existing if og["metadata"]["name"] != ours["metadata"]["name"]]
        if foreign:
            # OLM refuses two OperatorGroups in one namespace; reuse the one that is there.
            name = foreign[0]["metadata"]["name"]
            targets = (foreign[0].get("spec") or {}).get("targetNamespaces")
            result.add("OperatorGroup", f"{ns}/{name}", Change.UNCHANGED, f"existing, targets {targets or 'all'}")
        else:
            self._apply(result, ours)
        self._apply(result, sub)
        if approve is None:
            approve = sub["spec"]["installPlanApproval"] == "Manual"
        self._wait_for_csv(result, ns, sub["metadata"]["name"], approve, timeout, expected_csv, expected_text)
        return result

    def _wait_for_csv(
        self,
        result: StepResult,
        ns: str,
        sub_name: str,
        approve: bool,
        timeout: float,
        expected_csv: Callable[[str], bool] | None = None,
        expected_text: str = "",
    ) -> str:
        start = self.clock()
        deadline = start + timeout
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
            if self.clock() >= deadline:
                pulls = self._image_pull_errors(ns)
                raise MaasError(
                    f"Subscription {sub_name} in {ns} not installed after {int(timeout)} s: {stuck}"
                    + (f"; image pull errors: {pulls}" if pulls else "")
                )
            self.sleep(self.poll_interval)

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

    def _image_pull_errors(self, ns: str) -> str:
        found = []
        for pod in self.kube.list("v1", "Pod", ns):
            statuses = (pod.get("status") or {}).get("containerStatuses") or []
            statuses += (pod.get("status") or {}).get("initContainerStatuses") or []
            for cs in statuses:
                waiting = (cs.get("state") or {}).get("waiting") or {}
                if waiting.get("reason") in IMAGE_PULL_REASONS:
                    found.append(f"{pod['metadata']['name']} {waiting['reason']} {cs.get('image', '')}".strip())
        return ", ".join(found)

    # --- policy -----------------------------------------------------------------------------------------

    def ensure_policy_secret(self) -> StepResult:
        result = StepResult(f"llm-metrics policy Secret in {self.ns}")
        self._tls_notes(result)
        self.require([("create", "", "secrets", self.ns), ("patch", "", "secrets", self.ns)], "the policy Secret")
        self._apply(result, mf.policy_secret(self.ns, self.policy_dir))
        return result

    def ensure_custom_policy_definition(self, *, timeout: float = 120) -> StepResult:
        """Apply the CPD. ``Failed`` is expected while no tenant exists; once the APIManager is Available,
        wait for the CPD to be Ready and fail with its message otherwise."""
        result = StepResult(f"CustomPolicyDefinition llm-metrics in {self.ns}")
        self._tls_notes(result)
        group = "capabilities.3scale.net"
        self.require([("create", group, "custompolicydefinitions", self.ns)], "the CustomPolicyDefinition")
        cpd = mf.custom_policy_definition(self.ns)
        self._apply(result, cpd)
        am = self.kube.get("apps.3scale.net/v1alpha1", "APIManager", mf.APIMANAGER_NAME, self.ns)
        if not _is_true(am, "Available"):
            result.notes.append(
                "the APIManager is not Available yet, so the definition may show Failed (no tenant to register "
                "into); re-run this step after wait_for_apimanager()"
            )
            return result
        deadline = self.clock() + timeout
        name = cpd["metadata"]["name"]
        while True:
            current = self.kube.get(cpd["apiVersion"], "CustomPolicyDefinition", name, self.ns)
            if _is_true(current, "Ready"):
                result.add("CustomPolicyDefinition", f"{self.ns}/{name}", Change.WAITED, "Ready")
                return result
            if self.clock() >= deadline:
                failed = _cond(current, "Failed") or _cond(current, "Invalid") or {}
                raise MaasError(
                    f"CustomPolicyDefinition {name} in {self.ns} not Ready after {int(timeout)} s"
                    f" ({failed.get('message') or 'no condition yet'}); check the 3scale operator log"
                )
            self.sleep(self.poll_interval)

    # --- APIManager -------------------------------------------------------------------------------------

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

    # --- databases ----------------------------------------------------------------------------------

    def _credentials(self, ns: str, db: mf.Database) -> dict[str, str]:
        """The database's credentials: kept from its Secret when it exists, else generated (never shown)."""
        current = _decode(self.kube.get("v1", "Secret", db.secret, ns))
        out = {}
        for key in db.credential_keys():
            if current.get(key):
                out[key] = current[key]
            elif key == "password":
                out[key] = secrets.token_urlsafe(24)
            else:
                out[key] = db.database
        return out

    def _apply_secret(self, result: StepResult, obj: dict[str, Any]) -> None:
        """Apply a Secret and report it by name and keys; its values are never part of a result."""
        self._apply(result, obj)
        result.actions[-1].detail = "keys " + ", ".join(sorted(obj.get("data") or {})) + " (values masked)"

    def _deploy_database(self, result: StepResult, ns: str, db: mf.Database, storage: str | None) -> dict[str, str]:
        creds = self._credentials(ns, db)
        objs = mf.database_objects(ns, db, creds, storage)
        self._apply_secret(result, objs[0])
        for obj in objs[1:]:
            self._apply(result, obj)
        return creds

    def ensure_databases(self, *, timeout: float = 600) -> StepResult:
        """The three databases 3scale 2.16 requires, and the operator's Secrets pointing at them.

        ``databases: deploy`` runs them here (one replica each, RWO volume; a demo/workshop choice);
        ``external`` copies the URLs from the user's Secret ``database_secret``; ``internal`` (2.15 only)
        leaves them to the operator."""
        s = self.settings
        result = StepResult(f"3scale databases in {self.ns} ({s.databases})")
        self._tls_notes(result)
        if s.databases == "internal":
            result.notes.append(f"databases: internal — the operator runs them ({s.operator_channel} allows it)")
            return result
        self.require(
            [("create", "", "secrets", self.ns), ("patch", "", "secrets", self.ns), ("get", "", "secrets", self.ns)],
            "the database Secrets",
        )
        if s.databases == "deploy":
            self.require(
                [
                    ("create", "apps", "deployments", self.ns),
                    ("create", "", "services", self.ns),
                    ("create", "", "persistentvolumeclaims", self.ns),
                ],
                "the databases",
            )
            creds = {db.name: self._deploy_database(result, self.ns, db, s.database_storage_class)
                     for db in mf.THREESCALE_DATABASES}
            values = mf.kit_database_urls(self.ns, creds)
        else:
            source = str(s.database_secret)
            given = self.kube.get("v1", "Secret", source, self.ns)
            if given is None:
                raise MaasError(
                    f"Secret {source} not found in {self.ns}; create it with keys "
                    f"{', '.join(mf.EXTERNAL_KEYS)} (see docs/openshift.md) or set databases: deploy"
                )
            values = mf.external_database_urls(_decode(given), source)
        for secret in mf.operator_database_secrets(self.ns, values):
            self._apply_secret(result, secret)
        if s.databases == "deploy":
            self._wait_deployments(result, self.ns, [db.name for db in mf.THREESCALE_DATABASES], timeout)
        return result

    def _wait_deployments(self, result: StepResult, ns: str, names: list[str], timeout: float) -> None:
        """Wait until every named Deployment is rolled out (generation observed, replicas updated and ready)."""
        start = self.clock()
        while True:
            waiting = []
            for name in names:
                d = self.kube.get("apps/v1", "Deployment", name, ns)
                if d is None or not _rolled_out(d):
                    waiting.append(name)
            if not waiting:
                seconds = int(self.clock() - start)
                result.add("Deployment", f"{ns}/{', '.join(names)}", Change.WAITED, f"ready ({seconds} s)")
                return
            if self.clock() - start >= timeout:
                problems = self._pod_problems(ns, waiting)
                raise MaasError(
                    f"not ready after {int(timeout)} s in {ns}: {', '.join(waiting)}"
                    + (f"; {problems}" if problems else "; no pod problem reported (check the events)")
                )
            self.sleep(self.poll_interval)

    def _pod_problems(self, ns: str, deployments: list[str] | None = None) -> str:
        """Why pods are stuck: image pulls, crash loops (with the last log line), unschedulable or waiting
        for a volume claim. ``deployments`` limits it to pods whose name starts with one of them."""
        found = []
        pending_claims = {
            p["metadata"]["name"] for p in self.kube.list("v1", "PersistentVolumeClaim", ns)
            if (p.get("status") or {}).get("phase") == "Pending"
        }
        for pod in self.kube.list("v1", "Pod", ns):
            name = pod["metadata"]["name"]
            if deployments is not None and not any(name.startswith(f"{d}-") for d in deployments):
                continue
            status = pod.get("status") or {}
            for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
                waiting = (cs.get("state") or {}).get("waiting") or {}
                reason = waiting.get("reason")
                if reason in IMAGE_PULL_REASONS:
                    found.append(f"pod {name} {reason} {cs.get('image', '')}".strip())
                elif reason in CRASH_REASONS:
                    log = getattr(self.kube, "pod_log", lambda *a, **k: "")(name, ns, cs.get("name"))
                    found.append(f"pod {name} {reason}" + (f", last log line: {log.splitlines()[-1]}" if log else ""))
            if status.get("phase") == "Pending":
                claims = [
                    v["persistentVolumeClaim"]["claimName"]
                    for v in (pod.get("spec") or {}).get("volumes") or []
                    if v.get("persistentVolumeClaim")
                ]
                stuck = [c for c in claims if c in pending_claims]
                sched = next(
                    (c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"
                     and str(c.get("status")) == "False"), None
                )
                if stuck:
                    found.append(f"pod {name} Pending on PVC {', '.join(stuck)} (no StorageClass can bind it)")
                elif sched:
                    found.append(f"pod {name} Pending: {sched.get('message') or sched.get('reason', '')}")
        return "; ".join(found)

    # --- APIManager -------------------------------------------------------------------------------------

    def _owned_deployments(self) -> list[dict[str, Any]]:
        return [
            d for d in self.kube.list("apps/v1", "Deployment", self.ns)
            if any(o.get("kind") == "APIManager" for o in (d.get("metadata") or {}).get("ownerReferences") or [])
        ]

    def ensure_apimanager(self) -> StepResult:
        """Databases first (the operator's preflights read their Secrets), then the policy Secret, then the
        APIManager with the three externalComponents flags."""
        s = self.settings
        self.require(
            [
                ("create", "apps.3scale.net", "apimanagers", self.ns),
                ("patch", "apps.3scale.net", "apimanagers", self.ns),
            ],
            "the APIManager",
        )
        result = StepResult(f"APIManager in {self.ns}")
        self.check_rwx_storage(result)
        result.extend(self.ensure_databases())
        result.title = f"APIManager in {self.ns}"
        secret = mf.policy_secret(self.ns, self.policy_dir)
        if self.kube.get("v1", "Secret", secret["metadata"]["name"], self.ns) is None:
            self._apply(result, secret)  # the APIManager mounts it: it must exist first
        before = {d["metadata"]["name"]: int(d["metadata"].get("generation") or 0) for d in self._owned_deployments()}
        external = s.databases != "internal"
        self._apply(
            result, mf.apimanager(self.ns, s.cluster_domain, s.tenant, s.storage_class, external_databases=external)
        )
        if result.actions[-1].change in (Change.UPDATED, Change.CREATED):
            self._apimanager_change = before
        return result

    def wait_for_apimanager(self, timeout: float = 1800) -> StepResult:
        """Wait for Available on a settled APIManager; stop at once when its preflights failed.

        The APIManager carries no observedGeneration, so after a change its Available may still be the old
        one: it counts only once an owned Deployment's generation moved and all are rolled out again (or,
        for a change that rolls nothing, after SETTLE_POLLS polls with everything rolled out)."""
        result = StepResult(f"APIManager {mf.APIMANAGER_NAME} ready")
        start = self.clock()
        deadline = start + timeout
        settled = 0
        bar = self.progress(f"APIManager {mf.APIMANAGER_NAME}: deployments ready")
        try:
            while True:
                am = self.kube.get("apps.3scale.net/v1alpha1", "APIManager", mf.APIMANAGER_NAME, self.ns)
                if am is None:
                    raise MaasError(f"APIManager {mf.APIMANAGER_NAME} not found in {self.ns}; run ensure_apimanager()")
                preflights = _cond(am, "Preflights")
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
                if _is_true(am, "Available") and not waiting and self._change_settled(owned, settled):
                    self._apimanager_change = None
                    seconds = int(self.clock() - start)
                    result.add(
                        "APIManager",
                        f"{self.ns}/{mf.APIMANAGER_NAME}",
                        Change.WAITED,
                        f"Available, {len(ready)} deployments ready ({seconds} s)",
                    )
                    return result
                settled = settled + 1 if _is_true(am, "Available") and not waiting else 0
                if self.clock() >= deadline:
                    raise MaasError(self._apimanager_stuck(am, waiting, timeout))
                self.sleep(self.poll_interval)
        finally:
            bar.close()

    def _change_settled(self, owned: list[dict[str, Any]], settled_polls: int) -> bool:
        before = self._apimanager_change
        if before is None:
            return True
        now = {d["metadata"]["name"]: int(d["metadata"].get("generation") or 0) for d in owned}
        moved = any(now.get(name, 0) > gen for name, gen in before.items()) or set(now) - set(before)
        return bool(moved) or settled_polls >= SETTLE_POLLS

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

    def apimanager_status(self) -> dict[str, Any]:
        """What notebook 2 verifies: the Available condition and each owned Deployment's readiness."""
        am = self.kube.get("apps.3scale.net/v1alpha1", "APIManager", mf.APIMANAGER_NAME, self.ns)
        owned = self._owned_deployments()
        ready, waiting = self._deployment_state(am or {}, owned)
        return {
            "available": _is_true(am, "Available"),
            "conditions": _false_conditions(am),
            "ready": ready,
            "not_ready": waiting,
        }

    def _deployment_state(
        self, am: dict[str, Any], owned: list[dict[str, Any]] | None = None
    ) -> tuple[list[str], list[str]]:
        """(ready, not ready) deployment names: the owned Deployments (rolled out or not), else the status."""
        owned = self._owned_deployments() if owned is None else owned
        if owned:
            ready = sorted(d["metadata"]["name"] for d in owned if _rolled_out(d))
            waiting = sorted(d["metadata"]["name"] for d in owned if not _rolled_out(d))
            return ready, waiting
        deployments = (am.get("status") or {}).get("deployments") or {}
        ready = sorted(deployments.get("ready") or [])
        waiting = sorted((deployments.get("starting") or []) + (deployments.get("stopped") or []))
        return ready, waiting

    def _apimanager_stuck(self, am: dict[str, Any], waiting: list[str], timeout: float) -> str:
        parts = [f"APIManager {mf.APIMANAGER_NAME} in {self.ns} not Available after {int(timeout)} s"]
        parts += _false_conditions(am)
        if waiting:
            parts.append("not ready: " + ", ".join(waiting))
        pending = [
            f"{p['metadata']['name']} ({(p.get('spec') or {}).get('storageClassName', '?')})"
            for p in self.kube.list("v1", "PersistentVolumeClaim", self.ns)
            if (p.get("status") or {}).get("phase") == "Pending"
        ]
        if pending:
            parts.append("PVC Pending: " + ", ".join(pending) + " — needs an RWX StorageClass such as ODF CephFS")
        problems = self._pod_problems(self.ns)
        if problems:
            parts.append(problems)
        for c in (am.get("status") or {}).get("conditions") or []:
            if c.get("type") != "Available" and str(c.get("status")) == "True" and c.get("message"):
                parts.append(f"{c['type']}: {c['message']}")
        return "; ".join(parts)

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

    # --- SSO (Red Hat build of Keycloak) ----------------------------------------------------------------

    def _expected_rhbk_csv(self) -> tuple[Callable[[str], bool], str]:
        """Which CSV the kit approves: ``sso_csv`` exactly, else one of the pinned channel's minor."""
        s = self.settings
        if s.sso_csv:
            return (lambda name: name == s.sso_csv), s.sso_csv
        minor = s.sso_channel.removeprefix("stable-v")  # "26.0"
        prefix = f"{mf.RHBK_PACKAGE}.v{minor}."
        return (lambda name: name.startswith(prefix)), f"{prefix}* (channel {s.sso_channel})"

    def _keycloak_db(self, result: StepResult, ns: str, timeout: float) -> dict[str, Any]:
        """Keycloak's ``spec.db``: a PostgreSQL the kit deploys here, or the user's (``sso_database_secret``)."""
        s = self.settings
        if s.sso_database == "deploy":
            self.require(
                [("create", "apps", "deployments", ns), ("create", "", "persistentvolumeclaims", ns),
                 ("create", "", "secrets", ns)],
                "Keycloak's database",
            )
            db = mf.KEYCLOAK_DATABASE
            self._deploy_database(result, ns, db, s.database_storage_class)
            self._wait_deployments(result, ns, [db.name], timeout)
            return mf.keycloak_db(db)
        source = str(s.sso_database_secret)
        given = _decode(self.kube.get("v1", "Secret", source, ns))
        missing = [k for k in ("host", "database", "username", "password") if not given.get(k)]
        if missing:
            raise MaasError(
                f"Secret {source} in {ns} lacks {', '.join(missing)}; Keycloak's external database needs keys "
                "host, database, username, password (optional port)"
            )
        port = int(given.get("port") or 5432)
        return mf.keycloak_db(host=given["host"], database=given["database"], port=port, secret=source)

    @property
    def sso_registration_allowed(self) -> bool:
        return bool(self.settings.sso_registration)

    def sso_realm(self, realm_name: str, users: Collection[str] = ()) -> dict[str, Any] | None:
        """The realm as the cluster holds it: the KeycloakRealmImport's ``spec.realm`` with its ``${NAME}``
        placeholders filled from the Secret ``spec.placeholders`` names (None: no import yet)."""
        ns = self.settings.sso_namespace
        name = f"{mf.KEYCLOAK_NAME}-{realm_name}".lower()
        imp = self.kube.get("k8s.keycloak.org/v2alpha1", "KeycloakRealmImport", name, ns)
        if imp is None:
            return None
        spec = imp.get("spec") or {}
        values: dict[str, str] = {}
        for key, ref in (spec.get("placeholders") or {}).items():
            secret = ((ref or {}).get("secret") or {}).get("name")
            if secret:
                values[key] = _decode(self.kube.get("v1", "Secret", secret, ns)).get(key, "")
        text = json.dumps(spec.get("realm") or {})
        for key, value in values.items():
            text = text.replace("${" + key + "}", json.dumps(value)[1:-1])
        return dict(json.loads(text))

    def ensure_sso(self, realm: dict[str, Any], *, timeout: float = 900, write_realm: bool = True) -> StepResult:
        """RHBK operator (pinned channel, Manual approval of the expected CSV only), its PostgreSQL, Keycloak
        on it, and (when ``write_realm``) the realm import whose secrets come from a Secret through
        ``spec.placeholders``."""
        s = self.settings
        ns = s.sso_namespace
        result = self._ensure_namespace(ns, "SSO")
        sub = mf.subscription(ns, s.sso_channel, "Manual", package=mf.RHBK_PACKAGE)
        expected, text = self._expected_rhbk_csv()
        result.extend(
            self._ensure_olm_operator(ns, sub, "Red Hat build of Keycloak operator", True, timeout, expected, text)
        )
        result.title = f"Keycloak and realm {realm.get('realm')} in {ns}"
        group = "k8s.keycloak.org"
        self.require(
            [("create", group, "keycloaks", ns), ("create", group, "keycloakrealmimports", ns)], "the Keycloak server"
        )
        kc = mf.keycloak(ns, s.cluster_domain, db=self._keycloak_db(result, ns, timeout))
        applied = self._apply(result, kc)
        generation = int((applied.get("metadata") or {}).get("generation") or 0)
        self._wait_condition(
            result, kc["apiVersion"], "Keycloak", mf.KEYCLOAK_NAME, ns, "Ready", timeout, "HasErrors", generation
        )
        if not write_realm:  # reconcile read the realm back (sso_realm) and found it as wanted
            return result
        plain, values = mf.split_realm_secrets(realm)
        imp = mf.keycloak_realm_import(ns, plain, placeholders=values)
        if values:
            self._apply_secret(result, mf.realm_secret(ns, str(realm.get("realm")), values))
        self._apply(result, imp)
        self._wait_condition(
            result, imp["apiVersion"], "KeycloakRealmImport", imp["metadata"]["name"], ns, "Done", timeout, "HasErrors"
        )
        return result

    def _wait_condition(
        self,
        result: StepResult,
        api_version: str,
        kind: str,
        name: str,
        ns: str,
        ctype: str,
        timeout: float,
        error_type: str | None = None,
        generation: int = 0,
    ) -> None:
        """Wait for ``ctype`` True, observed at ``generation`` or later when the conditions report one
        (Keycloak's do), so a Ready left from before a change does not count."""
        start = self.clock()
        while True:
            obj = self.kube.get(api_version, kind, name, ns)
            cond = _cond(obj, ctype) or {}
            observed = cond.get("observedGeneration")
            current = observed is None or int(observed) >= generation
            if error_type and _is_true(obj, error_type) and kind == "KeycloakRealmImport":
                raise MaasError(f"{kind} {name} in {ns}: {(_cond(obj, error_type) or {}).get('message', error_type)}")
            if _is_true(obj, ctype) and current and not _is_true(obj, error_type or "-"):
                result.add(kind, f"{ns}/{name}", Change.WAITED, f"{ctype} ({int(self.clock() - start)} s)")
                return
            if self.clock() - start >= timeout:
                why = _false_conditions(obj) or [cond.get("message") or "no status"]
                if _is_true(obj, ctype) and not current:
                    why.insert(0, f"{ctype} is from generation {observed}, not {generation}")
                problems = self._pod_problems(ns)
                raise MaasError(
                    f"{kind} {name} in {ns} not {ctype} after {int(timeout)} s ({'; '.join(why)})"
                    + (f"; {problems}" if problems else "")
                )
            self.sleep(self.poll_interval)

    def sso_realm_url(self, realm_name: str) -> str:
        ns = self.settings.sso_namespace
        kc = self.kube.get("k8s.keycloak.org/v2alpha1", "Keycloak", mf.KEYCLOAK_NAME, ns)
        host = ((kc or {}).get("spec") or {}).get("hostname", {}).get("hostname")
        if not host:
            routes = self.kube.list("route.openshift.io/v1", "Route", ns)
            host = next((r["spec"]["host"] for r in routes if (r.get("spec") or {}).get("host")), None)
        host = host or mf.keycloak_host(ns, self.settings.cluster_domain)
        return f"https://{host}/realms/{realm_name}"

    # --- teardown -------------------------------------------------------------------------------------

    def plan_destroy(self) -> StepResult:
        """Placeholder until the cluster side of issue 23 (branch i25) previews its own deletions."""
        result = StepResult("remove the MaaS cluster objects")
        result.notes.append("openshift: the cluster objects are not previewed yet (issue 23, cluster side)")
        return result

    def destroy(self) -> StepResult:
        """Delete what the ensure_* steps created, newest first; namespaces only when the kit created them."""
        s = self.settings
        result = StepResult("remove the MaaS cluster objects")
        ns, sso = self.ns, s.sso_namespace
        targets: list[tuple[str, str, str, str | None]] = []
        for imp in self.kube.list("k8s.keycloak.org/v2alpha1", "KeycloakRealmImport", sso):
            if (imp["metadata"].get("labels") or {}).get("app.kubernetes.io/managed-by") == mf.FIELD_MANAGER:
                targets.append(("k8s.keycloak.org/v2alpha1", "KeycloakRealmImport", imp["metadata"]["name"], sso))
                secret = f"{imp['metadata']['name']}-{mf.REALM_SECRET_SUFFIX}"
                if self._managed("Secret", secret, sso):
                    targets.append(("v1", "Secret", secret, sso))
        targets.append(("k8s.keycloak.org/v2alpha1", "Keycloak", mf.KEYCLOAK_NAME, sso))
        targets += self._database_targets(sso, [mf.KEYCLOAK_DATABASE])
        targets += self._operator_targets(sso, mf.RHBK_PACKAGE)
        cpd = mf.custom_policy_definition(ns)
        targets.append((cpd["apiVersion"], cpd["kind"], cpd["metadata"]["name"], ns))
        targets.append(("apps.3scale.net/v1alpha1", "APIManager", mf.APIMANAGER_NAME, ns))
        targets.append(("v1", "Secret", mf.policy_secret(ns)["metadata"]["name"], ns))
        targets += [("v1", "Secret", name, ns) for name in mf.OPERATOR_SECRET_KEYS if self._managed("Secret", name, ns)]
        targets += self._database_targets(ns, list(mf.THREESCALE_DATABASES))
        targets += self._operator_targets(ns, mf.THREESCALE_PACKAGE)
        for name in (sso, ns):
            current = self.kube.get("v1", "Namespace", name)
            labels = ((current or {}).get("metadata") or {}).get("labels") or {}
            if labels.get("app.kubernetes.io/managed-by") == mf.FIELD_MANAGER:
                targets.append(("v1", "Namespace", name, None))
        for api_version, kind, name, namespace in targets:
            gone = self.kube.delete(api_version, kind, name, namespace)
            label = f"{namespace}/{name}" if namespace else name
            result.add(kind, label, Change.DELETED if gone else Change.UNCHANGED, "" if gone else "absent")
        return result

    def _managed(self, kind: str, name: str, ns: str) -> bool:
        obj = self.kube.get("apps/v1" if kind == "Deployment" else "v1", kind, name, ns)
        labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
        return labels.get("app.kubernetes.io/managed-by") == mf.FIELD_MANAGER

    def _database_targets(self, ns: str, dbs: list[mf.Database]) -> list[tuple[str, str, str, str | None]]:
        """Only the databases the kit deployed (its label), with their data: destroy means gone."""
        out: list[tuple[str, str, str, str | None]] = []
        for db in dbs:
            if self._managed("Deployment", db.name, ns):
                out += [("apps/v1", "Deployment", db.name, ns), ("v1", "Service", db.name, ns),
                        ("v1", "PersistentVolumeClaim", db.name, ns), ("v1", "Secret", db.secret, ns)]
        return out

    def _operator_targets(self, ns: str, package: str) -> list[tuple[str, str, str, str | None]]:
        sub = self.kube.get(SUB_API, "Subscription", package, ns)
        out: list[tuple[str, str, str, str | None]] = [(SUB_API, "Subscription", package, ns)]
        csv = ((sub or {}).get("status") or {}).get("installedCSV")
        if csv:  # deleting a Subscription leaves the operator running; its CSV is what uninstalls it
            out.append((SUB_API, "ClusterServiceVersion", csv, ns))
        out.append((OG_API, "OperatorGroup", mf.operator_group(ns)["metadata"]["name"], ns))
        return out
