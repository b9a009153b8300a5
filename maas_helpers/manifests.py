"""Every Kubernetes object the kit creates on OpenShift, rendered as a plain dict by a pure function.

The OpenShift platform applies exactly these dicts; the sandbox platform renders and validates the same
ones, so a mistake in a manifest shows up in the sandbox tests too. The llm-metrics Secret and
CustomPolicyDefinition come from ``policies/render_manifests.py`` (one fact, one file: the policy
manifest ``apicast-policy.json``).

The committed YAML under ``manifests/operator/``, ``manifests/apimanager/`` and ``manifests/sso/`` is
this module's output for ``EXAMPLE`` settings (``python -m maas_helpers.manifests [--check]``).
"""

from __future__ import annotations

import base64
import importlib.util
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from maas_helpers.errors import MaasError
from maas_helpers.resources import resource_path

if TYPE_CHECKING:
    from maas_helpers.config import Settings

POLICIES_DIR = resource_path("policies")
POLICY_DIR = resource_path("policies", "llm-metrics", "1.0.0")
MANIFESTS_DIR = resource_path("manifests")

FIELD_MANAGER = "maas-helpers"
MANAGED_BY = {"app.kubernetes.io/managed-by": FIELD_MANAGER, "app.kubernetes.io/part-of": "maas"}

THREESCALE_PACKAGE = "3scale-operator"
RHBK_PACKAGE = "rhbk-operator"
RHBK_CHANNEL = "stable-v26.0"  # pinned: later 26.x minors move the CRDs on (Settings.sso_channel)
CATALOG_SOURCE = "redhat-operators"
CATALOG_NAMESPACE = "openshift-marketplace"
APIMANAGER_NAME = "apimanager"
KEYCLOAK_NAME = "keycloak"

Approval = Literal["Automatic", "Manual"]


class ManifestError(MaasError):
    """A rendered or hand-written manifest misses something the API server or operator needs."""


# --- the llm-metrics renderer from the policy helper (policies/ is data, not a package) -------------


@cache
def _policy_renderer() -> ModuleType:
    path = POLICIES_DIR / "render_manifests.py"
    spec = importlib.util.spec_from_file_location("maas_policy_render_manifests", path)
    if spec is None or spec.loader is None:  # pragma: no cover - only when the repository is incomplete
        raise ManifestError(f"cannot load {path}; run from a complete checkout of the kit")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def to_yaml(document: dict[str, Any]) -> str:
    """Stable YAML (same dumper as the policy manifests: block style, literal multi-line strings)."""
    text: str = _policy_renderer().to_yaml(document)
    return text


def _labels(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**MANAGED_BY, **(extra or {})}


def _meta(name: str, namespace: str | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = _labels(labels)
    return meta


# --- 3scale operator --------------------------------------------------------------------------------


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(name)}


def operator_group(ns: str, name: str | None = None) -> dict[str, Any]:
    """OperatorGroup targeting only ``ns`` (the guide's "in the 3scale namespace only", not all namespaces)."""
    return {
        "apiVersion": "operators.coreos.com/v1",
        "kind": "OperatorGroup",
        "metadata": _meta(name or f"{ns}-operator-group", ns),
        "spec": {"targetNamespaces": [ns]},
    }


def subscription(
    ns: str,
    channel: str,
    approval: Approval = "Automatic",
    package: str = THREESCALE_PACKAGE,
    source: str = CATALOG_SOURCE,
    source_namespace: str = CATALOG_NAMESPACE,
) -> dict[str, Any]:
    return {
        "apiVersion": "operators.coreos.com/v1alpha1",
        "kind": "Subscription",
        "metadata": _meta(package, ns),
        "spec": {
            "name": package,
            "source": source,
            "sourceNamespace": source_namespace,
            "channel": channel,
            "installPlanApproval": approval,
        },
    }


# --- llm-metrics policy -----------------------------------------------------------------------------


def policy_manifest(policy_dir: Path = POLICY_DIR) -> dict[str, Any]:
    manifest: dict[str, Any] = _policy_renderer().load_manifest(policy_dir)
    return manifest


def _b64(value: str) -> str:
    return base64.b64encode(value.encode("utf-8")).decode("ascii")


def policy_secret(ns: str, policy_dir: Path = POLICY_DIR) -> dict[str, Any]:
    """Secret with the policy files, labelled watched-by so the operator re-rolls APIcast when it changes.

    Sent as ``data`` (base64), not ``stringData``: under server-side apply the API server merges
    ``stringData`` into ``data``, so a file dropped from the policy would stay; owning ``data`` replaces it."""
    secret: dict[str, Any] = _policy_renderer().render_policy_secret(policy_dir, ns)
    secret["metadata"]["labels"] = _labels(secret["metadata"].get("labels"))
    secret["data"] = {k: _b64(v) for k, v in secret.pop("stringData").items()}
    return secret


def custom_policy_definition(ns: str, policy_dir: Path = POLICY_DIR) -> dict[str, Any]:
    cpd: dict[str, Any] = _policy_renderer().render_custom_policy_definition(policy_manifest(policy_dir), ns)
    cpd["metadata"]["labels"] = _labels(cpd["metadata"].get("labels"))
    return cpd


# --- databases (3scale 2.16 has no internal ones; Keycloak needs one to keep its realm) ----------------------
# Red Hat supported images at the versions the operator's preflights accept (Redis >= 7, PostgreSQL >= 13;
# doc/operator-user-guide.md "External Databases Installation", tag 3scale-2.16.3-GA).
REDIS_IMAGE = "registry.redhat.io/rhel9/redis-7"
POSTGRESQL_IMAGE = "registry.redhat.io/rhel9/postgresql-15"
DB_SIZE = "1Gi"

# The Secrets the operator reads (doc/apimanager-reference.md, "APIManager Secrets"), and their keys.
SYSTEM_DATABASE_SECRET = "system-database"
SYSTEM_REDIS_SECRET = "system-redis"
BACKEND_REDIS_SECRET = "backend-redis"
OPERATOR_SECRET_KEYS: dict[str, tuple[str, ...]] = {
    SYSTEM_DATABASE_SECRET: ("URL", "DB_USER", "DB_PASSWORD"),
    SYSTEM_REDIS_SECRET: ("URL", "REDIS_PASSWORD"),
    BACKEND_REDIS_SECRET: ("REDIS_STORAGE_URL", "REDIS_STORAGE_PASSWORD", "REDIS_QUEUES_URL", "REDIS_QUEUES_PASSWORD"),
}
# Keys of the user's Secret (Settings.database_secret) in "external" mode; passwords are optional.
EXTERNAL_KEYS = ("SYSTEM_DATABASE_URL", "SYSTEM_REDIS_URL", "BACKEND_REDIS_STORAGE_URL", "BACKEND_REDIS_QUEUES_URL")
EXTERNAL_PASSWORD_KEYS = ("SYSTEM_REDIS_PASSWORD", "BACKEND_REDIS_STORAGE_PASSWORD", "BACKEND_REDIS_QUEUES_PASSWORD")


@dataclass(frozen=True)
class Database:
    """One database the kit deploys: a Deployment (one replica, Recreate), a PVC, a Service, and a
    credentials Secret ``<name>-credentials`` whose generated values never leave the cluster."""

    name: str
    engine: Literal["redis", "postgresql"]
    database: str = ""  # PostgreSQL database (and user) name

    @property
    def port(self) -> int:
        return 6379 if self.engine == "redis" else 5432

    @property
    def secret(self) -> str:
        return f"{self.name}-credentials"

    def credential_keys(self) -> tuple[str, ...]:
        return ("password",) if self.engine == "redis" else ("username", "password", "database")


# The guide's instances: system Redis, backend Redis for storage and for queues, the system RDBMS.
THREESCALE_DATABASES = (
    Database("maas-system-redis", "redis"),
    Database("maas-backend-redis-storage", "redis"),
    Database("maas-backend-redis-queues", "redis"),
    Database("maas-system-postgresql", "postgresql", "system"),
)
KEYCLOAK_DATABASE = Database("keycloak-postgresql", "postgresql", "keycloak")


def _secret(name: str, ns: str, values: dict[str, str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": _meta(name, ns, labels),
        "data": {k: _b64(v) for k, v in values.items()},
    }


def database_credentials(ns: str, db: Database, values: dict[str, str]) -> dict[str, Any]:
    missing = [k for k in db.credential_keys() if not values.get(k)]
    if missing:
        raise ManifestError(f"Secret {db.secret}: missing {', '.join(missing)}; generate them with the platform")
    return _secret(db.secret, ns, {k: values[k] for k in db.credential_keys()}, {"app.kubernetes.io/name": db.name})


def database_pvc(ns: str, db: Database, storage_class: str | None = None, size: str = DB_SIZE) -> dict[str, Any]:
    """ReadWriteOnce claim (one pod); ``storage_class`` None lets the cluster default class provision it."""
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    labels = {"app.kubernetes.io/name": db.name}
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": _meta(db.name, ns, labels), "spec": spec}


def database_service(ns: str, db: Database) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(db.name, ns, {"app.kubernetes.io/name": db.name}),
        "spec": {
            "selector": {"app.kubernetes.io/name": db.name},
            "ports": [{"name": db.engine, "port": db.port, "targetPort": db.port, "protocol": "TCP"}],
        },
    }


def _env_from_secret(var: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def database_deployment(ns: str, db: Database) -> dict[str, Any]:
    """The sclorg image conventions: REDIS_PASSWORD / POSTGRESQL_USER, _PASSWORD, _DATABASE, data volume."""
    if db.engine == "redis":
        image, mount = REDIS_IMAGE, "/var/lib/redis/data"
        env = [_env_from_secret("REDIS_PASSWORD", db.secret, "password")]
        probe = ["/bin/sh", "-c", 'redis-cli -a "$REDIS_PASSWORD" --no-auth-warning ping | grep -q PONG']
    else:
        image, mount = POSTGRESQL_IMAGE, "/var/lib/pgsql/data"
        env = [
            _env_from_secret("POSTGRESQL_USER", db.secret, "username"),
            _env_from_secret("POSTGRESQL_PASSWORD", db.secret, "password"),
            _env_from_secret("POSTGRESQL_DATABASE", db.secret, "database"),
        ]
        probe = ["/bin/sh", "-c", 'pg_isready -h 127.0.0.1 -U "$POSTGRESQL_USER" -d "$POSTGRESQL_DATABASE"']
    selector = {"app.kubernetes.io/name": db.name}
    container = {
        "name": db.engine,
        "image": image,
        "ports": [{"name": db.engine, "containerPort": db.port}],
        "env": env,
        "readinessProbe": {"exec": {"command": probe}, "initialDelaySeconds": 5, "periodSeconds": 10},
        "livenessProbe": {"tcpSocket": {"port": db.port}, "initialDelaySeconds": 30, "periodSeconds": 20},
        "volumeMounts": [{"name": "data", "mountPath": mount}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(db.name, ns, selector),
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},  # RWO volume: the old pod must go before the new one mounts it
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": _labels(selector)},
                "spec": {
                    "containers": [container],
                    "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": db.name}}],
                },
            },
        },
    }


def database_objects(ns: str, db: Database, credentials: dict[str, str], storage_class: str | None = None) -> list[
    dict[str, Any]
]:
    """Apply order: credentials, claim, service, deployment."""
    return [
        database_credentials(ns, db, credentials),
        database_pvc(ns, db, storage_class),
        database_service(ns, db),
        database_deployment(ns, db),
    ]


def operator_database_secrets(ns: str, values: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """``system-database``, ``system-redis`` and ``backend-redis`` with exactly the operator's keys."""
    out = []
    for name, keys in OPERATOR_SECRET_KEYS.items():
        given = values.get(name) or {}
        unknown = sorted(set(given) - set(keys))
        if unknown or not all(given.get(k) for k in keys if k.endswith("URL")):
            raise ManifestError(f"Secret {name}: needs {', '.join(k for k in keys if k.endswith('URL'))}"
                                + (f" and no {', '.join(unknown)}" if unknown else ""))
        out.append(_secret(name, ns, {k: given[k] for k in keys if given.get(k)}))
    return out


def kit_database_urls(ns: str, creds: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Operator Secret values for the databases the kit deployed (``creds``: Database.name -> credentials)."""
    sys_redis, storage, queues, pg = THREESCALE_DATABASES
    p = creds[pg.name]
    host = f"{pg.name}.{ns}.svc:{pg.port}"
    return {
        SYSTEM_DATABASE_SECRET: {
            "URL": f"postgresql://{p['username']}:{p['password']}@{host}/{p['database']}",
            "DB_USER": p["username"],
            "DB_PASSWORD": p["password"],
        },
        # URLs without credentials: the passwords travel in the operator's *_PASSWORD keys.
        SYSTEM_REDIS_SECRET: {"URL": f"redis://{sys_redis.name}.{ns}.svc:6379/1",
                              "REDIS_PASSWORD": creds[sys_redis.name]["password"]},
        BACKEND_REDIS_SECRET: {
            "REDIS_STORAGE_URL": f"redis://{storage.name}.{ns}.svc:6379/0",
            "REDIS_STORAGE_PASSWORD": creds[storage.name]["password"],
            "REDIS_QUEUES_URL": f"redis://{queues.name}.{ns}.svc:6379/1",
            "REDIS_QUEUES_PASSWORD": creds[queues.name]["password"],
        },
    }


_DB_SCHEMES = ("postgresql://", "postgres://", "mysql2://")
_REDIS_SCHEMES = ("redis://", "rediss://")


def external_database_urls(given: dict[str, str], source: str) -> dict[str, dict[str, str]]:
    """Operator Secret values from the user's Secret (keys EXTERNAL_KEYS, optional EXTERNAL_PASSWORD_KEYS)."""
    missing = [k for k in EXTERNAL_KEYS if not given.get(k)]
    if missing:
        raise ManifestError(f"Secret {source} lacks {', '.join(missing)}; add them (see docs/openshift.md)")
    if not given["SYSTEM_DATABASE_URL"].startswith(_DB_SCHEMES):
        raise ManifestError(f"Secret {source}: SYSTEM_DATABASE_URL must start with postgresql:// or mysql2://")
    for key in EXTERNAL_KEYS[1:]:
        if not given[key].startswith(_REDIS_SCHEMES):
            raise ManifestError(f"Secret {source}: {key} must start with redis:// or rediss://")
    pw = {k: given[k] for k in EXTERNAL_PASSWORD_KEYS if given.get(k)}
    return {
        SYSTEM_DATABASE_SECRET: {"URL": given["SYSTEM_DATABASE_URL"]},
        SYSTEM_REDIS_SECRET: {
            "URL": given["SYSTEM_REDIS_URL"],
            **({"REDIS_PASSWORD": pw["SYSTEM_REDIS_PASSWORD"]} if "SYSTEM_REDIS_PASSWORD" in pw else {}),
        },
        BACKEND_REDIS_SECRET: {
            "REDIS_STORAGE_URL": given["BACKEND_REDIS_STORAGE_URL"],
            "REDIS_QUEUES_URL": given["BACKEND_REDIS_QUEUES_URL"],
            **{k.removeprefix("BACKEND_"): v for k, v in pw.items() if k.startswith("BACKEND_")},
        },
    }


def keycloak_db(db: Database = KEYCLOAK_DATABASE, host: str | None = None, database: str | None = None,
                port: int | None = None, secret: str | None = None) -> dict[str, Any]:
    """Keycloak ``spec.db``: PostgreSQL, user and password read by the operator from a Secret."""
    ref = secret or db.secret
    return {
        "vendor": "postgres",
        "host": host or db.name,
        "port": port or db.port,
        "database": database or db.database,
        "usernameSecret": {"name": ref, "key": "username"},
        "passwordSecret": {"name": ref, "key": "password"},
    }


# --- APIManager ---------------------------------------------------------------------------------------


def apimanager(
    ns: str,
    wildcard_domain: str,
    tenant: str,
    storage_class: str,
    policy_dir: Path = POLICY_DIR,
    name: str = APIMANAGER_NAME,
    external_databases: bool = True,
) -> dict[str, Any]:
    """APIManager mounting the llm-metrics Secret in staging and production APIcast; with
    ``external_databases`` (required since 2.16) system database, system Redis and backend Redis come from
    the Secrets system-database, system-redis and backend-redis."""
    custom = _policy_renderer().render_apimanager_custom_policies(policy_manifest(policy_dir))
    spec: dict[str, Any] = {
        "wildcardDomain": wildcard_domain,
        "tenantName": tenant,
        "resourceRequirementsEnabled": False,
        "system": {"fileStorage": {"persistentVolumeClaim": {"storageClassName": storage_class}}},
        "apicast": custom["spec"]["apicast"],
    }
    if external_databases:
        spec["externalComponents"] = {"system": {"database": True, "redis": True}, "backend": {"redis": True}}
    return {"apiVersion": "apps.3scale.net/v1alpha1", "kind": "APIManager", "metadata": _meta(name, ns), "spec": spec}


# --- Red Hat build of Keycloak ------------------------------------------------------------------------


def keycloak_host(sso_namespace: str, wildcard_domain: str, name: str = KEYCLOAK_NAME) -> str:
    return f"{name}-{sso_namespace}.{wildcard_domain}"


def keycloak(
    sso_namespace: str,
    wildcard_domain: str,
    name: str = KEYCLOAK_NAME,
    instances: int = 1,
    db: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Keycloak behind an edge-terminated OpenShift route (the router holds TLS; Keycloak speaks HTTP
    inside the cluster and trusts the router's X-Forwarded headers). Without ``db`` the operator's
    default dev-file database is used: fine for a workshop, not for production."""
    spec: dict[str, Any] = {
        "instances": instances,
        "hostname": {"hostname": keycloak_host(sso_namespace, wildcard_domain, name)},
        "http": {"httpEnabled": True},
        "proxy": {"headers": "xforwarded"},
        "ingress": {
            "enabled": True,
            "className": "openshift-default",
            "annotations": {"route.openshift.io/termination": "edge"},
        },
    }
    if db:
        spec["db"] = db
    return {
        "apiVersion": "k8s.keycloak.org/v2alpha1",
        "kind": "Keycloak",
        "metadata": _meta(name, sso_namespace),
        "spec": spec,
    }


REALM_SECRET_SUFFIX = "realm-secrets"
_PLACEHOLDER_CHARS = re.compile(r"[^A-Z0-9]+")


def _placeholder(*parts: str) -> str:
    return "_".join(_PLACEHOLDER_CHARS.sub("_", p.upper()).strip("_") for p in parts)


def split_realm_secrets(realm: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(realm with ``${NAME}`` placeholders, NAME -> value) for client secrets and user passwords, so the
    values live in a Secret the operator reads through ``spec.placeholders``, never in the CR."""
    import copy

    out = copy.deepcopy(realm)
    values: dict[str, str] = {}
    for client in out.get("clients") or []:
        secret = client.get("secret")
        if isinstance(secret, str) and secret and not secret.startswith("${"):
            name = _placeholder("client", str(client.get("clientId", "")), "secret")
            values[name], client["secret"] = secret, "${" + name + "}"
    for user in out.get("users") or []:
        for index, cred in enumerate(user.get("credentials") or []):
            value = cred.get("value")
            if isinstance(value, str) and value and not value.startswith("${"):
                name = _placeholder("user", str(user.get("username", "")), cred.get("type", "password"), str(index))
                values[name], cred["value"] = value, "${" + name + "}"
    return out, values


def realm_secret(sso_namespace: str, realm_name: str, values: dict[str, str],
                 keycloak_name: str = KEYCLOAK_NAME) -> dict[str, Any]:
    return _secret(f"{keycloak_name}-{realm_name}-{REALM_SECRET_SUFFIX}".lower(), sso_namespace, values)


def keycloak_realm_import(
    sso_namespace: str,
    realm: dict[str, Any],
    keycloak_name: str = KEYCLOAK_NAME,
    placeholders: dict[str, str] | None = None,
    secret_name: str | None = None,
) -> dict[str, Any]:
    """KeycloakRealmImport wrapping a realm representation (the operator imports it once, when absent).
    ``placeholders`` names the ``${NAME}``s the operator fills from the Secret ``secret_name``."""
    realm_name = realm.get("realm")
    if not isinstance(realm_name, str) or not realm_name:
        raise ManifestError("realm representation has no 'realm' name; set realm['realm'] (e.g. 'maas')")
    spec: dict[str, Any] = {"keycloakCRName": keycloak_name, "realm": realm}
    if placeholders:
        ref = secret_name or f"{keycloak_name}-{realm_name}-{REALM_SECRET_SUFFIX}".lower()
        spec["placeholders"] = {name: {"secret": {"name": ref, "key": name}} for name in sorted(placeholders)}
    return {
        "apiVersion": "k8s.keycloak.org/v2alpha1",
        "kind": "KeycloakRealmImport",
        "metadata": _meta(f"{keycloak_name}-{realm_name}".lower(), sso_namespace),
        "spec": spec,
    }


# --- validation ---------------------------------------------------------------------------------------

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class _KindRule:
    namespaced: bool
    required: tuple[str, ...] = ()  # dotted paths that must be present and non-empty


_RULES: dict[tuple[str, str], _KindRule] = {
    ("v1", "Namespace"): _KindRule(False),
    ("v1", "Secret"): _KindRule(True),
    ("v1", "Service"): _KindRule(True, ("spec.ports", "spec.selector")),
    ("v1", "PersistentVolumeClaim"): _KindRule(True, ("spec.accessModes", "spec.resources.requests.storage")),
    ("apps/v1", "Deployment"): _KindRule(True, ("spec.selector.matchLabels", "spec.template.spec.containers")),
    ("operators.coreos.com/v1", "OperatorGroup"): _KindRule(True, ("spec.targetNamespaces",)),
    ("operators.coreos.com/v1alpha1", "Subscription"): _KindRule(
        True, ("spec.name", "spec.source", "spec.sourceNamespace", "spec.channel")
    ),
    ("capabilities.3scale.net/v1beta1", "CustomPolicyDefinition"): _KindRule(
        True,
        (
            "spec.name",
            "spec.version",
            "spec.schema.name",
            "spec.schema.version",
            "spec.schema.summary",
            "spec.schema.$schema",
            "spec.schema.configuration",
        ),
    ),
    ("apps.3scale.net/v1alpha1", "APIManager"): _KindRule(True, ("spec.wildcardDomain",)),
    ("k8s.keycloak.org/v2alpha1", "Keycloak"): _KindRule(True, ("spec.instances", "spec.hostname.hostname")),
    ("k8s.keycloak.org/v2alpha1", "KeycloakRealmImport"): _KindRule(True, ("spec.keycloakCRName", "spec.realm.realm")),
}


def _lookup(obj: dict[str, Any], dotted: str) -> Any:
    node: Any = obj
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def validate_manifest(obj: dict[str, Any]) -> dict[str, Any]:
    """Check what the API server or operator would reject later; return ``obj`` or raise ``ManifestError``."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not api_version or not kind:
        raise ManifestError("manifest has no apiVersion/kind; render it with maas_helpers.manifests")
    rule = _RULES.get((api_version, kind))
    if rule is None:
        known = ", ".join(sorted(k for _, k in _RULES))
        raise ManifestError(f"{kind} ({api_version}) is not a kind the kit manages; expected one of {known}")
    meta = obj.get("metadata") or {}
    name, ns = meta.get("name"), meta.get("namespace")
    if not isinstance(name, str) or not _SUBDOMAIN.match(name) or len(name) > 253:
        raise ManifestError(f"{kind} metadata.name {name!r} is not a lowercase DNS name; use e.g. 'llm-metrics'")
    if rule.namespaced and (not isinstance(ns, str) or not _LABEL.match(ns) or len(ns) > 63):
        raise ManifestError(f"{kind} {name}: metadata.namespace {ns!r} is not a DNS label; set the namespace")
    if not rule.namespaced and ns is not None:
        raise ManifestError(f"{kind} {name} is cluster-scoped; remove metadata.namespace")
    for path in rule.required:
        value = _lookup(obj, path)
        if value is None or value == "" or value == [] or value == {}:
            raise ManifestError(f"{kind} {name}: {path} is required")
    if kind == "Subscription" and obj["spec"].get("installPlanApproval", "Automatic") not in ("Automatic", "Manual"):
        raise ManifestError(f"Subscription {name}: installPlanApproval must be Automatic or Manual")
    if kind == "Secret" and not (obj.get("data") or obj.get("stringData")):
        raise ManifestError(f"Secret {name} has no data; render it from the policy directory")
    if kind == "APIManager":
        _validate_apimanager(obj, name)
    if kind == "KeycloakRealmImport":
        _validate_realm(obj["spec"]["realm"], name)
    return obj


def _validate_realm(realm: dict[str, Any], name: str) -> None:
    """Redirect URIs must be absolute http(s) callback URLs and web origins strings (a relative URI or
    a null origin is rejected by Keycloak or the CRD)."""
    for client in realm.get("clients") or []:
        cid = client.get("clientId", "?")
        for uri in client.get("redirectUris") or []:
            if not isinstance(uri, str) or not re.match(r"^https?://[^/\s]+/", uri):
                raise ManifestError(
                    f"KeycloakRealmImport {name}: client {cid} redirect URI {uri!r} is not an absolute "
                    "http(s) URL; use the 3scale provider's callback_url"
                )
        for origin in client.get("webOrigins") or []:
            if not isinstance(origin, str) or not origin:
                raise ManifestError(f"KeycloakRealmImport {name}: client {cid} has a web origin {origin!r}; "
                                    "use the portal origin (e.g. https://maas.apps.example.com)")


def _validate_apimanager(obj: dict[str, Any], name: str) -> None:
    domain = obj["spec"]["wildcardDomain"]
    if not isinstance(domain, str) or not _SUBDOMAIN.match(domain) or "." not in domain:
        raise ManifestError(
            f"APIManager {name}: wildcardDomain {domain!r} is not the cluster apps domain "
            "(e.g. apps.cluster-abc.example.com, without https:// or console-openshift-console.)"
        )
    for env in ("stagingSpec", "productionSpec"):
        for policy in _lookup(obj, f"spec.apicast.{env}.customPolicies") or []:
            if not (policy.get("name") and policy.get("version") and _lookup(policy, "secretRef.name")):
                raise ManifestError(
                    f"APIManager {name}: {env}.customPolicies entries need name, version, secretRef.name"
                )


# --- everything for one Settings, and the committed examples ------------------------------------------


def threescale_manifests(settings: Settings, approval: Approval = "Automatic") -> list[dict[str, Any]]:
    """Namespace, operator, policy Secret, APIManager and CustomPolicyDefinition, in apply order (the
    database objects carry generated credentials: the platform renders them with ``database_objects``)."""
    ns = settings.namespace
    external = getattr(settings, "databases", "deploy") != "internal"
    return [
        namespace(ns),
        operator_group(ns),
        subscription(ns, settings.operator_channel, approval),
        policy_secret(ns),
        apimanager(ns, settings.cluster_domain, settings.tenant, settings.storage_class, external_databases=external),
        custom_policy_definition(ns),
    ]


def sso_manifests(settings: Settings, realm: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    ns = settings.sso_namespace
    objs = [
        namespace(ns),
        operator_group(ns),
        subscription(ns, getattr(settings, "sso_channel", RHBK_CHANNEL), "Manual", package=RHBK_PACKAGE),
        keycloak(ns, settings.cluster_domain, db=keycloak_db()),
    ]
    if realm is not None:
        plain, values = split_realm_secrets(realm)
        objs.append(keycloak_realm_import(ns, plain, placeholders=values))
    return objs


@dataclass(frozen=True)
class ExampleSettings:
    """The documented settings the committed YAML is rendered for (edit the domain before applying)."""

    namespace: str = "3scale"
    cluster_domain: str = "apps.cluster.example.com"
    tenant: str = "maas"
    operator_channel: str = "threescale-2.16"
    storage_class: str = "ocs-storagecluster-cephfs"
    sso_namespace: str = "rhbk"
    sso_channel: str = RHBK_CHANNEL


EXAMPLE = ExampleSettings()


def _header(what: str) -> str:
    e = EXAMPLE
    return (
        f"# {what}\n"
        "# Generated by `python -m maas_helpers.manifests` (maas_helpers/manifests.py); do not edit by hand.\n"
        f"# Example settings: namespace {e.namespace}, wildcard domain {e.cluster_domain}, tenant {e.tenant},\n"
        f"# channel {e.operator_channel}, storage class {e.storage_class}, SSO namespace {e.sso_namespace}.\n"
        "# The notebooks render the same objects from maas-config.yaml; the policy Secret is printed by\n"
        "# `policies/render_manifests.py --secret` (it embeds the Lua sources, so it is not committed twice).\n"
    )


def _documents(objs: list[dict[str, Any]]) -> str:
    return "---\n".join(to_yaml(validate_manifest(o)) for o in objs)


def _without_credentials(ns: str, db: Database) -> list[dict[str, Any]]:
    return [database_pvc(ns, db), database_service(ns, db), database_deployment(ns, db)]


def committed_objects(settings: Any = EXAMPLE) -> dict[str, list[dict[str, Any]]]:
    """Relative path under ``manifests/`` → the objects of every committed example manifest."""
    s = settings
    ns, sso = s.namespace, s.sso_namespace
    return {
        "operator/3scale-operator.yaml": [namespace(ns), operator_group(ns), subscription(ns, s.operator_channel)],
        "databases/3scale-databases.yaml": [o for db in THREESCALE_DATABASES for o in _without_credentials(ns, db)],
        "apimanager/apimanager.yaml": [apimanager(ns, s.cluster_domain, s.tenant, s.storage_class)],
        "sso/keycloak-operator.yaml": [
            namespace(sso),
            operator_group(sso),
            subscription(sso, s.sso_channel, "Manual", package=RHBK_PACKAGE),
        ],
        "sso/keycloak-database.yaml": _without_credentials(sso, KEYCLOAK_DATABASE),
        "sso/keycloak.yaml": [keycloak(sso, s.cluster_domain, db=keycloak_db())],
    }


_TITLES = {
    "operator/3scale-operator.yaml": "3scale operator: namespace, OperatorGroup (this namespace only), Subscription",
    "databases/3scale-databases.yaml": (
        "The databases 3scale 2.16 needs (system Redis, backend Redis storage and queues, system PostgreSQL).\n"
        "# Their <name>-credentials Secrets and the operator's system-database, system-redis and backend-redis\n"
        "# Secrets hold generated passwords: the kit creates them on the cluster, they are never committed"
    ),
    "apimanager/apimanager.yaml": (
        "APIManager with external databases and the llm-metrics custom policy in both gateways (needs RWX storage)"
    ),
    "sso/keycloak-operator.yaml": (
        "Red Hat build of Keycloak operator: namespace, OperatorGroup, Subscription (pinned channel, Manual)"
    ),
    "sso/keycloak-database.yaml": (
        "PostgreSQL for Keycloak (credentials Secret keycloak-postgresql-credentials is created by the kit)"
    ),
    "sso/keycloak.yaml": (
        "Keycloak server on PostgreSQL behind an edge route; the realm is imported by a "
        "KeycloakRealmImport wrapping manifests/sso/realm.yaml"
    ),
}


def rendered_files(settings: Any = EXAMPLE) -> dict[str, str]:
    """Relative path under ``manifests/`` → YAML text of every committed example manifest."""
    return {rel: _header(_TITLES[rel]) + _documents(objs) for rel, objs in committed_objects(settings).items()}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    stale = []
    for rel, text in rendered_files().items():
        path = MANIFESTS_DIR / rel
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        if check:
            stale.append(rel)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote manifests/{rel}")
    if stale:
        print("out of date (run python -m maas_helpers.manifests): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
