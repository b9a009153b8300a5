"""The OpenShift platform against a real cluster. Skipped unless MAAS_KUBECONFIG (or KUBECONFIG pointing to an
existing file) is set. Read-only by default: identity, access reviews, server-side dry-run of every rendered
manifest. Set MAAS_OPENSHIFT_APPLY=1 (cluster admin, throwaway cluster) to run the install steps for real."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from maas_helpers import manifests as mf
from maas_helpers.config import make_settings

pytestmark = pytest.mark.openshift


def _kubeconfig() -> str | None:
    explicit = os.environ.get("MAAS_KUBECONFIG")
    if explicit:
        return explicit
    env = os.environ.get("KUBECONFIG")
    return env if env and Path(env).is_file() else None


KUBECONFIG = _kubeconfig()
if KUBECONFIG is None:
    pytest.skip(
        "openshift: no kubeconfig configured (set MAAS_KUBECONFIG, or KUBECONFIG to an existing file)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def settings():
    return make_settings(
        target="openshift",
        cluster_domain=os.environ.get("MAAS_CLUSTER_DOMAIN", "apps.cluster.example.com"),
        namespace=os.environ.get("MAAS_NAMESPACE", "3scale"),
        kubeconfig=KUBECONFIG,
        verify_tls=os.environ.get("MAAS_VERIFY_TLS", "1") != "0",
        models=[{"name": "granite", "url": "http://granite-predictor.llm:8080"}],
    )


@pytest.fixture(scope="module")
def kube(settings):
    from maas_helpers.kube import Kube

    return Kube.connect(settings.kubeconfig, verify_tls=settings.verify_tls, ca_bundle=settings.ca_bundle)


def test_identity_and_access_review(kube) -> None:
    assert kube.whoami()
    review = kube.self_subject_access_review("get", "", "namespaces", None)
    assert isinstance(review.allowed, bool)


def _database_objects(settings) -> list[dict]:
    """The database step's objects with throwaway credentials (dry-run only: nothing is stored)."""
    fake = {"username": "dryrun", "password": "dry-run-only", "database": "dryrun"}
    objs = [o for db in mf.THREESCALE_DATABASES for o in mf.database_objects(settings.namespace, db, fake)]
    creds = {db.name: fake for db in mf.THREESCALE_DATABASES}
    objs += mf.operator_database_secrets(settings.namespace, mf.kit_database_urls(settings.namespace, creds))
    objs += mf.database_objects(settings.sso_namespace, mf.KEYCLOAK_DATABASE, fake)
    return objs


def test_rendered_manifests_pass_server_side_dry_run(kube, settings) -> None:
    served = 0
    rendered = mf.threescale_manifests(settings) + mf.sso_manifests(settings, {"realm": "maas", "enabled": True})
    for obj in _database_objects(settings) + rendered:
        api_version, kind = obj["apiVersion"], obj["kind"]
        ns = obj["metadata"].get("namespace")
        if kind != "Namespace" and ns and kube.get("v1", "Namespace", ns) is None:
            continue  # dry-run cannot create into a namespace that does not exist
        try:
            kube._resource(api_version, kind)  # noqa: SLF001 - skip kinds whose operator is not installed
        except Exception:
            continue
        kube.apply(obj, dry_run=True)
        served += 1
    assert served >= 1


@pytest.mark.skipif(os.environ.get("MAAS_OPENSHIFT_APPLY") != "1", reason="set MAAS_OPENSHIFT_APPLY=1 to install")
def test_install_steps_for_real(settings) -> None:
    from maas_helpers.platform.openshift import OpenShiftPlatform

    p = OpenShiftPlatform(settings)
    p.ensure_namespace()
    p.ensure_operator()
    p.ensure_policy_secret()
    databases = p.ensure_databases()
    assert {a.name for a in databases.actions if a.kind == "Secret"} >= {
        f"{settings.namespace}/{n}" for n in mf.OPERATOR_SECRET_KEYS
    }
    p.ensure_apimanager()
    p.wait_for_apimanager()
    status = p.apimanager_status()
    assert status["available"] and status["ready"] and not status["not_ready"], status
    assert p.ensure_custom_policy_definition().actions
    creds = p.admin_credentials()
    assert creds.admin_url.startswith("https://")
    assert p.ensure_policy_secret().in_sync  # re-applying changes nothing
