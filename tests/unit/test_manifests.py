"""Rendered Kubernetes objects: exact shapes, validation, and the committed YAML staying in sync."""

from __future__ import annotations

import base64
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
    # 2.16's preflights need all three external (controllers/apps/apimanager_controller.go,
    # externalDatabasesPreflightsChecks; doc/apimanager-reference.md ExternalComponentsSpec).
    assert spec["externalComponents"] == {"system": {"database": True, "redis": True}, "backend": {"redis": True}}


def test_internal_databases_only_on_2_15() -> None:
    s = _settings().model_copy(update={"databases": "internal"})
    am = next(o for o in m.threescale_manifests(s) if o["kind"] == "APIManager")
    assert "externalComponents" not in am["spec"]


def test_kit_database_urls_use_exactly_the_operator_keys() -> None:
    creds = {
        db.name: {"password": f"pw-{db.name}", "username": "system", "database": "system"}
        for db in m.THREESCALE_DATABASES
    }
    secrets = m.operator_database_secrets("3scale", m.kit_database_urls("3scale", creds))
    by_name = {s["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in s["data"].items()} for s in secrets}
    # doc/apimanager-reference.md "APIManager Secrets": system-database URL, system-redis URL,
    # backend-redis REDIS_STORAGE_URL and REDIS_QUEUES_URL; ACL passwords in their *_PASSWORD keys.
    assert set(by_name) == {"system-database", "system-redis", "backend-redis"}
    for name, keys in m.OPERATOR_SECRET_KEYS.items():
        assert set(by_name[name]) == set(keys)
    assert by_name["system-database"]["URL"] == (
        "postgresql://system:pw-maas-system-postgresql@maas-system-postgresql.3scale.svc:5432/system"
    )
    assert by_name["backend-redis"]["REDIS_STORAGE_URL"] == "redis://maas-backend-redis-storage.3scale.svc:6379/0"
    assert by_name["backend-redis"]["REDIS_QUEUES_PASSWORD"] == "pw-maas-backend-redis-queues"
    assert "pw-" not in by_name["system-redis"]["URL"]  # the Redis password is not in the URL


def test_database_deployments_use_supported_images_probes_and_their_secret() -> None:
    images = {}
    for db in m.THREESCALE_DATABASES + (m.KEYCLOAK_DATABASE,):
        dep = m.database_deployment("ns", db)
        pod = dep["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        images[db.engine] = container["image"]
        assert container["readinessProbe"]["exec"]["command"]
        refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]}
        assert refs == {db.secret}  # passwords only from the Secret, never inline
        assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == m.database_pvc("ns", db)["metadata"]["name"]
        assert dep["spec"]["strategy"] == {"type": "Recreate"}
        svc = m.database_service("ns", db)
        assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    assert images == {
        "redis": "registry.redhat.io/rhel9/redis-7",
        "postgresql": "registry.redhat.io/rhel9/postgresql-15",
    }


def test_external_database_secret_is_checked_and_copied() -> None:
    given = {
        "SYSTEM_DATABASE_URL": "postgresql://u:p@db.example:5432/system",
        "SYSTEM_REDIS_URL": "redis://r1.example:6379/1",
        "BACKEND_REDIS_STORAGE_URL": "redis://r2.example/0",
        "BACKEND_REDIS_QUEUES_URL": "rediss://r3.example/1",
        "BACKEND_REDIS_QUEUES_PASSWORD": "q",
    }
    values = m.external_database_urls(given, "my-dbs")
    assert values["system-database"] == {"URL": "postgresql://u:p@db.example:5432/system"}
    assert values["backend-redis"] == {
        "REDIS_STORAGE_URL": "redis://r2.example/0",
        "REDIS_QUEUES_URL": "rediss://r3.example/1",
        "REDIS_QUEUES_PASSWORD": "q",
    }
    with pytest.raises(ManifestError, match="lacks SYSTEM_REDIS_URL"):
        m.external_database_urls({**given, "SYSTEM_REDIS_URL": ""}, "my-dbs")
    with pytest.raises(ManifestError, match="SYSTEM_DATABASE_URL must start"):
        m.external_database_urls({**given, "SYSTEM_DATABASE_URL": "http://db"}, "my-dbs")


def test_policy_secret_holds_every_policy_file_and_the_watched_by_label() -> None:
    secret = m.policy_secret("my-3scale")
    assert secret["metadata"]["labels"]["apimanager.apps.3scale.net/watched-by"] == "apimanager"
    files = {p.name for p in POLICY_JSON.parent.iterdir() if p.is_file()}
    # data (base64), not stringData: a server-side apply then replaces the file set exactly.
    assert "stringData" not in secret and set(secret["data"]) == files
    # The operator requires both files in a custom policy Secret (pkg/3scale/amp/operator/
    # apicast_options_provider.go, validateCustomPolicySecret, tag 3scale-2.16.3-GA).
    assert {"apicast-policy.json", "init.lua"} <= files
    decoded = base64.b64decode(secret["data"]["apicast-policy.json"]).decode()
    assert json.loads(decoded) == json.loads(POLICY_JSON.read_text())


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
    assert sub["spec"]["name"] == "rhbk-operator" and sub["spec"]["channel"] == "stable-v26.0"
    assert sub["spec"]["installPlanApproval"] == "Manual"
    assert kc["apiVersion"] == "k8s.keycloak.org/v2alpha1"
    assert kc["spec"]["hostname"]["hostname"] == "keycloak-sso.apps.cluster-abc.example.com"
    assert kc["spec"]["db"] == {
        "vendor": "postgres",
        "host": "keycloak-postgresql",
        "port": 5432,
        "database": "keycloak",
        "usernameSecret": {"name": "keycloak-postgresql-credentials", "key": "username"},
        "passwordSecret": {"name": "keycloak-postgresql-credentials", "key": "password"},
    }
    assert imp["spec"] == {"keycloakCRName": "keycloak", "realm": {"realm": "maas", "enabled": True}}
    for obj in objs:
        validate_manifest(obj)


def test_realm_secrets_become_placeholders() -> None:
    realm = {
        "realm": "maas",
        "clients": [
            {
                "clientId": "3scale-portal",
                "secret": "s3cr3t",
                "redirectUris": ["https://maas.apps.x.example/auth/keycloak/callback"],
            }
        ],
        "users": [{"username": "demo", "credentials": [{"type": "password", "value": "pw"}]}],
    }
    plain, values = m.split_realm_secrets(realm)
    assert values == {"CLIENT_3SCALE_PORTAL_SECRET": "s3cr3t", "USER_DEMO_PASSWORD_0": "pw"}
    assert "s3cr3t" not in json.dumps(plain) and 'pw"' not in json.dumps(plain)
    assert plain["clients"][0]["secret"] == "${CLIENT_3SCALE_PORTAL_SECRET}"
    imp = m.keycloak_realm_import("sso", plain, placeholders=values)
    assert imp["spec"]["placeholders"] == {
        "CLIENT_3SCALE_PORTAL_SECRET": {
            "secret": {"name": "keycloak-maas-realm-secrets", "key": "CLIENT_3SCALE_PORTAL_SECRET"}
        },
        "USER_DEMO_PASSWORD_0": {"secret": {"name": "keycloak-maas-realm-secrets", "key": "USER_DEMO_PASSWORD_0"}},
    }
    secret = m.realm_secret("sso", "maas", values)
    assert secret["metadata"]["name"] == "keycloak-maas-realm-secrets"
    assert base64.b64decode(secret["data"]["CLIENT_3SCALE_PORTAL_SECRET"]).decode() == "s3cr3t"


@pytest.mark.parametrize("uris", [["/auth/keycloak/callback"], ["maas.apps.x/cb"]])
def test_realm_redirect_uris_must_be_absolute(uris) -> None:
    realm = {"realm": "maas", "clients": [{"clientId": "c", "redirectUris": uris}]}
    with pytest.raises(ManifestError, match="absolute"):
        validate_manifest(m.keycloak_realm_import("sso", realm))
    realm["clients"][0].update(redirectUris=["https://maas.apps.x/auth/keycloak/callback"], webOrigins=[None])
    with pytest.raises(ManifestError, match="web origin"):
        validate_manifest(m.keycloak_realm_import("sso", realm))


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
        (lambda o: o.update(kind="StatefulSet"), "not a kind the kit manages"),
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


def test_show_manifests_summarises_the_policy_secret_without_its_content() -> None:
    from maas_helpers.listings import show_manifests

    class _Kit:
        settings = _settings()

    text = str(show_manifests(_Kit(), ["Secret"]))  # type: ignore[arg-type]
    init = (POLICY_JSON.parent / "init.lua").read_bytes()
    assert f"init.lua: <{len(init)} bytes from policies/>" in text
    assert init.decode().strip() not in text and "stringData" not in text
