"""Rendered Kubernetes objects: exact shapes, validation, and the committed YAML staying in sync."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from maas_helpers import manifests as m
from maas_helpers.config import make_settings
from maas_helpers.manifests import ManifestError, validate_manifest

REPO = Path(__file__).resolve().parents[2]
POLICY_JSON = REPO / "policies" / "llm-metrics" / "1.0.0" / "apicast-policy.json"


def _settings():
    return make_settings(
        target="openshift",
        cluster_domain="apps.cluster-abc.example.com",
        namespace="my-3scale",
        tenant="acme",
        storage_class="cephfs-rwx",
        operator_channel="threescale-2.15",
        sso_namespace="sso",
        models=[{"name": "granite", "url": "http://granite-predictor.llm:8080", "kind": "chat"}],
    )


def test_committed_yaml_equals_rendered_output() -> None:
    for rel, text in m.rendered_files().items():
        path = REPO / "manifests" / rel
        assert path.exists(), f"manifests/{rel} missing; run python -m maas_helpers.manifests"
        assert path.read_text(encoding="utf-8") == text, (
            f"manifests/{rel} drifted; run python -m maas_helpers.manifests"
        )
    assert m.main(["--check"]) == 0


def test_realm_yaml_is_not_written_here() -> None:
    assert "sso/realm.yaml" not in m.rendered_files()


def test_operator_group_targets_only_the_3scale_namespace() -> None:
    og = m.operator_group("my-3scale")
    assert og["apiVersion"] == "operators.coreos.com/v1"
    assert og["metadata"]["namespace"] == "my-3scale"
    assert og["spec"] == {"targetNamespaces": ["my-3scale"]}


def test_subscription_fields() -> None:
    sub = m.subscription("my-3scale", "threescale-2.15", "Manual")
    assert sub["spec"] == {
        "name": "3scale-operator",
        "source": "redhat-operators",
        "sourceNamespace": "openshift-marketplace",
        "channel": "threescale-2.15",
        "installPlanApproval": "Manual",
    }
    assert sub["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "maas-helpers"


def test_apimanager_spec_from_settings() -> None:
    objs = {o["kind"]: o for o in m.threescale_manifests(_settings())}
    am = objs["APIManager"]
    secret = objs["Secret"]
    assert am["apiVersion"] == "apps.3scale.net/v1alpha1"
    assert am["metadata"] == {
        "name": "apimanager",
        "namespace": "my-3scale",
        "labels": {"app.kubernetes.io/managed-by": "maas-helpers", "app.kubernetes.io/part-of": "maas"},
    }
    spec = am["spec"]
    assert spec["wildcardDomain"] == "apps.cluster-abc.example.com"
    assert spec["tenantName"] == "acme"
    assert spec["resourceRequirementsEnabled"] is False
    assert spec["system"]["fileStorage"]["persistentVolumeClaim"]["storageClassName"] == "cephfs-rwx"
    manifest = json.loads(POLICY_JSON.read_text())
    expected = [
        {"name": "llm-metrics", "version": manifest["version"], "secretRef": {"name": secret["metadata"]["name"]}}
    ]
    assert spec["apicast"]["stagingSpec"]["customPolicies"] == expected
    assert spec["apicast"]["productionSpec"]["customPolicies"] == expected
    assert objs["Subscription"]["spec"]["channel"] == "threescale-2.15"


def test_policy_secret_holds_every_policy_file_and_the_watched_by_label() -> None:
    secret = m.policy_secret("my-3scale")
    assert secret["metadata"]["labels"]["apimanager.apps.3scale.net/watched-by"] == "apimanager"
    files = {p.name for p in POLICY_JSON.parent.iterdir() if p.is_file()}
    assert set(secret["stringData"]) == files
    assert {"apicast-policy.json", "init.lua"} <= files
    assert json.loads(secret["stringData"]["apicast-policy.json"]) == json.loads(POLICY_JSON.read_text())


def test_custom_policy_definition_uses_the_real_schema() -> None:
    cpd = m.custom_policy_definition("my-3scale")
    manifest = json.loads(POLICY_JSON.read_text())
    assert cpd["spec"]["name"] == "llm-metrics"
    assert cpd["spec"]["schema"]["configuration"] == manifest["configuration"]
    assert "someAttr" not in json.dumps(cpd)  # not the operator placeholder the guide used


def test_keycloak_pieces() -> None:
    objs = m.sso_manifests(_settings(), realm={"realm": "maas", "enabled": True})
    kinds = [(o["kind"], o["metadata"].get("namespace")) for o in objs]
    assert kinds == [
        ("Namespace", None),
        ("OperatorGroup", "sso"),
        ("Subscription", "sso"),
        ("Keycloak", "sso"),
        ("KeycloakRealmImport", "sso"),
    ]
    sub, kc, imp = objs[2], objs[3], objs[4]
    assert sub["spec"]["name"] == "rhbk-operator" and sub["spec"]["channel"] == "stable-v26"
    assert kc["apiVersion"] == "k8s.keycloak.org/v2alpha1"
    assert kc["spec"]["hostname"]["hostname"] == "keycloak-sso.apps.cluster-abc.example.com"
    assert imp["spec"] == {"keycloakCRName": "keycloak", "realm": {"realm": "maas", "enabled": True}}
    for obj in objs:
        validate_manifest(obj)


def test_realm_import_needs_a_realm_name() -> None:
    with pytest.raises(ManifestError, match="realm"):
        m.keycloak_realm_import("sso", {"enabled": True})


def test_every_rendered_object_validates() -> None:
    for obj in m.threescale_manifests(_settings()) + m.sso_manifests(_settings()):
        assert validate_manifest(obj) is obj


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda o: o.pop("apiVersion"), "apiVersion"),
        (lambda o: o.update(kind="Deployment"), "not a kind the kit manages"),
        (lambda o: o["metadata"].update(name="API_Manager"), "metadata.name"),
        (lambda o: o["metadata"].pop("namespace"), "metadata.namespace"),
        (lambda o: o["spec"].pop("wildcardDomain"), "spec.wildcardDomain is required"),
        (lambda o: o["spec"].update(wildcardDomain="https://console.example.com"), "wildcardDomain"),
        (lambda o: o["spec"]["apicast"]["stagingSpec"]["customPolicies"][0].pop("secretRef"), "secretRef.name"),
    ],
)
def test_validate_rejects_broken_apimanager(mutate, message) -> None:
    obj = copy.deepcopy(m.apimanager("3scale", "apps.example.com", "maas", "cephfs"))
    mutate(obj)
    with pytest.raises(ManifestError, match=message) as info:
        validate_manifest(obj)
    assert "\n" not in str(info.value)


def test_validate_rejects_bad_subscription_and_namespace() -> None:
    sub = m.subscription("3scale", "threescale-2.16")
    sub["spec"]["installPlanApproval"] = "Sometimes"
    with pytest.raises(ManifestError, match="installPlanApproval"):
        validate_manifest(sub)
    sub = m.subscription("3scale", "")
    with pytest.raises(ManifestError, match="spec.channel"):
        validate_manifest(sub)
    ns = m.namespace("3scale")
    ns["metadata"]["namespace"] = "x"
    with pytest.raises(ManifestError, match="cluster-scoped"):
        validate_manifest(ns)
    cpd = m.custom_policy_definition("3scale")
    del cpd["spec"]["schema"]["configuration"]
    with pytest.raises(ManifestError, match="configuration"):
        validate_manifest(cpd)


def test_committed_files_parse_as_valid_manifests() -> None:
    for rel in m.rendered_files():
        for doc in yaml.safe_load_all((REPO / "manifests" / rel).read_text()):
            validate_manifest(doc)
