"""The OpenShift platform against a real cluster (`-m openshift`). Skipped unless MAAS_KUBECONFIG (or KUBECONFIG
pointing to an existing file) is set.

By default it writes nothing that stays: identity, access reviews, and a server-side dry-run
(`dryRun=All`, strict field validation) of EVERY object the kit applies — captured from the platform itself
(tests/harness/kube_api.every_applied_object) — each asserted on its own. Dry-run cannot create into a
namespace that does not exist, so namespaced objects are dry-run in a temporary namespace the test creates and
deletes (a cluster admin, or anyone who may create namespaces); the two Namespace objects are dry-run as they
are. A kind whose CRD is not installed fails its case with the kind named: install the operators' CRDs first.
Set MAAS_OPENSHIFT_APPLY=1 (cluster admin, throwaway cluster) to run the install steps for real.
"""

from __future__ import annotations

import copy
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from maas_helpers import manifests as mf
from maas_helpers.config import make_settings

from harness.kube_api import every_applied_object

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

SETTINGS = make_settings(
    target="openshift",
    cluster_domain=os.environ.get("MAAS_CLUSTER_DOMAIN", "apps.cluster.example.com"),
    namespace=os.environ.get("MAAS_NAMESPACE", "3scale"),
    kubeconfig=KUBECONFIG,
    verify_tls=os.environ.get("MAAS_VERIFY_TLS", "1") != "0",
    models=[{"name": "granite", "url": "http://granite-predictor.llm:8080"}],
)
OBJECTS = every_applied_object(SETTINGS)


@pytest.fixture(scope="module")
def settings():
    return SETTINGS


@pytest.fixture(scope="module")
def kube(settings):
    from maas_helpers.kube import Kube

    return Kube.connect(settings.kubeconfig, verify_tls=settings.verify_tls, ca_bundle=settings.ca_bundle)


@pytest.fixture(scope="module")
def scratch(kube) -> Iterator[str]:
    """A temporary namespace for the namespaced dry-runs, deleted afterwards."""
    name = f"maas-dryrun-{secrets.token_hex(3)}"
    kube.apply(mf.namespace(name))
    try:
        yield name
    finally:
        kube.delete("v1", "Namespace", name)


def test_identity_and_access_review(kube) -> None:
    assert kube.whoami()
    review = kube.self_subject_access_review("get", "", "namespaces", None)
    assert isinstance(review.allowed, bool)


def _missing(sent: Any, back: Any, path: str = "") -> list[str]:
    """Paths present in what the kit sent but absent from what the server answered (pruned fields)."""
    if isinstance(sent, dict) and isinstance(back, dict):
        return [p for k, v in sent.items() for p in
                ([f"{path}.{k}"] if k not in back else _missing(v, back[k], f"{path}.{k}"))]
    if isinstance(sent, list) and isinstance(back, list) and len(sent) == len(back):
        return [p for i, (a, b) in enumerate(zip(sent, back, strict=True)) for p in _missing(a, b, f"{path}[{i}]")]
    return []


@pytest.mark.parametrize(
    "obj", OBJECTS, ids=[f"{o['kind']}-{o['metadata'].get('namespace', '')}-{o['metadata']['name']}" for o in OBJECTS]
)
def test_every_object_the_kit_applies_passes_a_server_side_dry_run(obj, kube, scratch) -> None:
    sent = copy.deepcopy(obj)
    if sent["kind"] != "Namespace":
        sent["metadata"]["namespace"] = scratch
    if not kube.serves(sent["apiVersion"], sent["kind"]):
        pytest.fail(f"the cluster does not serve {sent['kind']} ({sent['apiVersion']}): install its CRD/operator")
    back = kube.apply(sent, dry_run=True)  # raises with the server's reason on any rejection (Strict)
    assert back["kind"] == sent["kind"] and back["metadata"]["name"] == sent["metadata"]["name"]
    body = {k: v for k, v in sent.items() if k not in ("metadata", "status", "stringData")}
    assert _missing(body, back) == [], "the server dropped fields the kit sent"
    assert _missing(sent["metadata"].get("labels") or {}, back["metadata"].get("labels") or {}) == []


def test_the_capture_covers_every_step(settings) -> None:
    kinds = {o["kind"] for o in OBJECTS}
    assert {"Namespace", "OperatorGroup", "Subscription", "Secret", "PersistentVolumeClaim", "Service", "Deployment",
            "APIManager", "CustomPolicyDefinition", "Keycloak", "KeycloakRealmImport"} <= kinds


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
    assert status["available"] and status["ready"] and not status["not_ready"], status["summary"]
    assert p.ensure_custom_policy_definition().actions
    creds = p.admin_credentials()
    assert creds.admin_url.startswith("https://")
    assert p.ensure_policy_secret().in_sync  # re-applying changes nothing
    assert p.ensure_databases().writes == 0  # nor does re-applying the databases (PVC status included)
