"""Every object the OpenShift driver can apply, and every committed manifest, against the real CRDs.

The CRDs are the upstream files in ../shared/reference/data/crds (SOURCES.txt: 3scale-operator
3scale-2.16.3-GA bundle/manifests, operator-framework/api crds, keycloak-k8s-resources 26.0.0,
openshift/api route). Built-in kinds are checked against schemas derived from the kubernetes client
models (core-v1.json for Namespace/Secret/ObjectMeta; maas_helpers.crdcheck.model_schema for the rest).
The objects are captured at the `kubernetes` boundary (tests/harness/kube_api.py, through test_openshift.py).
"""

from __future__ import annotations

import base64
import copy
import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

from maas_helpers import crdcheck
from maas_helpers import manifests as mf
from maas_helpers.config import make_settings
from maas_helpers.platform.openshift import OpenShiftPlatform

REPO = Path(__file__).resolve().parents[2]
CRDS = REPO.parent / "shared" / "reference" / "data" / "crds"
if not CRDS.is_dir():
    CRDS = Path("/work/shared/reference/data/crds")

pytestmark = pytest.mark.skipif(not (CRDS / "SOURCES.txt").exists(), reason="shared/reference CRDs not present")


def _fake_kube_module() -> Any:
    spec = importlib.util.spec_from_file_location("_openshift_fakes", Path(__file__).with_name("test_openshift.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FAKES = _fake_kube_module()


@pytest.fixture(scope="module")
def schemas() -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, Any]]:
    crds = crdcheck.load_crd_schemas(CRDS)
    core, meta = crdcheck.load_core_schemas(CRDS / "core-v1.json")
    built_in = {
        ("v1", "Service"): crdcheck.model_schema("V1Service"),
        ("v1", "PersistentVolumeClaim"): crdcheck.model_schema("V1PersistentVolumeClaim"),
        ("apps/v1", "Deployment"): crdcheck.model_schema("V1Deployment"),
    }
    return {**crds, **core, **built_in}, meta


def check(obj: dict[str, Any], schemas) -> list[str]:
    by_kind, meta = schemas
    key = (obj["apiVersion"], obj["kind"])
    assert key in by_kind, f"no served schema for {key}"
    schema = by_kind[key]
    problems = crdcheck.schema_errors(obj, schema, meta)
    problems += [f"pruned: {p}" for p in crdcheck.pruned_fields(obj, schema)]
    problems += [f"unknown to the operator: {p}" for p in crdcheck.pruned_fields(obj, schema, strict=True)]
    return sorted(set(problems))


# --- the walker itself ---------------------------------------------------------------------------------


def test_pruned_fields_walker() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "a": {"type": "string"},
                    "list": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "integer"}}}},
                    "map": {"type": "object", "additionalProperties": {"type": "object", "properties": {}}},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                    "empty": {"type": "object"},
                    "kept": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                        "properties": {"k": {"type": "string"}},
                    },
                },
            }
        },
    }
    obj = {
        "apiVersion": "x/v1",
        "kind": "X",
        "metadata": {"name": "n"},
        "spec": {
            "a": "ok",
            "b": "typo",
            "list": [{"x": 1, "y": 2}],
            "map": {"k1": {"z": 1}},
            "free": {"anything": {"deep": 1}},
            "empty": {"gone": 1},
            "kept": {"k": "v", "other": 1},
        },
        "status": {},
    }
    assert crdcheck.pruned_fields(obj, schema) == [
        "spec.b",
        "spec.list[0].y",
        "spec.map.k1.z",
        "spec.empty.gone",
        "status",
    ]
    assert "spec.kept.other" in crdcheck.pruned_fields(obj, schema, strict=True)
    assert "spec.free.anything" not in crdcheck.pruned_fields(obj, schema, strict=True)


def test_schema_errors_and_model_schema_catch_real_mistakes(schemas) -> None:
    dep = mf.database_deployment("3scale", mf.THREESCALE_DATABASES[0])
    dep["spec"]["replicas"] = "one"
    dep["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy_"] = "Always"
    problems = check(dep, schemas)
    assert any(p.startswith('spec.replicas: "one" is not of type "integer"') for p in problems)
    assert any("imagePullPolicy_" in p for p in problems)
    kc = mf.keycloak("rhbk", "apps.x.example.com", db=mf.keycloak_db())
    kc["spec"]["db"]["passwordSecret"]["keys"] = "password"
    assert "pruned: spec.db.passwordSecret.keys" in check(kc, schemas)
    am = mf.apimanager("3scale", "apps.x.example.com", "maas", "sc")
    am["spec"]["externalComponents"]["system"]["databse"] = True  # the API server keeps it; the operator ignores it
    assert check(am, schemas) == ["unknown to the operator: spec.externalComponents.system.databse"]
    bad_meta = mf.namespace("x")
    bad_meta["metadata"]["labels"] = {"a": 1}
    assert any(p.startswith("metadata.labels.a") for p in check(bad_meta, schemas))


# --- everything the driver applies, both database modes ------------------------------------------------


def _settings(**extra: Any):
    return make_settings(
        target="openshift",
        cluster_domain="apps.cluster-abc.example.com",
        models=[{"name": "granite", "url": "http://granite-predictor.llm:8080", "kind": "chat"}],
        **extra,
    )


def _enc(values: dict[str, str]) -> dict[str, str]:
    return {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}


REALM = {
    "realm": "maas",
    "enabled": True,
    "clients": [
        {
            "clientId": "3scale-portal",
            "secret": "generated",
            "redirectUris": ["https://maas.apps.cluster-abc.example.com/auth/keycloak/callback"],
            "webOrigins": ["https://maas.apps.cluster-abc.example.com"],
        }
    ],
    "users": [{"username": "demo", "credentials": [{"type": "password", "value": "generated-too"}]}],
}


def _run_driver(settings) -> list[dict[str, Any]]:
    kube, clock = FAKES.FakeKube(), FAKES.FakeClock()
    FAKES.add_storage_class(kube)
    if settings.databases == "external":
        urls = {k: "redis://r.example:6379/0" for k in mf.EXTERNAL_KEYS}
        urls["SYSTEM_DATABASE_URL"] = "postgresql://u:p@pg.example/system"
        kube.put(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "dbs", "namespace": "3scale"},
                "data": _enc(urls),
            }
        )
    if settings.sso_database == "external":
        kube.put(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "kc-db", "namespace": "rhbk"},
                "data": _enc({"host": "pg", "database": "kc", "username": "u", "password": "p"}),
            }
        )
    kube.script("Subscription", "3scale-operator", "3scale", {"installedCSV": FAKES.CSV})
    kube.script("ClusterServiceVersion", FAKES.CSV, "3scale", {"phase": "Succeeded"})
    FAKES._rhbk_installed(kube, ["rhbk-operator.v26.0.5"])
    kube.script("Keycloak", "keycloak", "rhbk", {"conditions": [{"type": "Ready", "status": "True"}]})
    kube.script("KeycloakRealmImport", "keycloak-maas", "rhbk", {"conditions": [{"type": "Done", "status": "True"}]})
    p = OpenShiftPlatform(
        settings, kube, clock=clock, sleep=clock.sleep, poll_interval=5, progress=FAKES.RecordingProgress
    )
    p.ensure_namespace()
    p.ensure_operator()
    p.ensure_policy_secret()
    p.ensure_apimanager()
    p.ensure_custom_policy_definition()
    p.ensure_sso(copy.deepcopy(REALM))
    return kube.applied


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"databases": "external", "database_secret": "dbs", "sso_database": "external", "sso_database_secret": "kc-db"},
        {"operator_channel": "threescale-2.15", "databases": "internal"},
    ],
    ids=["kit-deploys-databases", "user-gives-databases", "2.15-internal"],
)
def test_every_object_the_driver_applies_validates_against_its_crd(extra, schemas) -> None:
    applied = _run_driver(_settings(**extra))
    kinds = {o["kind"] for o in applied}
    assert {"Namespace", "OperatorGroup", "Subscription", "Secret", "APIManager", "CustomPolicyDefinition"} <= kinds
    assert {"Keycloak", "KeycloakRealmImport"} <= kinds
    if not extra:
        assert {"Deployment", "Service", "PersistentVolumeClaim"} <= kinds
    failures = {f"{o['kind']} {o['metadata']['name']}": check(o, schemas) for o in applied}
    assert {k: v for k, v in failures.items() if v} == {}


def test_committed_manifests_validate_against_their_crds(schemas) -> None:
    seen = 0
    for rel in mf.rendered_files():
        for doc in yaml.safe_load_all((REPO / "manifests" / rel).read_text(encoding="utf-8")):
            assert check(doc, schemas) == [], f"manifests/{rel}: {doc['kind']} {doc['metadata']['name']}"
            seen += 1
    for rel in ("custom-policy/customPolicyDefinition.yaml", "custom-policy/apimanager-custompolicies.yaml"):
        doc = yaml.safe_load((REPO / "manifests" / rel).read_text(encoding="utf-8"))
        if "apiVersion" in doc and "metadata" in doc:
            assert check(doc, schemas) == [], rel
            seen += 1
    assert seen >= 12


# --- operator rules the schema cannot express ----------------------------------------------------------


def test_operator_rules_beyond_the_schema() -> None:
    applied = _run_driver(_settings())
    by = {(o["kind"], o["metadata"]["name"]): o for o in applied}
    am = by[("APIManager", "apimanager")]
    # controllers/apps/apimanager_controller.go (3scale-2.16.3-GA), externalDatabasesPreflightsChecks: all three
    # must be external, else preflights fail and the APIManager never becomes Available.
    ext = am["spec"]["externalComponents"]
    assert ext["system"]["database"] and ext["system"]["redis"] and ext["backend"]["redis"]
    # doc/apimanager-reference.md "APIManager Secrets": the Secret names and URL keys the operator reads;
    # pkg/helper/system_database_versions.go accepts postgres:// or postgresql:// for PostgreSQL.
    secrets = {name: by[("Secret", name)] for name in ("system-database", "system-redis", "backend-redis")}
    decoded = {n: {k: base64.b64decode(v).decode() for k, v in s["data"].items()} for n, s in secrets.items()}
    assert decoded["system-database"]["URL"].startswith("postgresql://")
    assert decoded["system-redis"]["URL"].startswith("redis://")
    assert {"REDIS_STORAGE_URL", "REDIS_QUEUES_URL"} <= set(decoded["backend-redis"])
    assert all(set(d) <= set(mf.OPERATOR_SECRET_KEYS[n]) for n, d in decoded.items())
    # pkg/helper/secretutils.go IsSecretWatchedBy3scale + pkg/3scale/amp/component/deployment_annotations.go:
    # a custom policy Secret re-rolls APIcast on change only with the watched-by label.
    policy = by[("Secret", "apicast-policy-llm-metrics-1-0-0")]
    assert policy["metadata"]["labels"]["apimanager.apps.3scale.net/watched-by"] == "apimanager"
    # pkg/3scale/amp/operator/apicast_options_provider.go validateCustomPolicySecret: init.lua and
    # apicast-policy.json are required; apicast.go mounts it at policies/<name>/<version>, so the
    # customPolicies entry's name/version must be the policy manifest's.
    assert {"init.lua", "apicast-policy.json"} <= set(policy["data"])
    manifest = mf.policy_manifest()
    for env in ("stagingSpec", "productionSpec"):
        (entry,) = am["spec"]["apicast"][env]["customPolicies"]
        assert entry == {
            "name": manifest["name"],
            "version": manifest["version"],
            "secretRef": {"name": "apicast-policy-llm-metrics-1-0-0"},
        }


def test_an_enum_error_names_every_allowed_value() -> None:
    """jsonschema-rs names two choices and counts the rest; the kit's line names them all (crdcheck.said)."""
    schema = {"type": "object", "properties": {"pull": {"enum": ["Always", "IfNotPresent", "Never"]}}}
    assert crdcheck.schema_errors({"pull": "Sometimes"}, schema) == [
        'pull: "Sometimes" is not one of "Always", "IfNotPresent", "Never"']
