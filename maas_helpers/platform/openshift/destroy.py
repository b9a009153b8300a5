"""Notebook 99's cluster side: delete exactly the objects that carry the kit's labels for this instance.

`plan_destroy()` and `destroy()` share one plan (`_destroy_plan`): the preview is what destroy deletes.
Ownership is read from the labels, never from a name. An object without them that someone put there on purpose
(`deliberate`) is listed as left alone and keeps a namespace the kit created from being deleted. The CSV of a
Subscription the kit created goes with it (deleting a Subscription leaves the operator running). Every delete
permission is checked before the first delete; a destroy that stops half-way (403, network) lists what it
deleted and what is left, and the next run finishes the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from maas_helpers.errors import MaasError
from maas_helpers.platform.openshift import permissions
from maas_helpers.platform.openshift.permissions import OLM
from maas_helpers.platform.openshift.plumbing import OG_API, SUB_API, ClusterBase, object_ref, terminating
from maas_helpers.results import Change, StepResult

KC_API = "k8s.keycloak.org/v2alpha1"
CPD_API = "capabilities.3scale.net/v1beta1"
AM_API = "apps.3scale.net/v1alpha1"

# Newest first inside a namespace: what uses a thing goes before the thing.
NAMESPACED_KINDS: tuple[tuple[str, str], ...] = (
    (KC_API, "KeycloakRealmImport"),
    (KC_API, "Keycloak"),
    (CPD_API, "CustomPolicyDefinition"),
    (AM_API, "APIManager"),
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "Secret"),
    (SUB_API, "Subscription"),
    (OG_API, "OperatorGroup"),
)
RESOURCES = {
    "KeycloakRealmImport": ("k8s.keycloak.org", "keycloakrealmimports"),
    "Keycloak": ("k8s.keycloak.org", "keycloaks"),
    "CustomPolicyDefinition": ("capabilities.3scale.net", "custompolicydefinitions"),
    "APIManager": ("apps.3scale.net", "apimanagers"),
    "Deployment": ("apps", "deployments"),
    "Service": ("", "services"),
    "PersistentVolumeClaim": ("", "persistentvolumeclaims"),
    "Secret": ("", "secrets"),
    "Subscription": (OLM, "subscriptions"),
    "ClusterServiceVersion": (OLM, "clusterserviceversions"),
    "OperatorGroup": (OLM, "operatorgroups"),
    "Namespace": ("", "namespaces"),
}


INCIDENTAL_SECRET_TYPES = {"kubernetes.io/service-account-token", "kubernetes.io/dockercfg",
                           "kubernetes.io/dockerconfigjson"}


def deliberate(obj: dict[str, Any]) -> bool:
    """An object someone put here on purpose: not a child of another object (ownerReferences: an operator's
    Deployments, OLM's copies) and not a service account's token or pull secret the platform makes."""
    meta = obj.get("metadata") or {}
    return not meta.get("ownerReferences") and obj.get("type") not in INCIDENTAL_SECRET_TYPES


@dataclass(frozen=True)
class Target:
    api_version: str
    kind: str
    name: str
    namespace: str | None
    why: str = ""

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def need(self) -> permissions.Need:
        group, resource = RESOURCES[self.kind]
        # deleting namespace X is authorized in namespace X (apiserver requestinfo.go)
        return permissions.Need("delete", group, resource, self.name if self.kind == "Namespace" else self.namespace)


class DestroySteps(ClusterBase):
    def _destroy_plan(self) -> tuple[list[Target], list[Target]]:
        """(what destroy deletes, in order; foreign objects it leaves alone)."""
        ns, sso = self.ns, self.settings.sso_namespace
        delete: list[Target] = []
        foreign: dict[tuple[str, str | None, str], Target] = {}
        for namespace in dict.fromkeys((sso, ns)):
            for api_version, kind in NAMESPACED_KINDS:
                for obj in self.kube.list(api_version, kind, namespace):
                    name = obj["metadata"]["name"]
                    if not self.owned(obj):
                        if deliberate(obj):
                            foreign[(kind, namespace, name)] = Target(api_version, kind, name, namespace)
                        continue
                    delete.append(Target(api_version, kind, name, namespace))
                    csv = ((obj.get("status") or {}).get("installedCSV")) if kind == "Subscription" else None
                    if csv:  # the operator the kit's Subscription installed
                        delete.append(Target(SUB_API, "ClusterServiceVersion", csv, namespace, f"installed by {name}"))
        for ns_name in dict.fromkeys((sso, ns)):
            ns_obj = self.kube.get("v1", "Namespace", ns_name)
            if ns_obj is None:
                continue
            target = Target("v1", "Namespace", ns_name, None)
            if not self.owned(ns_obj):
                foreign[("Namespace", None, ns_name)] = target
            elif terminating(ns_obj):
                foreign[("Namespace", None, ns_name)] = Target("v1", "Namespace", ns_name, None,
                                                               "being deleted: wait until it is gone")
            elif any(f.namespace == ns_name for f in foreign.values()):
                foreign[("Namespace", None, ns_name)] = Target(
                    "v1", "Namespace", ns_name, None,
                    "created by the kit, but holds objects that are not the kit's (listed here): kept")
            else:
                delete.append(Target("v1", "Namespace", ns_name, None, "created by the kit"))
        return delete, list(foreign.values())

    def _foreign_rows(self, result: StepResult, foreign: list[Target]) -> None:
        for t in foreign:
            ref = object_ref({"kind": t.kind, "metadata": {"name": t.name, "namespace": t.namespace}})
            detail = t.why or f"not the kit's (no labels for instance {self.instance}): left alone"
            if not t.why:
                detail += f"; to let the kit own it, add {ref!r} to adopt in the settings and re-apply"
            result.add(t.kind, t.label, Change.SKIPPED, detail)

    def plan_destroy(self) -> StepResult:
        """What `destroy()` would delete (its own plan), plus the foreign objects it would leave alone."""
        result = StepResult("cluster objects the kit would remove")
        delete, foreign = self._destroy_plan()
        for t in delete:
            result.add(t.kind, t.label, Change.PLANNED_DELETE, t.why)
        self._foreign_rows(result, foreign)
        if not delete:
            result.notes.append(f"nothing on the cluster carries the kit's labels for instance {self.instance}")
        return result

    def destroy(self) -> StepResult:
        """Delete the planned objects, after checking every delete permission first."""
        result = StepResult("remove the MaaS cluster objects")
        delete, foreign = self._destroy_plan()
        if not delete:
            result.add("cluster", f"instance {self.instance}", Change.UNCHANGED,
                       "already gone: nothing on the cluster carries the kit's labels")
            self._foreign_rows(result, foreign)
            return result
        self.require([t.need() for t in delete], "removing the kit's cluster objects", "destroy")
        for i, t in enumerate(delete):
            try:
                gone = self.kube.delete(t.api_version, t.kind, t.name, t.namespace)
            except MaasError as exc:
                result.add(t.kind, t.label, Change.FAILED, str(exc))
                for left in delete[i + 1:]:
                    result.add(left.kind, left.label, Change.FAILED, "left: not deleted (destroy stopped above)")
                result.notes.append(
                    f"destroy stopped: deleted {i} of {len(delete)} objects, {len(delete) - i} left; fix the cause "
                    "and re-run destroy() — it deletes only what is still there"
                )
                break
            result.add(t.kind, t.label, Change.DELETED if gone else Change.UNCHANGED,
                       t.why if gone else "already gone")
        self._foreign_rows(result, foreign)
        return result
