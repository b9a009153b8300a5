"""OpenShift platform at the `kubernetes` boundary (the real `Kube` over tests/harness/kube_api.py's fake API
server): exact objects applied, waits over simulated status sequences.

Operator behaviour replayed here follows the 3scale operator at tag 3scale-2.16.3-GA
(controllers/apps/apimanager_controller.go preflights; apimanager_status_reconciler.go conditions) and the
RHBK 26.0 CRDs (Keycloak spec.db, KeycloakRealmImport spec.placeholders)."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from maas_helpers import manifests as mf
from maas_helpers.config import make_settings
from maas_helpers.errors import MaasError
from maas_helpers.ownership import cluster_labels
from maas_helpers.platform.openshift import OpenShiftPlatform
from maas_helpers.results import Change

from harness.kube_api import WHO, FakeKube

CSV = "3scale-operator.v0.12.3"


def kit(obj: dict[str, Any], instance: str = "3scale") -> dict[str, Any]:
    """The object as the kit sends it: with its ownership labels for ``instance``."""
    out = copy.deepcopy(obj)
    out["metadata"].setdefault("labels", {}).update(cluster_labels(instance))
    return out


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


class RecordingProgress:
    def __init__(self, title: str) -> None:
        self.updates: list[tuple[int, int, str]] = []
        self.closed = False
        RecordingProgress.last = self

    def update(self, ready: int, total: int, waiting: str = "") -> None:
        self.updates.append((ready, total, waiting))

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def settings():
    return make_settings(
        target="openshift",
        cluster_domain="apps.cluster-abc.example.com",
        models=[{"name": "granite", "url": "http://granite-predictor.llm:8080", "kind": "chat"}],
    )


@pytest.fixture
def kube() -> FakeKube:
    """A cluster where the kit's two namespaces exist (as notebook 1 / ensure_sso leave them)."""
    fake = FakeKube()
    for name in ("3scale", "rhbk"):
        fake.put(kit(mf.namespace(name)))
    return fake


@pytest.fixture
def fresh() -> FakeKube:
    """A cluster without the kit's namespaces."""
    return FakeKube()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def platform(settings, kube, clock, **kw) -> OpenShiftPlatform:
    return OpenShiftPlatform(
        settings, kube, clock=clock, sleep=clock.sleep, poll_interval=5, progress=RecordingProgress, **kw
    )


def have_apimanager(kube: FakeKube) -> None:
    """The kit's APIManager, as ensure_apimanager() left it (its status comes from the test's script)."""
    kube.put(kit(mf.apimanager("3scale", "apps.cluster-abc.example.com", "maas", "ocs-storagecluster-cephfs")))


def add_storage_class(
    kube: FakeKube, name: str = "ocs-storagecluster-cephfs", provisioner: str = "openshift-storage.cephfs.csi.ceph.com"
):
    kube.put(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": name},
            "provisioner": provisioner,
        }
    )


# --- namespace ---------------------------------------------------------------------------------------


def test_namespace_created_then_unchanged(settings, fresh, clock) -> None:
    kube = fresh
    p = platform(settings, kube, clock)
    first = p.ensure_namespace()
    assert kube.applied == [kit(mf.namespace("3scale"))]
    assert [a.change for a in first.actions] == [Change.CREATED]
    second = p.ensure_namespace()
    assert len(kube.applied) == 1 and second.writes == 0 and second.in_sync


def test_existing_namespace_is_left_alone_and_not_destroyed(settings, fresh, clock) -> None:
    kube = fresh
    kube.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "3scale"}})
    p = platform(settings, kube, clock)
    assert p.ensure_namespace().writes == 0
    assert kube.applied == []
    p.destroy()
    assert ("Namespace", None, "3scale") not in kube.deleted


# --- operator ----------------------------------------------------------------------------------------


def test_operator_applies_exact_objects_and_waits_for_csv(settings, kube, clock) -> None:
    kube.script(
        "Subscription",
        "3scale-operator",
        "3scale",
        {},
        {"installPlanRef": {"name": "install-1"}},
        {"installPlanRef": {"name": "install-1"}, "installedCSV": CSV},
    )
    kube.script("InstallPlan", "install-1", "3scale", {"phase": "Installing"})
    kube.put(
        {
            "apiVersion": "operators.coreos.com/v1alpha1",
            "kind": "InstallPlan",
            "metadata": {"name": "install-1", "namespace": "3scale"},
            "spec": {"approval": "Automatic", "approved": True},
        }
    )
    kube.script(
        "ClusterServiceVersion", CSV, "3scale", {"phase": "Installing"}, {"phase": "Installing"}, {"phase": "Succeeded"}
    )
    result = platform(settings, kube, clock).ensure_operator()
    assert kube.applied == [
        kit(mf.operator_group("3scale")), kit(mf.subscription("3scale", "threescale-2.16", "Automatic"))
    ]
    assert kube.applied[1]["spec"]["channel"] == "threescale-2.16"
    waited = [a for a in result.actions if a.change is Change.WAITED]
    assert waited and waited[0].name == f"3scale/{CSV}" and "Succeeded" in waited[0].detail
    assert clock.sleeps >= 2 and kube.patched == []
    # the precheck ran before anything was applied
    assert ("create", "operators.coreos.com", "subscriptions", "3scale") in kube.reviews


def test_operator_status_reads_the_installed_csv_phase_and_the_policy_secret(settings, kube, clock) -> None:
    """kit.operator.status(): OLM's Subscription `status.installedCSV` → the CSV's `status.phase` (what the
    OLM console shows), before and after the install; nothing is written."""
    p = platform(settings, kube, clock)
    before = p.operator_status()
    assert (before["subscription"], before["installed_csv"], before["ready"]) == (None, None, False)
    assert before["phase"] == "no Subscription" and before["policy_secret"] is False
    kube.put(mf.subscription("3scale", "threescale-2.16", "Automatic"))
    kube.script("Subscription", "3scale-operator", "3scale", {"installedCSV": CSV})
    kube.script("ClusterServiceVersion", CSV, "3scale", {"phase": "Installing", "reason": "InstallWaiting"})
    installing = p.operator_status()
    assert installing["installed_csv"] == CSV and installing["phase"] == "Installing" and not installing["ready"]
    assert installing["channel"] == "threescale-2.16" and installing["reason"] == "InstallWaiting"
    kube.script("ClusterServiceVersion", CSV, "3scale", {"phase": "Succeeded"})
    kube.put(mf.policy_secret("3scale"))
    done = p.operator_status()
    assert done["ready"] and done["policy_secret"] and done["subscription"] == "3scale/3scale-operator"
    assert kube.applied == [] and kube.patched == []


def test_operator_timeout_names_pending_manual_install_plan(settings, kube, clock) -> None:
    kube.script("Subscription", "3scale-operator", "3scale", {"installPlanRef": {"name": "install-abc"}})
    kube.put(
        {
            "apiVersion": "operators.coreos.com/v1alpha1",
            "kind": "InstallPlan",
            "metadata": {"name": "install-abc", "namespace": "3scale"},
            "spec": {"approval": "Manual", "approved": False},
        }
    )
    p = platform(settings, kube, clock, install_plan_approval="Manual")
    with pytest.raises(MaasError) as info:
        p.ensure_operator(approve_install_plan=False, timeout=60)
    msg = str(info.value)
    assert "not installed after 60 s" in msg and "InstallPlan install-abc is pending manual approval" in msg
    assert "\n" not in msg and clock.now >= 60 and kube.patched == []
    assert kube.applied[1]["spec"]["installPlanApproval"] == "Manual"


def test_manual_install_plan_is_approved_when_asked(settings, kube, clock) -> None:
    kube.script(
        "Subscription",
        "3scale-operator",
        "3scale",
        {"installPlanRef": {"name": "install-abc"}},
        {"installPlanRef": {"name": "install-abc"}, "installedCSV": CSV},
    )
    kube.put(
        {
            "apiVersion": "operators.coreos.com/v1alpha1",
            "kind": "InstallPlan",
            "metadata": {"name": "install-abc", "namespace": "3scale"},
            "spec": {"approval": "Manual", "approved": False},
        }
    )
    kube.script("ClusterServiceVersion", CSV, "3scale", {"phase": "Succeeded"})
    result = platform(settings, kube, clock, install_plan_approval="Manual").ensure_operator()
    assert kube.patched == [("InstallPlan", "install-abc", {"spec": {"approved": True}})]
    assert any(a.kind == "InstallPlan" and a.detail == "approved" for a in result.actions)
    assert any(a.change is Change.WAITED for a in result.actions)


def test_failed_csv_reports_reason_and_message(settings, kube, clock) -> None:
    kube.script("Subscription", "3scale-operator", "3scale", {"installedCSV": CSV})
    kube.script(
        "ClusterServiceVersion",
        CSV,
        "3scale",
        {"phase": "Installing"},
        {"phase": "Failed", "reason": "InstallCheckFailed", "message": "install timeout"},
    )
    with pytest.raises(MaasError, match=r"Failed: InstallCheckFailed: install timeout"):
        platform(settings, kube, clock).ensure_operator()
    assert clock.now < 900  # failed fast, did not wait out the timeout


def test_timeout_names_image_pull_errors(settings, kube, clock) -> None:
    kube.script("Subscription", "3scale-operator", "3scale", {"installedCSV": CSV})
    kube.script("ClusterServiceVersion", CSV, "3scale", {"phase": "Installing", "reason": "InstallWaiting"})
    kube.put(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "threescale-operator-abc", "namespace": "3scale"},
            "status": {
                "containerStatuses": [
                    {"image": "registry.redhat.io/3scale/op:1", "state": {"waiting": {"reason": "ImagePullBackOff"}}}
                ]
            },
        }
    )
    with pytest.raises(MaasError) as info:
        platform(settings, kube, clock).ensure_operator(timeout=30)
    assert "CSV 3scale-operator.v0.12.3 is in phase Installing" in str(info.value)
    assert "threescale-operator-abc ImagePullBackOff registry.redhat.io/3scale/op:1" in str(info.value)


def test_missing_olm_permission_says_who_and_what(settings, kube, clock) -> None:
    kube.denied.add(("create", "operators.coreos.com", "subscriptions", "3scale"))
    with pytest.raises(MaasError) as info:
        platform(settings, kube, clock).ensure_operator()
    msg = str(info.value)
    assert msg.startswith(f"{WHO} cannot create subscriptions.operators.coreos.com in 3scale, needed by notebook 1")
    # subscriptions are in OLM's aggregated admin role: a project admin can grant it
    assert "granted by admin (or edit) in the namespace" in msg and f"add-role-to-user admin {WHO} -n 3scale" in msg
    assert "\n" not in msg and kube.applied == []


def test_existing_foreign_operator_group_is_reused(settings, kube, clock) -> None:
    kube.put(
        {
            "apiVersion": "operators.coreos.com/v1",
            "kind": "OperatorGroup",
            "metadata": {"name": "3scale-xyz", "namespace": "3scale"},
            "spec": {"targetNamespaces": ["3scale"]},
        }
    )
    kube.script("Subscription", "3scale-operator", "3scale", {"installedCSV": CSV})
    kube.script("ClusterServiceVersion", CSV, "3scale", {"phase": "Succeeded"})
    platform(settings, kube, clock).ensure_operator()
    assert [o["kind"] for o in kube.applied] == ["Subscription"]


# --- policy, storage, APIManager -----------------------------------------------------------------------


def test_policy_secret_and_idempotence(settings, kube, clock) -> None:
    p = platform(settings, kube, clock)
    first = p.ensure_policy_secret()
    assert kube.applied == [kit(mf.policy_secret("3scale"))]
    assert kube.applied[0]["metadata"]["labels"]["apimanager.apps.3scale.net/watched-by"] == "apimanager"
    assert first.actions[0].change is Change.CREATED
    assert p.ensure_policy_secret().actions[0].change is Change.UNCHANGED


def test_missing_storage_class_stops_before_the_apimanager(settings, kube, clock) -> None:
    add_storage_class(kube, "gp3-csi", "ebs.csi.aws.com")
    with pytest.raises(MaasError) as info:
        platform(settings, kube, clock).ensure_apimanager()
    msg = str(info.value)
    assert "StorageClass ocs-storagecluster-cephfs not found (cluster has: gp3-csi)" in msg
    assert "ReadWriteMany" in msg and "OpenShift Data Foundation" in msg
    assert kube.applied == []


def _b64d(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


def test_databases_deployed_by_the_kit_then_secret_then_exact_apimanager(settings, kube, clock) -> None:
    add_storage_class(kube)
    result = platform(settings, kube, clock).ensure_apimanager()
    kinds = [(o["kind"], o["metadata"]["name"]) for o in kube.applied]
    per_db = [
        [("Secret", db.secret), ("PersistentVolumeClaim", db.name), ("Service", db.name), ("Deployment", db.name)]
        for db in mf.THREESCALE_DATABASES
    ]
    assert kinds == [k for group in per_db for k in group] + [
        ("Secret", "system-database"),
        ("Secret", "system-redis"),
        ("Secret", "backend-redis"),
        ("Secret", "apicast-policy-llm-metrics-1-0-0"),
        ("APIManager", "apimanager"),
    ]
    sent = {o["metadata"]["name"]: o for o in kube.applied}
    creds = {db.name: _b64d(sent[db.secret]) for db in mf.THREESCALE_DATABASES}
    assert len({c["password"] for c in creds.values()}) == 4  # one generated password per database
    for db in mf.THREESCALE_DATABASES:
        assert sent[db.name] in (
            kit(mf.database_deployment("3scale", db)),
            kit(mf.database_service("3scale", db)),
            kit(mf.database_pvc("3scale", db)),
        )
    expected = [kit(o) for o in mf.operator_database_secrets("3scale", mf.kit_database_urls("3scale", creds))]
    assert [sent[o["metadata"]["name"]] for o in expected] == expected
    assert kube.applied[-1] == kit(mf.apimanager(
        "3scale", "apps.cluster-abc.example.com", "maas", "ocs-storagecluster-cephfs"
    ))
    assert kube.applied[-1]["spec"]["externalComponents"]["backend"] == {"redis": True}
    # What the kit created is reported by Secret name and keys; no generated value shows anywhere.
    rows = {a.name: a.detail for a in result.actions if a.kind == "Secret"}
    assert rows["3scale/system-redis"] == "keys REDIS_PASSWORD, URL (values masked)"
    shown = repr(result) + " ".join(f"{a.detail} {a.name}" for a in result.actions) + " ".join(result.notes)
    assert not any(c["password"] in shown for c in creds.values())
    assert any(a.kind == "Deployment" and a.change is Change.WAITED for a in result.actions)
    link = [a.link for a in result.actions if a.kind == "APIManager"][0]
    assert link == (
        "https://console-openshift-console.apps.cluster-abc.example.com/k8s/ns/3scale/"
        "apps.3scale.net~v1alpha1~APIManager/apimanager"
    )


def test_database_passwords_are_kept_on_reapply(settings, kube, clock) -> None:
    add_storage_class(kube)
    p = platform(settings, kube, clock)
    p.ensure_apimanager()
    first = {o["metadata"]["name"]: o for o in kube.applied}
    kube.applied.clear()
    kube.dry_runs.clear()
    again = p.ensure_databases()
    # the same Secrets (same passwords) are offered to the server, which finds nothing to change: no write
    assert {o["metadata"]["name"]: o for o in kube.dry_runs if o["kind"] == "Secret"} == {
        k: v for k, v in first.items() if v["kind"] == "Secret" and k != "apicast-policy-llm-metrics-1-0-0"
    }
    assert again.writes == 0 and kube.applied == []


def test_databases_given_by_the_user_are_copied_into_the_operator_secrets(kube, clock) -> None:
    s = make_settings(
        target="openshift",
        cluster_domain="apps.cluster-abc.example.com",
        databases="external",
        database_secret="my-databases",
        models=[{"name": "g", "url": "http://g:8080"}],
    )
    add_storage_class(kube)
    with pytest.raises(MaasError) as info:
        platform(s, kube, clock).ensure_apimanager()
    assert str(info.value).startswith(
        "Secret my-databases not found in 3scale; create it with keys SYSTEM_DATABASE_URL"
    )
    assert kube.applied == []  # nothing changed before the error
    urls = {
        "SYSTEM_DATABASE_URL": "postgresql://sys:pw@pg.db.svc:5432/system",
        "SYSTEM_REDIS_URL": "redis://redis-a.db.svc:6379/1",
        "BACKEND_REDIS_STORAGE_URL": "redis://redis-b.db.svc:6379/0",
        "BACKEND_REDIS_QUEUES_URL": "redis://redis-c.db.svc:6379/1",
        "SYSTEM_REDIS_PASSWORD": "rp",
    }
    kube.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "my-databases", "namespace": "3scale"},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in urls.items()},
        }
    )
    platform(s, kube, clock).ensure_apimanager()
    assert not [o for o in kube.applied if o["kind"] in ("Deployment", "PersistentVolumeClaim", "Service")]
    sent = {o["metadata"]["name"]: _b64d(o) for o in kube.applied if o["kind"] == "Secret"}
    assert sent["system-database"] == {"URL": "postgresql://sys:pw@pg.db.svc:5432/system"}
    assert sent["system-redis"] == {"URL": "redis://redis-a.db.svc:6379/1", "REDIS_PASSWORD": "rp"}
    assert sent["backend-redis"] == {
        "REDIS_STORAGE_URL": "redis://redis-b.db.svc:6379/0",
        "REDIS_QUEUES_URL": "redis://redis-c.db.svc:6379/1",
    }
    assert "externalComponents" in kube.applied[-1]["spec"]


def test_database_that_crashes_is_named_with_its_last_log_line(settings, kube, clock) -> None:
    add_storage_class(kube)
    kube.deployments_roll_out = False
    kube.put(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "maas-system-postgresql-7d9-x2", "namespace": "3scale"},
            "status": {
                "phase": "Running",
                "containerStatuses": [{"name": "postgresql", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}],
            },
        }
    )
    kube.logs["maas-system-postgresql-7d9-x2"] = "starting\nFATAL: data directory has wrong ownership"
    kube.put(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "maas-system-redis-5f-abc", "namespace": "3scale"},
            "spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "maas-system-redis"}}]},
            "status": {"phase": "Pending"},
        }
    )
    kube.put({**kit(mf.database_pvc("3scale", mf.THREESCALE_DATABASES[0])), "status": {"phase": "Pending"}})
    with pytest.raises(MaasError) as info:
        platform(settings, kube, clock).ensure_databases(timeout=60)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("not ready after 60 s (the step's timeout) in 3scale: maas-system-redis")
    assert "pod maas-system-postgresql-7d9-x2 CrashLoopBackOff, last log line: FATAL: data directory" in msg
    assert "pod maas-system-redis-5f-abc Pending on PVC maas-system-redis" in msg
    assert not any(o["kind"] == "APIManager" for o in kube.applied)


def test_non_rwx_storage_class_is_warned_about(settings, kube, clock) -> None:
    add_storage_class(kube, provisioner="ebs.csi.aws.com")
    result = platform(settings, kube, clock).ensure_apimanager()
    assert any("may not support ReadWriteMany" in n for n in result.notes)


def test_wait_for_apimanager_reports_progress(settings, kube, clock) -> None:
    have_apimanager(kube)
    kube.script(
        "APIManager",
        "apimanager",
        "3scale",
        {"deployments": {"starting": ["apicast-staging", "system-app"], "ready": ["backend-listener"]}},
        {"deployments": {"starting": ["system-app"], "ready": ["apicast-staging", "backend-listener"]}},
        {
            "deployments": {"ready": ["apicast-staging", "backend-listener", "system-app"]},
            "conditions": [{"type": "Available", "status": "True"}],
        },
    )
    result = platform(settings, kube, clock).wait_for_apimanager(timeout=600)
    bar = RecordingProgress.last
    assert [u[:2] for u in bar.updates] == [(1, 3), (2, 3), (3, 3)]
    assert bar.updates[0][2] == "apicast-staging, system-app" and bar.closed
    assert result.actions[0].change is Change.WAITED and "3 deployments ready" in result.actions[0].detail


def test_wait_for_apimanager_timeout_names_unready_deployments_and_pending_pvc(settings, kube, clock) -> None:
    have_apimanager(kube)
    kube.script(
        "APIManager",
        "apimanager",
        "3scale",
        {"deployments": {"starting": ["system-app", "system-sidekiq"], "ready": ["apicast-production"]}},
    )
    kube.put(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "system-storage", "namespace": "3scale"},
            "spec": {"storageClassName": "gp3-csi", "accessModes": ["ReadWriteMany"]},
            "status": {"phase": "Pending"},
        }
    )
    with pytest.raises(MaasError) as info:
        platform(settings, kube, clock).wait_for_apimanager(timeout=120)
    msg = str(info.value)
    assert "not Available after 120 s" in msg and "not ready: system-app, system-sidekiq" in msg
    assert "PVC Pending (ReadWriteMany): system-storage (gp3-csi) — needs an RWX StorageClass" in msg
    assert RecordingProgress.last.closed


PREFLIGHTS_FAILED = (
    "Preflights failed - cannot continue with the installation. External databases are required to be set in the "
    "APIManager for system Redis, backend Redis and system database - re-running preflights in 10 minutes"
)


def test_preflights_failure_is_one_line_within_one_poll(settings, kube, clock) -> None:
    have_apimanager(kube)
    # apimanager_status_reconciler.go: status False, reason still PreflightsPass, the cause in the message.
    kube.script(
        "APIManager",
        "apimanager",
        "3scale",
        {
            "conditions": [
                {"type": "Available", "status": "False"},
                {"type": "Preflights", "status": "False", "reason": "PreflightsPass", "message": PREFLIGHTS_FAILED},
            ]
        },
    )
    with pytest.raises(MaasError) as info:
        platform(settings, kube, clock).wait_for_apimanager(timeout=1800)
    msg = str(info.value)
    assert clock.sleeps == 0 and "\n" not in msg
    assert msg.startswith("APIManager apimanager in 3scale: Preflights failed - cannot continue")
    assert "External databases are required" in msg and "ensure_databases" in msg


def test_requirements_config_map_not_found_is_waited_out(settings, kube, clock) -> None:
    have_apimanager(kube)
    kube.script(
        "APIManager",
        "apimanager",
        "3scale",
        {
            "conditions": [
                {
                    "type": "Preflights",
                    "status": "False",
                    "reason": "PreflightsPass",
                    "message": "Requirement config map is not found yet, it should be generated shortly",
                }
            ]
        },
        {"conditions": [{"type": "Available", "status": "True"}, {"type": "Preflights", "status": "True"}]},
    )
    result = platform(settings, kube, clock).wait_for_apimanager(timeout=600)
    assert clock.sleeps == 1 and result.actions[0].change is Change.WAITED


def test_timeout_prints_false_conditions_with_reason_and_message(settings, kube, clock) -> None:
    have_apimanager(kube)
    kube.script(
        "APIManager",
        "apimanager",
        "3scale",
        {
            "conditions": [
                {
                    "type": "Available",
                    "status": "False",
                    "reason": "MissingWatchedSecrets",
                    "message": "Missing watched secrets: apicast-policy-llm-metrics-1-0-0",
                }
            ]
        },
    )
    with pytest.raises(MaasError) as info:
        platform(settings, kube, clock).wait_for_apimanager(timeout=60)
    assert "Available=False (MissingWatchedSecrets): Missing watched secrets: apicast-policy-llm-metrics-1-0-0" in str(
        info.value
    )


def _owned(name: str, generation: int, observed: int, ready: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": "3scale",
            "generation": generation,
            "ownerReferences": [{"kind": "APIManager", "name": "apimanager"}],
        },
        "spec": {"replicas": 1},
        "status": {
            "observedGeneration": observed,
            "updatedReplicas": 1 if ready else 0,
            "readyReplicas": 1 if ready else 0,
        },
    }


def test_stale_available_after_a_change_is_not_taken_as_ready(settings, kube, clock) -> None:
    add_storage_class(kube)
    p = platform(settings, kube, clock)
    p.ensure_apimanager()
    kube.objects[("apps.3scale.net/v1alpha1", "APIManager", "3scale", "apimanager")]["status"] = {
        "conditions": [{"type": "Available", "status": "True"}]
    }
    kube.put(_owned("apicast-production", 3, 3))
    changed = settings.model_copy(update={"tenant": "acme"})
    p.settings = changed
    assert p.ensure_apimanager().actions[-1].change is Change.UPDATED
    steps = iter(
        [
            lambda: kube.put(_owned("apicast-production", 4, 3)),  # operator patched it; controller not yet
            lambda: kube.put(_owned("apicast-production", 4, 4, ready=False)),  # rolling
            lambda: kube.put(_owned("apicast-production", 4, 4)),  # rolled out
        ]
    )

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        next(steps)()

    p.sleep = sleep
    result = p.wait_for_apimanager(timeout=600)
    # Available=True stood all along; only the rolled-out new generation counts as ready.
    assert clock.sleeps == 3 and result.actions[0].change is Change.WAITED
    assert [u[:2] for u in RecordingProgress.last.updates] == [(1, 1), (0, 1), (0, 1), (1, 1)]


def test_change_that_rolls_nothing_settles_after_a_few_polls(settings, kube, clock) -> None:
    add_storage_class(kube)
    p = platform(settings, kube, clock)
    kube.put(_owned("system-app", 2, 2))
    p.ensure_apimanager()
    kube.objects[("apps.3scale.net/v1alpha1", "APIManager", "3scale", "apimanager")]["status"] = {
        "conditions": [{"type": "Available", "status": "True"}]
    }
    p.wait_for_apimanager(timeout=600)
    assert clock.sleeps == 3  # SETTLE_POLLS
    p.wait_for_apimanager(timeout=600)  # nothing changed since: ready at once
    assert clock.sleeps == 3
    status = p.apimanager_status()
    assert status == {"available": True, "conditions": [], "ready": ["system-app"], "not_ready": [],
                      "summary": "Available, 1 deployments ready"}


def test_reapply_with_a_removed_policy_file_drops_it(settings, kube, clock, tmp_path) -> None:
    policy = tmp_path / "llm-metrics" / "1.0.0"
    policy.mkdir(parents=True)
    for f in mf.POLICY_DIR.iterdir():
        if f.is_file():
            (policy / f.name).write_text(f.read_text())
    (policy / "old_helper.lua").write_text("return {}\n")
    p = platform(settings, kube, clock, policy_dir=policy)
    p.ensure_policy_secret()
    key = ("v1", "Secret", "3scale", "apicast-policy-llm-metrics-1-0-0")
    assert "old_helper.lua" in kube.objects[key]["data"]
    (policy / "old_helper.lua").unlink()
    again = p.ensure_policy_secret()
    assert again.actions[0].change is Change.UPDATED
    data = kube.objects[key]["data"]
    assert "old_helper.lua" not in data
    assert set(data) == {f.name for f in policy.iterdir()}
    assert base64.b64decode(data["init.lua"]).decode() == (policy / "init.lua").read_text()


def test_custom_policy_definition_tolerates_failed_before_tenant(settings, kube, clock) -> None:
    p = platform(settings, kube, clock)
    result = p.ensure_custom_policy_definition()
    assert kube.applied == [kit(mf.custom_policy_definition("3scale"))]
    assert any("re-run this step after wait_for_apimanager" in n for n in result.notes)
    # once the APIManager is Available the step waits for Ready
    kube.put(
        {
            "apiVersion": "apps.3scale.net/v1alpha1",
            "kind": "APIManager",
            "metadata": {"name": "apimanager", "namespace": "3scale"},
            "status": {"conditions": [{"type": "Available", "status": "True"}]},
        }
    )
    name = mf.custom_policy_definition("3scale")["metadata"]["name"]
    kube.script(
        "CustomPolicyDefinition",
        name,
        "3scale",
        {"conditions": [{"type": "Failed", "status": "True", "message": "tenant not found"}]},
        {"conditions": [{"type": "Ready", "status": "True"}]},
    )
    again = p.ensure_custom_policy_definition()
    assert any(a.change is Change.WAITED for a in again.actions)


# --- credentials, SSO, destroy -------------------------------------------------------------------------


def _seed(kube: FakeKube) -> None:
    enc = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    kube.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "system-seed", "namespace": "3scale"},
            "data": {
                "ADMIN_ACCESS_TOKEN": enc("admin-token-0123456789abcdef"),
                "MASTER_ACCESS_TOKEN": enc("master-tok"),
            },
        }
    )


def test_admin_credentials_from_system_seed_and_routes(settings, kube, clock) -> None:
    _seed(kube)
    for host in ("maas-admin.apps.cluster-abc.example.com", "master.apps.cluster-abc.example.com"):
        kube.put(
            {
                "apiVersion": "route.openshift.io/v1",
                "kind": "Route",
                "metadata": {"name": host.split(".")[0], "namespace": "3scale"},
                "spec": {"host": host},
            }
        )
    creds = platform(settings, kube, clock).admin_credentials()
    assert creds.admin_url == "https://maas-admin.apps.cluster-abc.example.com"
    assert creds.admin_token.get_secret_value() == "admin-token-0123456789abcdef"
    assert creds.master_token is not None and creds.master_token.get_secret_value() == "master-tok"
    assert creds.portal_url == "https://maas.apps.cluster-abc.example.com"  # convention: no portal route listed
    assert "admin-token" not in repr(creds) and creds.verify_tls is True


def test_admin_credentials_without_seed_says_what_to_run(settings, kube, clock) -> None:
    with pytest.raises(MaasError, match="system-seed not found in 3scale.*wait_for_apimanager"):
        platform(settings, kube, clock).admin_credentials()


def test_tls_settings_flow_into_credentials_and_notes(kube, clock, tmp_path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    s = make_settings(
        target="openshift",
        cluster_domain="apps.example.com",
        ca_bundle=str(ca),
        models=[{"name": "g", "url": "http://g:8080"}],
    )
    _seed(kube)
    assert platform(s, kube, clock).admin_credentials().verify_tls == str(ca)
    off = make_settings(
        target="openshift",
        cluster_domain="apps.example.com",
        verify_tls=False,
        models=[{"name": "g", "url": "http://g:8080"}],
    )
    assert platform(off, kube, clock).admin_credentials().verify_tls is False
    assert any("TLS verification is OFF" in n for n in platform(off, kube, clock).ensure_namespace().notes)


def _rhbk_installed(kube: FakeKube, csvs: list[str]) -> None:
    kube.script(
        "Subscription",
        "rhbk-operator",
        "rhbk",
        {"installPlanRef": {"name": "install-k"}},
        {"installPlanRef": {"name": "install-k"}, "installedCSV": csvs[0]},
    )
    kube.put(
        {
            "apiVersion": "operators.coreos.com/v1alpha1",
            "kind": "InstallPlan",
            "metadata": {"name": "install-k", "namespace": "rhbk"},
            "spec": {"approval": "Manual", "approved": False, "clusterServiceVersionNames": csvs},
        }
    )
    kube.script("ClusterServiceVersion", csvs[0], "rhbk", {"phase": "Succeeded"})


def test_sso_installs_rhbk_keycloak_with_db_and_realm_placeholders(settings, fresh, clock) -> None:
    kube = fresh
    realm = {
        "realm": "maas",
        "enabled": True,
        "clients": [
            {
                "clientId": "3scale-portal",
                "secret": "client-s3cret",
                "redirectUris": ["https://maas.apps.cluster-abc.example.com/auth/keycloak/callback"],
            }
        ],
        "users": [{"username": "demo", "credentials": [{"type": "password", "value": "demo-pa55"}]}],
    }
    _rhbk_installed(kube, ["rhbk-operator.v26.0.5"])
    kube.script(
        "Keycloak",
        "keycloak",
        "rhbk",
        {"conditions": [{"type": "Ready", "status": "False", "observedGeneration": 1}]},
        {"conditions": [{"type": "Ready", "status": "True", "observedGeneration": 1}]},
    )
    kube.script("KeycloakRealmImport", "keycloak-maas", "rhbk", {"conditions": [{"type": "Done", "status": "True"}]})
    p = platform(settings, kube, clock)
    result = p.ensure_sso(realm)
    assert [(o["kind"], o["metadata"]["name"]) for o in kube.applied] == [
        ("Namespace", "rhbk"),
        ("OperatorGroup", "rhbk-operator-group"),
        ("Subscription", "rhbk-operator"),
        ("Secret", "keycloak-postgresql-credentials"),
        ("PersistentVolumeClaim", "keycloak-postgresql"),
        ("Service", "keycloak-postgresql"),
        ("Deployment", "keycloak-postgresql"),
        ("Keycloak", "keycloak"),
        ("Secret", "keycloak-maas-realm-secrets"),
        ("KeycloakRealmImport", "keycloak-maas"),
    ]
    assert kube.applied[2] == kit(mf.subscription("rhbk", "stable-v26.0", "Manual", package="rhbk-operator"))
    assert kube.patched == [("InstallPlan", "install-k", {"spec": {"approved": True}})]
    kc = kube.applied[7]
    assert kc == kit(mf.keycloak("rhbk", "apps.cluster-abc.example.com", db=mf.keycloak_db()))
    db_secret = _b64d(kube.applied[3])
    assert set(db_secret) == {"username", "password", "database"} and db_secret["database"] == "keycloak"
    imp = kube.applied[9]
    text = repr(imp)
    assert "client-s3cret" not in text and "demo-pa55" not in text  # secrets only in the Secret
    assert imp["spec"]["realm"]["clients"][0]["secret"] == "${CLIENT_3SCALE_PORTAL_SECRET}"
    assert imp["spec"]["placeholders"]["USER_DEMO_PASSWORD_0"] == {
        "secret": {"name": "keycloak-maas-realm-secrets", "key": "USER_DEMO_PASSWORD_0"}
    }
    assert _b64d(kube.applied[8]) == {
        "CLIENT_3SCALE_PORTAL_SECRET": "client-s3cret",
        "USER_DEMO_PASSWORD_0": "demo-pa55",
    }
    assert sum(a.change is Change.WAITED for a in result.actions) == 4  # CSV, database, Keycloak, import
    assert p.sso_realm_url("maas") == "https://keycloak-rhbk.apps.cluster-abc.example.com/realms/maas"
    deleted = {(a.kind, a.name) for a in p.destroy().actions if a.change is Change.DELETED}
    assert {
        ("KeycloakRealmImport", "rhbk/keycloak-maas"),
        ("Secret", "rhbk/keycloak-maas-realm-secrets"),
        ("Deployment", "rhbk/keycloak-postgresql"),
        ("PersistentVolumeClaim", "rhbk/keycloak-postgresql"),
        ("Secret", "rhbk/keycloak-postgresql-credentials"),
    } <= deleted


def test_rhbk_install_plan_for_another_csv_is_not_approved(settings, kube, clock) -> None:
    _rhbk_installed(kube, ["rhbk-operator.v26.2.1"])
    with pytest.raises(MaasError) as info:
        platform(settings, kube, clock).ensure_sso({"realm": "maas"})
    assert "would install rhbk-operator.v26.2.1, not rhbk-operator.v26.0.* (channel stable-v26.0)" in str(info.value)
    assert kube.patched == []


def test_rhbk_exact_csv_from_settings(kube, clock) -> None:
    s = make_settings(
        target="openshift",
        cluster_domain="apps.x.example.com",
        sso_csv="rhbk-operator.v26.0.6",
        models=[{"name": "g", "url": "http://g:8080"}],
    )
    _rhbk_installed(kube, ["rhbk-operator.v26.0.5"])
    with pytest.raises(MaasError, match="not rhbk-operator.v26.0.6"):
        platform(s, kube, clock).ensure_sso({"realm": "maas"})


def test_keycloak_ready_from_an_older_generation_does_not_count(settings, kube, clock) -> None:
    _rhbk_installed(kube, ["rhbk-operator.v26.0.5"])
    kube.put(
        kit({
            "apiVersion": "k8s.keycloak.org/v2alpha1",
            "kind": "Keycloak",
            "metadata": {"name": "keycloak", "namespace": "rhbk", "generation": 1},
            "spec": {"instances": 1},
        })
    )
    kube.script(
        "Keycloak",
        "keycloak",
        "rhbk",
        {
            "conditions": [
                {"type": "Ready", "status": "True", "observedGeneration": 1},
                {
                    "type": "HasErrors",
                    "status": "True",
                    "observedGeneration": 1,
                    "message": "Waiting for more replicas",
                },
            ]
        },
    )
    with pytest.raises(MaasError) as info:
        platform(settings, kube, clock).ensure_sso({"realm": "maas"}, timeout=30)
    msg = str(info.value)
    assert "Keycloak keycloak in rhbk not Ready after 30 s" in msg
    assert "Ready is from generation 1, not 2" in msg and "HasErrors=True: Waiting for more replicas" in msg


def test_keycloak_external_database_secret(kube, clock) -> None:
    s = make_settings(
        target="openshift",
        cluster_domain="apps.x.example.com",
        sso_database="external",
        sso_database_secret="kc-db",
        models=[{"name": "g", "url": "http://g:8080"}],
    )
    _rhbk_installed(kube, ["rhbk-operator.v26.0.5"])
    enc = lambda v: base64.b64encode(v.encode()).decode()  # noqa: E731
    kube.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "kc-db", "namespace": "rhbk"},
            "data": {"host": enc("pg.example"), "database": enc("kc"), "username": enc("u")},
        }
    )
    with pytest.raises(MaasError, match="Secret kc-db in rhbk lacks password"):
        platform(s, kube, clock).ensure_sso({"realm": "maas"})
    kube.objects[("v1", "Secret", "rhbk", "kc-db")]["data"]["password"] = enc("p")
    kube.script("Keycloak", "keycloak", "rhbk", {"conditions": [{"type": "Ready", "status": "True"}]})
    kube.script("KeycloakRealmImport", "keycloak-maas", "rhbk", {"conditions": [{"type": "Done", "status": "True"}]})
    platform(s, kube, clock).ensure_sso({"realm": "maas"})
    kc = next(o for o in kube.applied if o["kind"] == "Keycloak")
    assert kc["spec"]["db"] == mf.keycloak_db(host="pg.example", database="kc", port=5432, secret="kc-db")
    assert not any(o["kind"] == "Deployment" for o in kube.applied)


def test_realm_import_errors_are_reported(settings, kube, clock) -> None:
    kube.script("Subscription", "rhbk-operator", "rhbk", {"installedCSV": "rhbk.v26"})
    kube.script("ClusterServiceVersion", "rhbk.v26", "rhbk", {"phase": "Succeeded"})
    kube.script("Keycloak", "keycloak", "rhbk", {"conditions": [{"type": "Ready", "status": "True"}]})
    kube.script(
        "KeycloakRealmImport",
        "keycloak-maas",
        "rhbk",
        {"conditions": [{"type": "HasErrors", "status": "True", "message": "realm json invalid"}]},
    )
    with pytest.raises(MaasError, match="KeycloakRealmImport keycloak-maas in rhbk: realm json invalid"):
        platform(settings, kube, clock).ensure_sso({"realm": "maas"})


def test_destroy_removes_what_was_created(settings, kube, clock) -> None:
    p = platform(settings, kube, clock)
    add_storage_class(kube)
    p.ensure_namespace()
    kube.script("Subscription", "3scale-operator", "3scale", {"installedCSV": CSV})
    kube.script("ClusterServiceVersion", CSV, "3scale", {"phase": "Succeeded"})
    p.ensure_operator()
    p.ensure_apimanager()
    result = p.destroy()
    deleted = {(a.kind, a.name) for a in result.actions if a.change is Change.DELETED}
    assert {
        ("APIManager", "3scale/apimanager"),
        ("Secret", "3scale/apicast-policy-llm-metrics-1-0-0"),
        ("Subscription", "3scale/3scale-operator"),
        ("ClusterServiceVersion", f"3scale/{CSV}"),
        ("OperatorGroup", "3scale/3scale-operator-group"),
        ("Namespace", "3scale"),
        ("Secret", "3scale/system-database"),
        ("Deployment", "3scale/maas-system-postgresql"),
        ("PersistentVolumeClaim", "3scale/maas-backend-redis-queues"),
        ("Secret", "3scale/maas-system-redis-credentials"),
    } <= deleted
    assert kube.deleted[-1] == ("Namespace", None, "3scale")  # namespace last
    kube.statuses.clear()  # the operator is gone: nothing reports status any more
    again = p.destroy()  # the namespace is still Terminating
    assert again.writes == 0
    assert [(a.kind, a.change, a.detail) for a in again.actions] == [
        ("cluster", Change.UNCHANGED, "already gone: nothing on the cluster carries the kit's labels"),
        ("Namespace", Change.SKIPPED, "being deleted: wait until it is gone"),  # rhbk
        ("Namespace", Change.SKIPPED, "being deleted: wait until it is gone"),  # 3scale
    ]
    kube.finish_terminating()
    gone = p.destroy()
    assert gone.writes == 0 and [a.detail for a in gone.actions] == [
        "already gone: nothing on the cluster carries the kit's labels"
    ]


def test_sso_realm_is_read_back_from_the_import_and_its_secret_and_not_rewritten(settings, kube, clock) -> None:
    """The cluster's realm as reconcile observes it: the KeycloakRealmImport's spec.realm with the placeholders
    filled from the Secret its spec.placeholders name (RHBK 26.0 CRD); with write_realm=False neither is applied."""
    realm = {
        "realm": "maas",
        "clients": [{"clientId": "3scale-portal", "secret": 'client-s3cret"\\', "redirectUris": ["https://p/cb"]}],
        "users": [{"username": "demo", "credentials": [{"type": "password", "value": "demo-pa55"}]}],
    }
    _rhbk_installed(kube, ["rhbk-operator.v26.0.5"])
    kube.script("Keycloak", "keycloak", "rhbk", {"conditions": [{"type": "Ready", "status": "True"}]})
    p = platform(settings, kube, clock)
    assert p.sso_realm("maas") is None  # no import yet
    kube.script("KeycloakRealmImport", "keycloak-maas", "rhbk", {"conditions": [{"type": "Done", "status": "True"}]})
    p.ensure_sso(copy.deepcopy(realm))
    assert p.sso_realm("maas") == realm
    kube.applied.clear()
    kube.dry_runs.clear()
    p.ensure_sso(copy.deepcopy(realm), write_realm=False)
    assert kube.applied == []  # nothing changed: the server's dry-run found every object as it is
    offered = [o["kind"] for o in kube.dry_runs]
    assert "KeycloakRealmImport" not in offered and "Keycloak" in offered
    assert "keycloak-maas-realm-secrets" not in [o["metadata"]["name"] for o in kube.dry_runs]


def test_cluster_capabilities_reconcile_asks_for(settings, kube, clock) -> None:
    """The operator fills the registry from the CPD, porta has no switch API, registration follows the setting."""
    p = platform(settings, kube, clock)
    assert (p.policy_registry, p.provider_switches_api, p.sso_registration_allowed) == (
        "custom_policy_definition", False, False)
    allowed = settings.model_copy(update={"sso_registration": True})
    assert platform(allowed, kube, clock).sso_registration_allowed is True
