"""What every OpenShift step shares: the connection, the step deadline, ownership-aware apply, prechecks.

`apply()` is the one write path: it labels the object as the kit's (`maas_helpers.ownership`), leaves an
existing object without those labels alone (unless the settings' `adopt` names it), and decides created /
updated / unchanged from a server-side dry-run of what the kit applies — not from `resourceVersion`, which moves
whenever the server fills status on an object.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from maas_helpers import manifests as mf
from maas_helpers import ownership
from maas_helpers.errors import MaasError
from maas_helpers.kube import Kube
from maas_helpers.platform.openshift import permissions
from maas_helpers.platform.openshift.progress import DeploymentProgress, default_progress
from maas_helpers.platform.openshift.waits import Clock, Deadline, Sleep
from maas_helpers.results import Change, StepResult

if TYPE_CHECKING:
    from maas_helpers.config import Settings

SUB_API = "operators.coreos.com/v1alpha1"
OG_API = "operators.coreos.com/v1"
VOLATILE_META = ("resourceVersion", "managedFields", "generation", "creationTimestamp", "uid")


def object_ref(obj: dict[str, Any]) -> str:
    """How the settings' `adopt` list names an object: Kind/namespace/name (Kind/name when cluster-scoped)."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj['kind']}/{ns}/{meta['name']}" if ns else f"{obj['kind']}/{meta['name']}"


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy({k: v for k, v in obj.items() if k != "status"})
    meta = out.get("metadata") or {}
    for key in VOLATILE_META:
        meta.pop(key, None)
    return out


def terminating(obj: dict[str, Any] | None) -> bool:
    return bool(obj) and (
        ((obj or {}).get("status") or {}).get("phase") == "Terminating"
        or bool(((obj or {}).get("metadata") or {}).get("deletionTimestamp"))
    )


class ClusterBase:
    """Settings, connection, clock and the write path every concern module builds on."""

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
        self._deadline: Deadline | None = None
        # Owned Deployment generations when the APIManager was last changed: its stale Available must not
        # count until they move (or stay put for SETTLE_POLLS polls). None = no change pending.
        self._apimanager_change: dict[str, int] | None = None

    # --- connection and identity ------------------------------------------------------------------------

    @property
    def kube(self) -> Kube:
        if self._kube is None:
            s = self.settings
            self._kube = Kube.connect(s.kubeconfig, verify_tls=s.verify_tls, ca_bundle=s.ca_bundle)
        return self._kube

    @property
    def ns(self) -> str:
        return self.settings.namespace

    @property
    def instance(self) -> str:
        return self.settings.cluster_instance

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

    # --- one timeout per step ---------------------------------------------------------------------------

    @contextmanager
    def step_timeout(self, seconds: float | None) -> Iterator[None]:
        """Every wait inside shares this deadline; an outer step's deadline wins over an inner one."""
        if seconds is None or self._deadline is not None:
            yield
            return
        self._deadline = Deadline(self.clock, seconds)
        try:
            yield
        finally:
            self._deadline = None

    def deadline(self, timeout: float) -> Deadline:
        return self._deadline or Deadline(self.clock, timeout)

    def pause(self, deadline: Deadline) -> None:
        """Sleep one poll, never past the deadline."""
        self.sleep(min(self.poll_interval, deadline.left()) or self.poll_interval)

    # --- ownership and the write path -------------------------------------------------------------------

    def owned(self, obj: dict[str, Any] | None) -> bool:
        return ownership.cluster_owned(obj, self.instance)

    def adopted(self, obj: dict[str, Any]) -> bool:
        return object_ref(obj) in set(self.settings.adopt)

    def left_alone(self, result: StepResult, obj: dict[str, Any], link: str | None = None,
                   current: dict[str, Any] | None = None) -> None:
        """Report an existing object without the kit's labels, and how to adopt it (never implicitly)."""
        meta = obj["metadata"]
        where = f"{meta['namespace']}/" if meta.get("namespace") else ""
        labels = ((current or {}).get("metadata") or {}).get("labels") or {}
        other = labels.get(ownership.INSTANCE_LABEL) if labels.get(ownership.MANAGED_BY_LABEL) == ownership.MANAGED_BY \
            else None
        who = f"managed by the kit's instance {other}, not {self.instance}" if other else "not managed by the kit"
        result.add(
            obj["kind"], where + meta["name"], Change.SKIPPED,
            f"exists, {who}: left alone (to adopt it, add {object_ref(obj)!r} to adopt in the settings)",
            link=link,
        )

    def labelled(self, obj: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(obj)
        labels = out["metadata"].setdefault("labels", {})
        labels.update(ownership.cluster_labels(self.instance))
        return out

    def apply(self, result: StepResult, obj: dict[str, Any]) -> dict[str, Any]:
        """Label, validate, and apply unless a foreign object is there; record created / updated / unchanged."""
        obj = self.labelled(obj)
        mf.validate_manifest(obj)
        meta = obj["metadata"]
        where = f"{meta['namespace']}/" if meta.get("namespace") else ""
        link = self._console(obj)
        before = self.kube.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        if before is not None and not self.owned(before) and not self.adopted(obj):
            self.left_alone(result, obj, link, before)
            return before
        if before is None:
            after = self.kube.apply(obj)
            result.add(obj["kind"], where + meta["name"], Change.CREATED, link=link)
            return after
        preview = self.kube.apply(obj, dry_run=True)
        if _comparable(preview) == _comparable(before):
            result.add(obj["kind"], where + meta["name"], Change.UNCHANGED, link=link)
            return before
        after = self.kube.apply(obj)
        detail = "adopted" if not self.owned(before) else ""
        result.add(obj["kind"], where + meta["name"], Change.UPDATED, detail, link=link)
        return after

    def apply_secret(self, result: StepResult, obj: dict[str, Any]) -> dict[str, Any]:
        """Apply a Secret and report it by name and keys; its values are never part of a result."""
        out = self.apply(result, obj)
        if result.actions[-1].change is not Change.SKIPPED:
            result.actions[-1].detail = "keys " + ", ".join(sorted(obj.get("data") or {})) + " (values masked)"
        return out

    def require(self, needs: list[permissions.Need], step: str, notebook: str) -> None:
        permissions.require(self.kube, needs, step, notebook)

    def namespace_state(self, name: str) -> dict[str, Any] | None:
        """The namespace, or None; a Terminating one stops the step with what to do."""
        current = self.kube.get("v1", "Namespace", name)
        if terminating(current):
            raise MaasError(
                f"namespace {name} is being deleted: wait until it is gone (oc get namespace {name}), then re-run"
            )
        return current

    def ensure_ns(self, name: str, title: str, notebook: str) -> StepResult:
        """Create the namespace when it is missing; an existing one is used as it is (and never deleted unless
        the kit created it). Permission is checked before reading, so a user who may not even read namespaces
        gets the namespace advice, not a raw 403."""
        result = StepResult(f"{title} {name}")
        self._tls_notes(result)
        link = self._console(mf.namespace(name))
        can_read = self.kube.self_subject_access_review("get", "", "namespaces", name).allowed
        current = self.namespace_state(name) if can_read else None
        if current is not None:
            if self.owned(current):
                result.add("Namespace", name, Change.UNCHANGED, "exists", link=link)
            else:
                self.left_alone(result, mf.namespace(name), link)  # used as it is, never deleted
            return result
        # A request naming a namespace is authorized in that namespace (apiserver requestinfo.go); a create is not.
        needs = [permissions.Need("create", "", "namespaces"), permissions.Need("patch", "", "namespaces", name)]
        self.require(needs, f"creating namespace {name}", notebook)
        self.apply(result, mf.namespace(name))
        return result
