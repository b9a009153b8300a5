"""Every Kubernetes object the kit creates on OpenShift, rendered as a plain dict by a pure function.

The OpenShift platform applies exactly these dicts; the sandbox platform renders and validates the same
ones, so a mistake in a manifest shows up in the sandbox tests too. The llm-metrics Secret and
CustomPolicyDefinition come from ``policies/render_manifests.py`` (one fact, one file: the policy
manifest ``apicast-policy.json``).

The committed YAML under ``manifests/operator/``, ``manifests/apimanager/`` and ``manifests/sso/`` is
this module's output for ``EXAMPLE`` settings (``python -m maas_helpers.manifests [--check]``).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from maas_helpers.errors import MaasError

if TYPE_CHECKING:
    from maas_helpers.config import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
POLICIES_DIR = REPO_ROOT / "policies"
POLICY_DIR = POLICIES_DIR / "llm-metrics" / "1.0.0"
MANIFESTS_DIR = REPO_ROOT / "manifests"

FIELD_MANAGER = "maas-helpers"
MANAGED_BY = {"app.kubernetes.io/managed-by": FIELD_MANAGER, "app.kubernetes.io/part-of": "maas"}

THREESCALE_PACKAGE = "3scale-operator"
RHBK_PACKAGE = "rhbk-operator"
RHBK_CHANNEL = "stable-v26"
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


def policy_secret(ns: str, policy_dir: Path = POLICY_DIR) -> dict[str, Any]:
    """Secret with the policy files, labelled watched-by so the operator re-rolls APIcast when it changes."""
    secret: dict[str, Any] = _policy_renderer().render_policy_secret(policy_dir, ns)
    secret["metadata"]["labels"] = _labels(secret["metadata"].get("labels"))
    return secret


def custom_policy_definition(ns: str, policy_dir: Path = POLICY_DIR) -> dict[str, Any]:
    cpd: dict[str, Any] = _policy_renderer().render_custom_policy_definition(policy_manifest(policy_dir), ns)
    cpd["metadata"]["labels"] = _labels(cpd["metadata"].get("labels"))
    return cpd


# --- APIManager ---------------------------------------------------------------------------------------


def apimanager(
    ns: str,
    wildcard_domain: str,
    tenant: str,
    storage_class: str,
    policy_dir: Path = POLICY_DIR,
    name: str = APIMANAGER_NAME,
) -> dict[str, Any]:
    """APIManager mounting the llm-metrics Secret in staging and production APIcast."""
    custom = _policy_renderer().render_apimanager_custom_policies(policy_manifest(policy_dir))
    return {
        "apiVersion": "apps.3scale.net/v1alpha1",
        "kind": "APIManager",
        "metadata": _meta(name, ns),
        "spec": {
            "wildcardDomain": wildcard_domain,
            "tenantName": tenant,
            "resourceRequirementsEnabled": False,
            "system": {"fileStorage": {"persistentVolumeClaim": {"storageClassName": storage_class}}},
            "apicast": custom["spec"]["apicast"],
        },
    }


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


def keycloak_realm_import(
    sso_namespace: str, realm: dict[str, Any], keycloak_name: str = KEYCLOAK_NAME
) -> dict[str, Any]:
    """KeycloakRealmImport wrapping a realm representation (the operator imports it once, when absent)."""
    realm_name = realm.get("realm")
    if not isinstance(realm_name, str) or not realm_name:
        raise ManifestError("realm representation has no 'realm' name; set realm['realm'] (e.g. 'maas')")
    return {
        "apiVersion": "k8s.keycloak.org/v2alpha1",
        "kind": "KeycloakRealmImport",
        "metadata": _meta(f"{keycloak_name}-{realm_name}".lower(), sso_namespace),
        "spec": {"keycloakCRName": keycloak_name, "realm": realm},
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
    return obj


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
    """Namespace, operator, policy Secret, APIManager and CustomPolicyDefinition, in apply order."""
    ns = settings.namespace
    return [
        namespace(ns),
        operator_group(ns),
        subscription(ns, settings.operator_channel, approval),
        policy_secret(ns),
        apimanager(ns, settings.cluster_domain, settings.tenant, settings.storage_class),
        custom_policy_definition(ns),
    ]


def sso_manifests(settings: Settings, realm: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    ns = settings.sso_namespace
    objs = [
        namespace(ns),
        operator_group(ns),
        subscription(ns, RHBK_CHANNEL, package=RHBK_PACKAGE),
        keycloak(ns, settings.cluster_domain),
    ]
    if realm is not None:
        objs.append(keycloak_realm_import(ns, realm))
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


def rendered_files(settings: Any = EXAMPLE) -> dict[str, str]:
    """Relative path under ``manifests/`` → YAML text of every committed example manifest."""
    s = settings
    ns = s.namespace
    return {
        "operator/3scale-operator.yaml": _header(
            "3scale operator: namespace, OperatorGroup (this namespace only), Subscription"
        )
        + _documents([namespace(ns), operator_group(ns), subscription(ns, s.operator_channel)]),
        "apimanager/apimanager.yaml": _header(
            "APIManager with the llm-metrics custom policy in both gateways (needs RWX storage, e.g. ODF CephFS)"
        )
        + _documents([apimanager(ns, s.cluster_domain, s.tenant, s.storage_class)]),
        "sso/keycloak-operator.yaml": _header(
            "Red Hat build of Keycloak operator: namespace, OperatorGroup, Subscription"
        )
        + _documents(
            [
                namespace(s.sso_namespace),
                operator_group(s.sso_namespace),
                subscription(s.sso_namespace, RHBK_CHANNEL, package=RHBK_PACKAGE),
            ]
        ),
        "sso/keycloak.yaml": _header(
            "Keycloak server behind an edge route; the realm is imported by a "
            "KeycloakRealmImport wrapping manifests/sso/realm.yaml"
        )
        + _documents([keycloak(s.sso_namespace, s.cluster_domain)]),
    }


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
