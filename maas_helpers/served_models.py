"""`kit.models`: the models OpenShift AI (or the sandbox) serves, and the lock that lets only the gateway reach them.

    kit.models.discover()          # Discovery: rows (namespace, name, kind, runtime, ready, URL, served name, …)
    kit.models.list()              # the same as a DataFrame
    kit.models.gone()              # configured models whose source (InferenceService …) went away or is not Ready
    kit.models.lockdown()          # cluster: a NetworkPolicy per model (or the one line an admin needs)
    kit.models.lockdown_objects()  # the NetworkPolicies (`maas models lockdown --print`)
    kit.models.verify_lockdown()   # what proves the lock, and what could not be checked

Cluster reads go through `maas_helpers.kube.Kube` (the platform's connection); rows come from the pure
`maas_helpers.discovery`, objects from `maas_helpers.lockdown`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from maas_helpers import lockdown
from maas_helpers.config import SANDBOX_MODELS, SANDBOX_SOURCE, ModelEndpoint
from maas_helpers.discovery import (
    ISVC_API,
    LLMISVC_APIS,
    Discovery,
    ModelRow,
    discover_cluster,
    http_models_fetch,
    isvc_row,
    llmisvc_row,
    verify_served_names,
)
from maas_helpers.errors import MaasError
from maas_helpers.ownership import cluster_owned
from maas_helpers.results import Change, StepResult
from maas_helpers.verify import NOT_CHECKED

if TYPE_CHECKING:
    from maas_helpers.kit import Kit

_ISVC_HOST = re.compile(r"^(?P<name>[a-z0-9-]+?)(?:-[a-z0-9-]+)?-predictor\.(?P<ns>[a-z0-9-]+)(?:\.svc|$|\.)")
_LLM_HOST = re.compile(r"^(?P<name>[a-z0-9-]+)-kserve-workload-svc\.(?P<ns>[a-z0-9-]+)(?:\.svc|$|\.)")
_Names = list[str]
_Rows = list[ModelRow]
_Endpoints = list[ModelEndpoint]
_Objects = list[dict[str, Any]]
SERVICE_CA = "/var/run/secrets/kubernetes.io/serviceaccount/service-ca.crt"


# A skipped entry reads `<claim> — <why>`, as maas_helpers.verify.not_checked prints: the Verify prose names the
# claim as conditional (tests/notebooks/test_verify_cells.py).
GATEWAY_CLAIM = "the same call through the gateway"


@dataclass
class LockCheck:
    """What the lockdown verification proved, and what it could not check (and why)."""

    checked: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "<claim> — <why>", as verify.not_checked prints them
    failed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def __str__(self) -> str:
        lines = [f"✓ {c}" for c in self.checked] + [f"✗ {f}" for f in self.failed]
        return "\n".join(lines + [f"{NOT_CHECKED} {s}" for s in self.skipped])

    def __repr__(self) -> str:
        return str(self)


def _source_ref(model: ModelEndpoint) -> tuple[str, str, str] | None:
    """(kind, namespace, name) of the KServe object a configured model comes from: its `source`, else its URL."""
    if model.source and " " in model.source and "/" in model.source:
        kind, ref = model.source.split(" ", 1)
        ns, name = ref.split("/", 1)
        if kind in ("InferenceService", "LLMInferenceService"):
            return kind, ns, name
    host = (re.sub(r"^https?://", "", model.url).split("/", 1)[0]).split(":", 1)[0]
    if match := _LLM_HOST.match(host):
        return "LLMInferenceService", match["ns"], match["name"]
    if match := _ISVC_HOST.match(host):
        return "InferenceService", match["ns"], match["name"]
    return None


class ModelsStep:
    def __init__(self, kit: Kit) -> None:
        self.kit = kit

    @property
    def _sandbox(self) -> bool:
        return self.kit.settings.target == "sandbox"

    # --- discovery ------------------------------------------------------------------------------------
    def discover(self, namespaces: _Names | None = None, verify: bool = True) -> Discovery:
        """The models the user can see; `verify` asks each reachable runtime which name it serves."""
        if self._sandbox:
            return self._sandbox_discovery()
        found = discover_cluster(self.kit.platform.kube, namespaces)  # type: ignore[attr-defined]
        if verify:
            tls: bool | str = self.kit.settings.tls_verify
            if tls is True and os.path.exists(SERVICE_CA):  # in a workbench: the cluster's service CA signs *.svc
                tls = SERVICE_CA
            found.rows = verify_served_names(found.rows, http_models_fetch(verify=tls))
        return found

    def _sandbox_discovery(self) -> Discovery:
        """The sandbox model server's models, read with the admin token (direct model calls are refused)."""
        info = self.kit.platform.info  # type: ignore[attr-defined]
        kinds = {name: (kind, text) for name, kind, text in SANDBOX_MODELS}
        ids = http_models_fetch(headers={"Authorization": f"Bearer {info.admin_token}"},
                                path="/sandbox/models")(info.models_url)
        if ids is None:
            return Discovery(unreadable=[f"the sandbox model server at {info.models_url} did not answer"])
        rows = [ModelRow(namespace="sandbox", name=i, kind="sandbox", runtime="sandbox model server", mode="—",
                         ready=True, reason="", url=info.models_url, served_name=i, verified=True, system_name=i,
                         model_kind=kinds.get(i, ("chat", ""))[0], source=SANDBOX_SOURCE,
                         description=kinds.get(i, ("", ""))[1]) for i in ids]
        return Discovery(rows=rows)

    def list(self, namespaces: _Names | None = None) -> Any:
        import pandas as pd

        found = self.discover(namespaces)
        frame = pd.DataFrame(found.table())
        frame.attrs["unreadable"] = found.unreadable
        return frame

    def endpoints(self, found: Discovery | None = None, ready_only: bool = True) -> _Endpoints:
        """Discovered rows as notebook-0 model entries (ready ones by default)."""
        found = found or self.discover()
        return [ModelEndpoint.model_validate(r.endpoint()) for r in found.rows if r.url and (r.ready or not ready_only)]

    def gone(self, found: Discovery | None = None) -> _Names:
        """Configured models that came from discovery and are no longer there (or no longer Ready)."""
        models = [m for m in self.kit.settings.models if m.source]
        if not models:
            return []
        found = found or self.discover(verify=False)
        # one KServe object serves one model; the sandbox's one server serves several: match its models by name
        rows = {(r.source, r.served_name if r.source == SANDBOX_SOURCE else ""): r for r in found.rows}
        out = []
        for m in models:
            row = rows.get((m.source, m.model if m.source == SANDBOX_SOURCE else ""))
            if row is None and m.source == SANDBOX_SOURCE:
                out.append(f"model {m.name}: the sandbox model server no longer serves it")
            elif row is None:
                out.append(f"model {m.name}: {m.source} is gone")
            elif not row.ready:
                out.append(f"model {m.name}: {m.source} is not Ready ({row.reason})")
        return out

    # --- lockdown -------------------------------------------------------------------------------------
    def _rows(self) -> tuple[_Rows, _Names]:
        """The configured models as discovery rows read from the cluster (and notes for those it cannot lock)."""
        kube = self.kit.platform.kube  # type: ignore[attr-defined]
        rows: _Rows = []
        notes: _Names = []
        for model in self.kit.settings.resolved_models():
            ref = _source_ref(model)
            if ref is None:
                notes.append(f"model {model.name}: {model.url} is not a KServe service; restrict who reaches it "
                             "by hand")
                continue
            kind, ns, name = ref
            apis = (ISVC_API,) if kind == "InferenceService" else LLMISVC_APIS
            obj = next((o for api in apis if (o := kube.get(api, kind, name, ns)) is not None), None)
            if obj is None:
                notes.append(f"model {model.name}: {kind} {ns}/{name} not found; nothing to lock")
                continue
            rows.append(isvc_row(obj) if kind == "InferenceService" else llmisvc_row(obj))
        return rows, notes

    def lockdown_objects(self) -> _Objects:
        """One NetworkPolicy per configured model (OpenShift); the sandbox needs none (its model server checks
        the products' secret tokens)."""
        if self._sandbox:
            return []
        rows, _ = self._rows()
        instance = lockdown.kit_instance(self.kit.settings)
        return [lockdown.network_policy(r, self.kit.settings.namespace, instance) for r in rows]

    def lockdown(self, plan_only: bool = False) -> StepResult:
        """Cluster: apply (or plan) each model's NetworkPolicy, owned by the kit; a user who may not create them
        gets one line naming the objects an admin must apply. Sandbox: says what does the same there."""
        result = StepResult("only the gateway reaches a model")
        if self._sandbox:
            for model in self.kit.settings.resolved_models(getattr(self.kit.platform, "models_url", None)):
                result.add("model server", model.name, Change.UNCHANGED,
                           "sandbox: refuses calls without the product's secret token (set per product, notebook 4)")
            return result
        rows, notes = self._rows()
        result.notes += notes
        kube = self.kit.platform.kube  # type: ignore[attr-defined]
        instance = lockdown.kit_instance(self.kit.settings)
        denied: _Names = []
        for row in rows:
            obj = lockdown.network_policy(row, self.kit.settings.namespace, instance)
            label = f"{row.namespace}/{obj['metadata']['name']}"
            if row.mode.startswith("Knative"):
                result.notes.append(f"{label}: Knative mode admits the activator and mesh gateway, which forward any "
                                    "caller; use Standard mode for a lock that holds")
            current = kube.get(lockdown.API_VERSION, lockdown.KIND, obj["metadata"]["name"], row.namespace)
            if current is not None and not cluster_owned(current, instance):
                result.add(lockdown.KIND, label, Change.UNCHANGED, "exists, not managed by the kit: left alone")
                continue
            if plan_only:
                change = Change.PLANNED_CREATE if current is None else Change.UNCHANGED
                result.add(lockdown.KIND, label, change, f"selects {lockdown.label_selector(row.pod_selector)}")
                continue
            review = kube.self_subject_access_review("create", "networking.k8s.io", "networkpolicies", row.namespace)
            if not review.allowed:
                denied.append(label)
                result.add(lockdown.KIND, label, Change.SKIPPED, "not allowed: an admin must apply it")
                continue
            after = kube.apply(obj)
            rv = (current or {}).get("metadata", {}).get("resourceVersion")
            same = rv is not None and rv == (after.get("metadata") or {}).get("resourceVersion")
            change = Change.CREATED if current is None else (Change.UNCHANGED if same else Change.UPDATED)
            result.add(lockdown.KIND, label, change, f"selects {lockdown.label_selector(row.pod_selector)}")
        if denied:
            who = kube.whoami()
            result.notes.append(f"{who} may not create NetworkPolicies: an admin must apply {', '.join(denied)} "
                                "(maas models lockdown --print | oc apply -f -)")
        return result

    def remove_lockdown(self, plan_only: bool = False) -> StepResult:
        """Teardown: delete the NetworkPolicies the kit created (its labels), in the configured models' namespaces
        (`plan_only`: what would be deleted, for the teardown preview)."""
        result = StepResult("NetworkPolicies")
        if self._sandbox:
            return result
        kube = self.kit.platform.kube  # type: ignore[attr-defined]
        instance = lockdown.kit_instance(self.kit.settings)
        namespaces = sorted({ref[1] for m in self.kit.settings.models if (ref := _source_ref(m))})
        for ns in namespaces:
            for obj in kube.list(lockdown.API_VERSION, lockdown.KIND, ns):
                name = obj["metadata"]["name"]
                if not cluster_owned(obj, instance):
                    continue
                if plan_only:
                    result.add(lockdown.KIND, f"{ns}/{name}", Change.PLANNED_DELETE)
                    continue
                gone = kube.delete(lockdown.API_VERSION, lockdown.KIND, name, ns)
                result.add(lockdown.KIND, f"{ns}/{name}", Change.DELETED if gone else Change.UNCHANGED)
        return result

    # --- verification ---------------------------------------------------------------------------------
    def verify_lockdown(self, timeout: float = 3.0) -> LockCheck:
        """Sandbox: a direct call is refused and the same call through the gateway answers. Cluster: each
        NetworkPolicy exists and selects the model's pods; inside the cluster a direct call must fail."""
        return self._verify_sandbox() if self._sandbox else self._verify_cluster(timeout)

    def _gateway_call(self, check: LockCheck, product: Any, path: str) -> None:
        import requests

        try:
            key = self.kit.application_keys().get(product.system_name)
            endpoint = self.kit.links().get(f"{product.system_name} (production)")
        except (MaasError, requests.RequestException) as exc:
            check.skipped.append(f"{GATEWAY_CLAIM} — {product.system_name}: 3scale not reachable: {exc}")
            return
        if not key or not endpoint:
            check.skipped.append(f"{GATEWAY_CLAIM} — {product.system_name}: no application key or production "
                                 "endpoint yet (run notebooks 4-6)")
            return
        resp = requests.get(f"{endpoint}{path}", headers={"Authorization": f"Bearer {key}"}, timeout=10)
        (check.checked if resp.status_code == 200 else check.failed).append(
            f"{product.system_name}: GET {path} through the gateway → {resp.status_code}")

    def _verify_sandbox(self) -> LockCheck:
        import requests

        check = LockCheck()
        for product in self.kit.catalogue.products:
            url = product.backend.private_endpoint
            resp = requests.get(f"{url}/v1/models", timeout=10)
            refused = resp.status_code == 403
            (check.checked if refused else check.failed).append(
                f"{product.system_name}: GET /v1/models directly on the model server → {resp.status_code}"
                + (" (refused)" if refused else " (should be refused)"))
            self._gateway_call(check, product, "/v1/models")
        return check

    def _verify_cluster(self, timeout: float) -> LockCheck:
        import requests

        check = LockCheck()
        kube = self.kit.platform.kube  # type: ignore[attr-defined]
        rows, notes = self._rows()
        check.skipped += notes
        inside = "KUBERNETES_SERVICE_HOST" in os.environ
        instance = lockdown.kit_instance(self.kit.settings)
        for row in rows:
            want = lockdown.network_policy(row, self.kit.settings.namespace, instance)
            name = want["metadata"]["name"]
            have = kube.get(lockdown.API_VERSION, lockdown.KIND, name, row.namespace)
            if have is None:
                check.failed.append(f"{row.namespace}/{name}: no NetworkPolicy (run kit.models.lockdown())")
                continue
            try:
                pods = kube.list("v1", "Pod", row.namespace, label_selector=lockdown.label_selector(row.pod_selector))
            except MaasError as exc:
                check.skipped.append(f"selects the model's pods — {row.namespace}/{name}: cannot list pods ({exc})")
                pods = None
            if pods is not None:
                if not pods:
                    check.skipped.append(f"selects the model's pods — {row.namespace}/{name}: "
                                         f"no running pods of {row.name}")
                elif all(lockdown.selects(have, p) for p in pods):
                    check.checked.append(f"{row.namespace}/{name} selects the {len(pods)} pod(s) of {row.name}")
                else:
                    check.failed.append(f"{row.namespace}/{name} does not select every pod of {row.name}")
            if not inside:
                check.skipped.append(f"a direct call must fail — {row.name}: the kit runs outside the cluster, "
                                     "where the in-cluster URL does not resolve")
            elif row.url:
                try:
                    resp = requests.get(f"{row.url}/v1/models", timeout=timeout, verify=False)  # noqa: S501
                    check.failed.append(f"{row.name}: a direct call answered {resp.status_code}; it must be refused")
                except requests.RequestException as exc:
                    check.checked.append(f"{row.name}: a direct call from here fails ({type(exc).__name__})")
        for product in self.kit.catalogue.products:
            self._gateway_call(check, product, "/v1/models")
        return check

    def __repr__(self) -> str:
        return "<ModelsStep: discover(), list(), gone(), lockdown(), lockdown_objects(), verify_lockdown()>"
