"""Who may run which notebook: the RBAC precheck at the `kubernetes` boundary (issue 25, problems 2 and 3).

The fake API server (tests/harness/kube_api.py) answers access reviews and requests with the same RBAC, and a
denied request with kube-apiserver's Forbidden text. The identities mirror the issue's three: a cluster admin,
a project admin (`admin` bound in the namespace, with OLM's aggregated rules from operator-lifecycle-manager
deploy/chart/templates/0000_50_olm_09-aggregated.clusterrole.yaml), and a user with no rights.
"""

from __future__ import annotations

from typing import Any

import pytest

from maas_helpers import manifests as mf
from maas_helpers.config import make_settings
from maas_helpers.errors import MaasError
from maas_helpers.platform.openshift import OpenShiftPlatform
from maas_helpers.results import Change

from harness.kube_api import WHO, FakeClock, FakeKube, QuietProgress, kit_object, nobody, project_admin

OLM = "operators.coreos.com"


@pytest.fixture
def settings():
    return make_settings(target="openshift", cluster_domain="apps.example.com",
                         models=[{"name": "granite", "url": "http://granite-predictor.llm:8080"}])


def platform(settings, kube: FakeKube, **kw: Any) -> OpenShiftPlatform:
    clock = FakeClock()
    return OpenShiftPlatform(settings, kube, clock=clock, sleep=clock.sleep, progress=QuietProgress, **kw)


def with_namespaces(kube: FakeKube, *names: str, owned: bool = True) -> FakeKube:
    for name in names:
        kube.put(kit_object(mf.namespace(name)) if owned else mf.namespace(name) | {"metadata": {"name": name}})
    return kube


def test_a_user_who_cannot_read_namespaces_gets_the_namespace_advice_not_a_raw_403(settings) -> None:
    """Problem 2: the namespace used to be read before the permission check."""
    kube = FakeKube()
    kube.rbac = nobody
    with pytest.raises(MaasError) as info:
        platform(settings, kube).ensure_namespace()
    msg = str(info.value)
    assert msg.startswith(f"{WHO} cannot create namespaces (cluster-wide), patch namespaces in 3scale, needed "
                          "by notebook 1 (3scale operator)")
    assert "ask a cluster admin to run notebook 1 (3scale operator) with their own login" in msg
    assert "forbidden" not in msg and kube.requests == []  # nothing was even read


def test_a_project_admin_uses_the_namespace_an_admin_made(settings) -> None:
    kube = with_namespaces(FakeKube(), "3scale", owned=False)
    kube.rbac = project_admin("3scale")
    result = platform(settings, kube).ensure_namespace()
    assert [(a.kind, a.change) for a in result.actions] == [("Namespace", Change.SKIPPED)]
    assert kube.applied == []


def test_project_admin_is_told_a_cluster_admin_must_run_notebook_1(settings) -> None:
    """Problem 3: `admin` cannot create or patch OperatorGroups (OLM's aggregated roles only read them), so
    suggesting `add-role-to-user admin` to a project admin is wrong advice."""
    kube = with_namespaces(FakeKube(), "3scale")
    kube.rbac = project_admin("3scale")
    with pytest.raises(MaasError) as info:
        platform(settings, kube).ensure_operator()
    msg = str(info.value)
    assert msg.startswith(f"{WHO} cannot create operatorgroups.{OLM} in 3scale, patch operatorgroups.{OLM} in "
                          "3scale, needed by notebook 1 (3scale operator) (installing the 3scale operator)")
    assert "granted by cluster-admin (OLM's aggregated admin/edit roles only read OperatorGroups)" in msg
    assert "ask a cluster admin to run notebook 1 (3scale operator) with their own login" in msg
    assert "add-role-to-user admin" not in msg and "\n" not in msg
    assert kube.applied == [] and kube.dry_runs == []


def test_manual_approval_needs_patch_installplans_and_is_checked_before_anything_is_created(settings) -> None:
    """Problem 3: the check passed, an OperatorGroup and a Subscription were created, then the approval hit 403."""
    kube = with_namespaces(FakeKube(), "3scale")
    kube.denied.add(("patch", OLM, "installplans", "3scale"))
    with pytest.raises(MaasError) as info:
        platform(settings, kube, install_plan_approval="Manual").ensure_operator()
    msg = str(info.value)
    assert f"cannot patch installplans.{OLM} in 3scale" in msg
    assert "cluster-admin (OLM's aggregated admin/edit roles cannot approve InstallPlans)" in msg
    assert kube.applied == []
    # with Automatic approval nothing is approved, so patch installplans is not asked for
    kube.script("Subscription", "3scale-operator", "3scale", {"installedCSV": "3scale-operator.v0.12.3"})
    kube.script("ClusterServiceVersion", "3scale-operator.v0.12.3", "3scale", {"phase": "Succeeded"})
    platform(settings, kube).ensure_operator()
    assert not any(r[:3] == ("patch", OLM, "installplans") for r in kube.reviews[-8:])


def test_an_existing_operator_group_is_reused_without_create_and_reapplied_with_patch(settings) -> None:
    kube = with_namespaces(FakeKube(), "3scale")
    kube.denied.update({("create", OLM, "operatorgroups", "3scale"), ("patch", OLM, "operatorgroups", "3scale")})
    kube.put({"apiVersion": f"{OLM}/v1", "kind": "OperatorGroup",
              "metadata": {"name": "theirs", "namespace": "3scale"}, "spec": {}})
    kube.script("Subscription", "3scale-operator", "3scale", {"installedCSV": "3scale-operator.v0.12.3"})
    kube.script("ClusterServiceVersion", "3scale-operator.v0.12.3", "3scale", {"phase": "Succeeded"})
    result = platform(settings, kube).ensure_operator()
    og = [a for a in result.actions if a.kind == "OperatorGroup"][0]
    assert og.change is Change.SKIPPED and "used as it is (targets all)" in og.detail
    assert not any(r[2] == "operatorgroups" and r[0] != "list" for r in kube.reviews)
    # the kit's own OperatorGroup is re-applied with server-side apply: that is a patch
    kube2 = with_namespaces(FakeKube(), "3scale")
    kube2.put(kit_object(mf.operator_group("3scale")))
    kube2.denied.add(("patch", OLM, "operatorgroups", "3scale"))
    with pytest.raises(MaasError, match=f"cannot patch operatorgroups.{OLM} in 3scale, needed by notebook 1"):
        platform(settings, kube2).ensure_operator()


def test_a_project_admin_of_the_sso_namespace_is_told_about_notebook_9(settings) -> None:
    kube = with_namespaces(FakeKube(), "rhbk")
    kube.rbac = project_admin("rhbk")
    with pytest.raises(MaasError) as info:
        platform(settings, kube).ensure_sso({"realm": "maas"})
    msg = str(info.value)
    assert f"cannot create operatorgroups.{OLM} in rhbk" in msg and f"patch installplans.{OLM} in rhbk" in msg
    assert "needed by notebook 9 (SSO)" in msg and "ask a cluster admin to run notebook 9 (SSO)" in msg


def test_a_user_without_rights_hears_every_need_of_the_step_at_once(settings) -> None:
    kube = with_namespaces(FakeKube(), "3scale")
    kube.rbac = nobody
    with pytest.raises(MaasError) as info:
        platform(settings, kube).ensure_operator()
    msg = str(info.value)
    for need in (f"list operatorgroups.{OLM}", f"get subscriptions.{OLM}", f"create subscriptions.{OLM}",
                 f"create operatorgroups.{OLM}"):
        assert f"{need} in 3scale" in msg
    assert kube.requests == []


def test_destroy_checks_every_delete_first_and_a_project_admin_deletes_nothing(settings) -> None:
    """Problem 3: destroy() had no precheck; as a project admin it deleted part and stopped on a 403."""
    kube = with_namespaces(FakeKube(), "3scale", "rhbk")
    kube.put(kit_object(mf.operator_group("3scale")))
    kube.put(kit_object(mf.policy_secret("3scale")))
    kube.rbac = project_admin("3scale", "rhbk")
    with pytest.raises(MaasError) as info:
        platform(settings, kube).destroy()
    msg = str(info.value)
    assert f"cannot delete operatorgroups.{OLM} in 3scale" in msg and "delete namespaces in 3scale" in msg
    assert "needed by notebook 99 (teardown)" in msg and "ask a cluster admin to run notebook 99" in msg
    assert kube.deleted == []


def test_a_destroy_stopped_half_way_lists_what_it_deleted_and_what_is_left(settings) -> None:
    """A network error (or 403) in the middle: the result keeps the record; the next run finishes the job."""
    from harness.kube_api import api_error

    kube = with_namespaces(FakeKube(), "3scale", "rhbk")
    for obj in (mf.policy_secret("3scale"), mf.operator_group("3scale"), mf.custom_policy_definition("3scale")):
        kube.put(kit_object(obj))
    kube.fail_next[("delete", "Secret")] = api_error(503, "ServiceUnavailable", "etcdserver: request timed out")
    p = platform(settings, kube)
    result = p.destroy()
    rows = [(a.kind, a.name, a.change) for a in result.actions]
    assert rows[0] == ("CustomPolicyDefinition", "3scale/llm-metrics-1-0-0", Change.DELETED)
    assert rows[1][:2] == ("Secret", "3scale/apicast-policy-llm-metrics-1-0-0") and rows[1][2] is Change.FAILED
    assert "503" in result.actions[1].detail and "etcdserver: request timed out" in result.actions[1].detail
    assert [r[:2] for r in rows[2:]] == [("OperatorGroup", "3scale/3scale-operator-group"), ("Namespace", "rhbk"),
                                         ("Namespace", "3scale")]
    assert all(a.detail == "left: not deleted (destroy stopped above)" for a in result.actions[2:])
    assert "deleted 1 of 5 objects, 4 left" in result.notes[0]
    again = p.destroy()
    assert {(a.kind, a.change) for a in again.actions} == {
        ("Secret", Change.DELETED), ("OperatorGroup", Change.DELETED), ("Namespace", Change.DELETED)}
