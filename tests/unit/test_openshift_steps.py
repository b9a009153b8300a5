"""Issue 25 problems 4-7 at the `kubernetes` boundary: one timeout per notebook step, what a stuck APIManager
is blamed on, the 500 of strict field validation, and an unchanged re-run that says unchanged.

A cluster "where nothing reconciles" is the fake API server with no operator status scripted and Deployments
that never become ready (`deployments_roll_out = False`)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from maas_helpers import manifests as mf
from maas_helpers.config import make_settings
from maas_helpers.errors import MaasError
from maas_helpers.platform.openshift import OpenShiftPlatform
from maas_helpers.results import Change
from maas_helpers.steps import ApiManagerStep, OperatorStep

from harness.kube_api import CRDS, FakeClock, FakeKube, QuietProgress, kit_object

POLL = 5.0
needs_schemas = pytest.mark.skipif(CRDS is None, reason="../shared/reference CRDs not present: no strict validation")


@pytest.fixture
def settings():
    return make_settings(target="openshift", cluster_domain="apps.example.com",
                         models=[{"name": "granite", "url": "http://granite-predictor.llm:8080"}])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def cluster(*, reconciles: bool = False) -> FakeKube:
    kube = FakeKube()
    kube.deployments_roll_out = reconciles
    kube.put({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
              "metadata": {"name": "ocs-storagecluster-cephfs"},
              "provisioner": "openshift-storage.cephfs.csi.ceph.com"})
    return kube


def platform(settings, kube: FakeKube, clock: FakeClock, **kw: Any) -> OpenShiftPlatform:
    return OpenShiftPlatform(settings, kube, clock=clock, sleep=clock.sleep, poll_interval=POLL,
                             progress=QuietProgress, **kw)


# --- problem 4: one timeout per step ------------------------------------------------------------------------


def test_notebook_2_with_wait_timeout_60_ends_within_60_s_plus_one_poll(settings, clock) -> None:
    """Databases (600 s by default), the APIManager wait and the policy definition shared one deadline: before,
    notebook 2 could take 600 + 1800 + 120 s."""
    kube = cluster()
    kube.put(kit_object(mf.namespace("3scale")))
    step = ApiManagerStep(SimpleNamespace(platform=platform(settings, kube, clock)))  # type: ignore[arg-type]
    with pytest.raises(MaasError) as info:
        step.install(timeout=60)
    assert clock.now <= 60 + POLL
    msg = str(info.value)
    assert msg.startswith("not ready after 60 s (the step's timeout) in 3scale: maas-system-redis")
    assert not any(o["kind"] == "APIManager" for o in kube.applied)


def test_notebook_2_deadline_covers_the_apimanager_wait_after_slow_databases(settings, clock) -> None:
    kube = cluster(reconciles=True)
    kube.put(kit_object(mf.namespace("3scale")))
    p = platform(settings, kube, clock)
    real_wait = p.wait_deployments

    def slow_databases(*args: Any) -> None:  # the databases take 40 s of the 60
        clock.now += 40
        real_wait(*args)

    p.wait_deployments = slow_databases  # type: ignore[method-assign]
    with pytest.raises(MaasError) as info:
        ApiManagerStep(SimpleNamespace(platform=p)).install(timeout=60)  # type: ignore[arg-type]
    assert 60 <= clock.now <= 60 + POLL
    msg = str(info.value)
    assert msg.startswith("APIManager apimanager in 3scale not Available after 60 s (the step's timeout)")
    assert "no status at all: the 3scale operator is not running (check notebook 1" in msg


def test_notebook_1_with_a_timeout_ends_within_it_naming_what_is_stuck(settings, clock) -> None:
    kube = cluster()
    p = platform(settings, kube, clock)
    with pytest.raises(MaasError) as info:
        OperatorStep(SimpleNamespace(platform=p)).install(timeout=60)  # type: ignore[arg-type]
    assert 60 <= clock.now <= 60 + POLL
    assert str(info.value) == ("Subscription 3scale-operator in 3scale not installed after 60 s (the step's "
                               "timeout): Subscription has no status yet (is the catalog source healthy?)")


def test_notebook_9_timeout_bounds_all_four_waits_together(settings, clock) -> None:
    """ensure_sso(timeout) used to apply the timeout to each of its four waits."""
    kube = cluster(reconciles=True)
    kube.script("Subscription", "rhbk-operator", "rhbk", {"installedCSV": "rhbk-operator.v26.0.5"})
    kube.script("ClusterServiceVersion", "rhbk-operator.v26.0.5", "rhbk", {"phase": "Succeeded"})
    p = platform(settings, kube, clock)
    with pytest.raises(MaasError) as info, p.step_timeout(90):  # what SsoStep.apply(timeout=90) sets
        p.ensure_sso({"realm": "maas"}, timeout=900)  # an inner timeout never extends the step's
    assert 90 <= clock.now <= 90 + POLL
    assert str(info.value).startswith("Keycloak keycloak in rhbk not Ready after 90 s (the step's timeout)")


# --- problem 5: what a stuck APIManager is blamed on -------------------------------------------------------


def test_pending_claims_are_explained_by_their_own_access_mode(settings, clock) -> None:
    kube = cluster()
    kube.put(kit_object(mf.apimanager("3scale", "apps.example.com", "maas", "ocs-storagecluster-cephfs")))
    kube.put(kit_object(mf.database_pvc("3scale", mf.THREESCALE_DATABASES[0], "gp3-csi")))  # RWO, the kit's
    kube.put({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
              "metadata": {"name": "system-storage", "namespace": "3scale"},
              "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "gp3-csi"}})
    kube.script("APIManager", "apimanager", "3scale",
                {"conditions": [{"type": "Available", "status": "False", "reason": "DeploymentsNotReady"}]})
    with pytest.raises(MaasError) as info:
        platform(settings, kube, clock).wait_for_apimanager(timeout=30)
    msg = str(info.value)
    assert ("PVC Pending (ReadWriteMany): system-storage (gp3-csi) — needs an RWX StorageClass such as ODF "
            "CephFS") in msg
    assert "PVC Pending (ReadWriteOnce): maas-system-redis (gp3-csi) — the StorageClass cannot provision it" in msg
    assert "maas-system-redis (gp3-csi) — needs an RWX" not in msg


def test_apimanager_status_says_missing_or_no_operator_instead_of_empty_conditions(settings, clock) -> None:
    kube = cluster()
    p = platform(settings, kube, clock)
    missing = p.apimanager_status()
    assert missing["available"] is False
    assert missing["summary"] == "APIManager apimanager not found in 3scale: run notebook 2's install first"
    assert missing["conditions"] == [missing["summary"]]  # notebook 2's assert shows it, not `[]`
    kube.put(kit_object(mf.apimanager("3scale", "apps.example.com", "maas", "ocs-storagecluster-cephfs")))
    unreconciled = p.apimanager_status()
    assert unreconciled["summary"] == ("APIManager apimanager in 3scale has no status at all: the 3scale operator "
                                       "is not running (check notebook 1: kit.operator.status())")


# --- problem 6: strict field validation answers 500 for a built-in kind --------------------------------------


@needs_schemas
def test_a_typo_in_a_built_in_kind_is_a_500_with_the_fix_the_manifest_hint() -> None:
    kube = cluster()
    kube.put(kit_object(mf.namespace("3scale")))
    dep = mf.database_deployment("3scale", mf.THREESCALE_DATABASES[0])
    dep["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(MaasError) as info:
        kube.apply(dep)
    msg = str(info.value)
    assert msg.startswith("Deployment maas-system-redis (apps/v1) in namespace 3scale was rejected by the API server "
                          "(500 failed to create typed patch object")
    assert "imagePullPolicyy: field not declared in schema" in msg and msg.endswith("fix the manifest")


# --- problem 7: an unchanged re-run says unchanged -----------------------------------------------------------


def test_rerun_reports_every_database_object_unchanged_although_the_server_filled_pvc_status(settings, clock) -> None:
    kube = cluster(reconciles=True)
    kube.put(kit_object(mf.namespace("3scale")))
    p = platform(settings, kube, clock)
    first = p.ensure_databases()
    assert {a.change for a in first.actions if a.kind != "Deployment"} == {Change.CREATED}
    pvc = kube.get("v1", "PersistentVolumeClaim", "maas-system-redis", "3scale")
    assert pvc is not None and pvc["status"] == {"phase": "Pending"}  # filled on read
    kube.applied.clear()
    again = p.ensure_databases()
    changes = {(a.kind, a.change) for a in again.actions if a.change is not Change.WAITED}
    assert changes == {("Secret", Change.UNCHANGED), ("PersistentVolumeClaim", Change.UNCHANGED),
                       ("Service", Change.UNCHANGED), ("Deployment", Change.UNCHANGED)}
    assert again.writes == 0 and kube.applied == []


# --- what the API server says reaches the learner as one line -------------------------------------------------


def test_a_forbidden_read_carries_kube_apiservers_own_words() -> None:
    kube = cluster()
    kube.denied.add(("get", "", "secrets", "3scale"))
    with pytest.raises(MaasError) as info:
        kube.get("v1", "Secret", "system-seed", "3scale")
    assert info.value.status == 403
    assert ('(403 secrets "system-seed" is forbidden: User "system:serviceaccount:workbench:notebook" cannot get '
            'resource "secrets" in API group "" in the namespace "3scale")') in str(info.value)


def test_applying_into_a_missing_namespace_says_which_notebook_creates_it(settings, clock) -> None:
    kube = cluster()
    with pytest.raises(MaasError) as info:
        platform(settings, kube, clock).ensure_policy_secret()
    assert str(info.value) == ("namespace 3scale does not exist, so Secret apicast-policy-llm-metrics-1-0-0 cannot be "
                               "applied; create it first (notebook 1 / ensure_namespace, notebook 9 for the SSO "
                               "namespace)")


@needs_schemas
def test_inside_the_apimanager_spec_the_server_keeps_a_top_level_typo_and_drops_a_nested_one() -> None:
    """Problem 6: Strict does not guard the APIManager's `spec` (it preserves unknown fields), so a typo there
    is not an error from the server; tests/unit/test_crd_validation.py's strict walk is what catches it."""
    from maas_helpers import crdcheck

    from harness.kube_api import schemas

    kube = cluster()
    kube.put(kit_object(mf.namespace("3scale")))
    am = mf.apimanager("3scale", "apps.example.com", "maas", "ocs-storagecluster-cephfs")
    am["spec"]["wildcardDomian"] = "typo.example.com"
    am["spec"]["apicast"]["stagingSpecc"] = {"replicas": 2}
    stored = kube.apply(am)  # accepted: no 500, no 422
    assert stored["spec"]["wildcardDomian"] == "typo.example.com" and "stagingSpecc" not in stored["spec"]["apicast"]
    by_kind, _ = schemas()
    schema = by_kind[("apps.3scale.net/v1alpha1", "APIManager")]
    assert crdcheck.pruned_fields(am, schema, strict=True) == ["spec.apicast.stagingSpecc", "spec.wildcardDomian"]
