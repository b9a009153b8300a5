"""Issue 23, cluster side, at the `kubernetes` boundary with exact objects: the kit changes and deletes only
objects carrying its labels (`maas_helpers.ownership.cluster_labels`), reports foreign ones as left alone,
adopts only what the settings name, previews exactly what destroy deletes, and says "wait" for a namespace that
is being deleted."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from maas_helpers import manifests as mf
from maas_helpers.config import make_settings
from maas_helpers.errors import MaasError
from maas_helpers.ownership import INSTANCE_LABEL, MANAGED_BY_LABEL, cluster_owned
from maas_helpers.platform.openshift import OpenShiftPlatform
from maas_helpers.results import Change

from harness.kube_api import FakeClock, FakeKube, QuietProgress

CSV_3SCALE = "3scale-operator.v0.12.3"
CSV_RHBK = "rhbk-operator.v26.0.5"
DOMAIN = "apps.example.com"


def settings(**extra: Any):
    return make_settings(target="openshift", cluster_domain=DOMAIN,
                         models=[{"name": "granite", "url": "http://granite-predictor.llm:8080"}], **extra)


def platform(kube: FakeKube, **extra: Any) -> OpenShiftPlatform:
    clock = FakeClock()
    return OpenShiftPlatform(settings(**extra), kube, clock=clock, sleep=clock.sleep, progress=QuietProgress)


def add_storage_class(kube: FakeKube) -> None:
    kube.put({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
              "metadata": {"name": "ocs-storagecluster-cephfs"},
              "provisioner": "openshift-storage.cephfs.csi.ceph.com"})


def someone_elses_cluster() -> FakeKube:
    """3scale and RHBK installed by someone else, under the very names the kit uses, without its labels."""
    kube = FakeKube()
    for obj in (
        mf.namespace("3scale"), mf.namespace("rhbk"),
        mf.operator_group("3scale"), mf.operator_group("rhbk"),
        mf.subscription("3scale", "threescale-2.16"),
        mf.subscription("rhbk", "stable-v26.0", "Manual", package=mf.RHBK_PACKAGE),
        mf.apimanager("3scale", DOMAIN, "maas", "ocs-storagecluster-cephfs"),
        mf.keycloak("rhbk", DOMAIN),
        mf.custom_policy_definition("3scale"),
        mf.policy_secret("3scale"),
    ):
        foreign = copy.deepcopy(obj)
        foreign["metadata"].pop("labels", None)
        kube.put(foreign)
    for ns, name, csv in (("3scale", "3scale-operator", CSV_3SCALE), ("rhbk", "rhbk-operator", CSV_RHBK)):
        kube.objects[(mf.subscription(ns, "x")["apiVersion"], "Subscription", ns, name)]["status"] = {
            "installedCSV": csv}
        kube.put({"apiVersion": "operators.coreos.com/v1alpha1", "kind": "ClusterServiceVersion",
                  "metadata": {"name": csv, "namespace": ns}, "status": {"phase": "Succeeded"}})
    return kube


def test_destroy_leaves_unlabelled_objects_untouched_and_says_so() -> None:
    kube = someone_elses_cluster()
    before = copy.deepcopy(kube.objects)
    p = platform(kube)
    preview = p.plan_destroy()
    result = p.destroy()
    assert kube.deleted == [] and kube.objects == before  # not one object changed, no CSV uninstalled
    left = {(a.kind, a.name) for a in result.actions if a.change is Change.SKIPPED}
    assert left == {
        ("Namespace", "3scale"), ("Namespace", "rhbk"),
        ("OperatorGroup", "3scale/3scale-operator-group"), ("OperatorGroup", "rhbk/rhbk-operator-group"),
        ("Subscription", "3scale/3scale-operator"), ("Subscription", "rhbk/rhbk-operator"),
        ("APIManager", "3scale/apimanager"), ("Keycloak", "rhbk/keycloak"),
        ("CustomPolicyDefinition", "3scale/llm-metrics-1-0-0"), ("Secret", "3scale/apicast-policy-llm-metrics-1-0-0"),
    }
    row = next(a for a in result.actions if a.kind == "APIManager")
    assert row.detail == ("not the kit's (no labels for instance 3scale): left alone; to let the kit own it, add "
                          "'APIManager/3scale/apimanager' to adopt in the settings and re-apply")
    assert result.actions[0].detail == "already gone: nothing on the cluster carries the kit's labels"
    assert [(a.kind, a.name, a.change) for a in preview.actions if a.change is Change.SKIPPED] == [
        (a.kind, a.name, a.change) for a in result.actions if a.change is Change.SKIPPED]
    assert not any(a.change is Change.PLANNED_DELETE for a in preview.actions)


def test_apply_never_adopts_an_unlabelled_apimanager_or_keycloak_unless_the_settings_say_so() -> None:
    kube = someone_elses_cluster()
    add_storage_class(kube)
    theirs = copy.deepcopy(kube.objects[("apps.3scale.net/v1alpha1", "APIManager", "3scale", "apimanager")])
    p = platform(kube)
    kube.deployments_roll_out = True
    out = p.ensure_apimanager()
    am = next(a for a in out.actions if a.kind == "APIManager")
    assert am.change is Change.SKIPPED
    assert am.detail == ("exists, not managed by the kit: left alone (to adopt it, add 'APIManager/3scale/apimanager' "
                         "to adopt in the settings)")
    assert kube.objects[("apps.3scale.net/v1alpha1", "APIManager", "3scale", "apimanager")] == theirs
    assert not any(o["kind"] == "APIManager" for o in kube.applied + kube.dry_runs)
    # adopted on request: the kit's apply adds its labels, and from then on the object is the kit's
    adopted = platform(kube, adopt=["APIManager/3scale/apimanager"]).ensure_apimanager()
    row = next(a for a in adopted.actions if a.kind == "APIManager")
    assert (row.change, row.detail) == (Change.UPDATED, "adopted")
    now = kube.objects[("apps.3scale.net/v1alpha1", "APIManager", "3scale", "apimanager")]
    assert cluster_owned(now, "3scale")


def test_the_preview_lists_exactly_what_destroy_deletes() -> None:
    kube = FakeKube()
    p = platform(kube)
    add_storage_class(kube)
    p.ensure_namespace()
    kube.script("Subscription", "3scale-operator", "3scale", {"installedCSV": CSV_3SCALE})
    kube.script("ClusterServiceVersion", CSV_3SCALE, "3scale", {"phase": "Succeeded"})
    p.ensure_operator()
    p.ensure_policy_secret()
    p.ensure_apimanager()
    p.ensure_custom_policy_definition()
    # someone else's Secret in the kit's namespace: never listed, and it keeps the namespace
    kube.put({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "theirs", "namespace": "3scale"}})
    preview = p.plan_destroy()
    planned = [(a.kind, a.name) for a in preview.actions if a.change is Change.PLANNED_DELETE]
    assert ("ClusterServiceVersion", f"3scale/{CSV_3SCALE}") in planned  # installed by the kit's Subscription
    assert ("Secret", "3scale/theirs") not in planned
    for kind in ("APIManager", "CustomPolicyDefinition", "Subscription", "OperatorGroup", "Deployment",
                 "PersistentVolumeClaim", "Service", "Secret"):
        assert any(k == kind for k, _ in planned), kind
    kept = {(a.kind, a.name): a.detail for a in preview.actions if a.change is Change.SKIPPED}
    assert kept == {
        ("Secret", "3scale/theirs"): "not the kit's (no labels for instance 3scale): left alone; to let the kit "
                                     "own it, add 'Secret/3scale/theirs' to adopt in the settings and re-apply",
        ("Namespace", "3scale"): "created by the kit, but holds objects that are not the kit's (listed here): kept",
    }
    result = p.destroy()
    assert [(a.kind, a.name) for a in result.actions if a.change is Change.DELETED] == planned
    assert kube.get("v1", "Secret", "theirs", "3scale") is not None
    # without the foreign Secret the namespace the kit created goes too
    kube.delete("v1", "Secret", "theirs", "3scale")
    assert [(a.kind, a.name) for a in p.plan_destroy().actions if a.change is Change.PLANNED_DELETE] == [
        ("Namespace", "3scale")]


def test_every_object_the_kit_applies_carries_its_labels_for_the_instance() -> None:
    kube = FakeKube()
    p = platform(kube, instance="team-a")
    p.ensure_namespace()
    p.ensure_policy_secret()
    assert kube.applied and all(
        o["metadata"]["labels"][MANAGED_BY_LABEL] == "maas-helpers" and o["metadata"]["labels"][INSTANCE_LABEL]
        == "team-a" for o in kube.applied)
    # another instance's objects are not this one's: left alone
    other = platform(kube, instance="team-b").ensure_policy_secret()
    assert [(a.change, a.detail) for a in other.actions] == [(
        Change.SKIPPED, "exists, managed by the kit's instance team-a, not team-b: left alone (to adopt it, add "
        "'Secret/3scale/apicast-policy-llm-metrics-1-0-0' to adopt in the settings)")]


def test_rerun_with_a_terminating_namespace_says_wait() -> None:
    kube = FakeKube()
    p = platform(kube)
    p.ensure_namespace()
    p.ensure_policy_secret()
    p.destroy()  # the namespace is now Terminating
    with pytest.raises(MaasError) as info:
        p.ensure_namespace()
    assert str(info.value) == ("namespace 3scale is being deleted: wait until it is gone (oc get namespace 3scale), "
                               "then re-run")
    kube.finish_terminating()
    assert [a.change for a in p.ensure_namespace().actions] == [Change.CREATED]


def test_instance_and_adopt_settings_are_one_line_errors_when_malformed() -> None:
    assert settings().cluster_instance == "3scale"  # default: the namespace, the same on every workbench
    assert settings(instance="team-a").cluster_instance == "team-a"
    with pytest.raises(MaasError, match="instance"):
        settings(instance="Team A")
    with pytest.raises(MaasError, match="Kind/namespace/name"):
        settings(adopt=["APIManager/apimanager"])
    assert settings(adopt=["Namespace/rhbk", "Keycloak/rhbk/keycloak"]).adopt == ["Namespace/rhbk",
                                                                                 "Keycloak/rhbk/keycloak"]
