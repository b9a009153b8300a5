"""A fake API server at the `kubernetes` dynamic-client boundary: the real `maas_helpers.kube.Kube` runs on top.

It behaves as kube-apiserver does where the kit depends on it (read from upstream, Kubernetes master):
- RBAC on every request, with the real Forbidden text (`apiserver/pkg/endpoints/handlers/responsewriters/
  errors.go` forbiddenMessage; `apimachinery/pkg/api/errors/errors.go` NewForbidden): `secrets "x" is forbidden:
  User "u" cannot get resource "secrets" in API group "" in the namespace "ns"`. Server-side apply is a PATCH
  (verb patch) and also needs create when the object does not exist.
- Strict field validation (`fieldValidation=Strict`, the default for server-side apply since 1.27): a field the
  schema does not declare is an HTTP 500 "failed to create typed patch object … field not declared in schema";
  a wrong type is a 422. Schemas: the real CRDs (../shared/reference/data/crds) and the client models.
- Status filled on read: a PersistentVolumeClaim reads back with `status.phase: Pending` until bound.
- No-op apply keeps the resourceVersion; dry-run (`dryRun=All`) answers without storing.
- Deleting a namespace leaves it `Terminating` (content gone) until `finish_terminating()`; creating into a
  Terminating namespace is a 403 "unable to create new content in namespace … because it is being terminated",
  into a missing one a 404.
- Discovery: a kind not served raises ResourceNotFoundError from `resources.get`; each such miss is counted,
  because the real LazyDiscoverer throws its whole cache away on a miss (`misses`).
- 401 for every request when the token is rejected (`token_valid = False`).
Operators are not run: tests script their status sequences (`script`).
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes.client.rest import ApiException
from kubernetes.dynamic.exceptions import ResourceNotFoundError, api_exception

from maas_helpers import crdcheck
from maas_helpers.kube import AccessReview, Kube

REPO = Path(__file__).resolve().parents[2]
CRDS = next((p for p in (REPO.parent / "shared/reference/data/crds", Path("/work/shared/reference/data/crds"))
             if (p / "SOURCES.txt").exists()), None)
WHO = "system:serviceaccount:workbench:notebook"


@dataclass(frozen=True)
class Res:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def group(self) -> str:
        return self.api_version.split("/")[0] if "/" in self.api_version else ""

    @property
    def group_version(self) -> str:
        return self.api_version


KINDS = [
    Res("v1", "Namespace", "namespaces", False),
    Res("v1", "Secret", "secrets", True),
    Res("v1", "Service", "services", True),
    Res("v1", "PersistentVolumeClaim", "persistentvolumeclaims", True),
    Res("v1", "Pod", "pods", True),
    Res("apps/v1", "Deployment", "deployments", True),
    Res("storage.k8s.io/v1", "StorageClass", "storageclasses", False),
    Res("authorization.k8s.io/v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False),
    Res("authentication.k8s.io/v1", "SelfSubjectReview", "selfsubjectreviews", False),
    Res("route.openshift.io/v1", "Route", "routes", True),
    Res("operators.coreos.com/v1", "OperatorGroup", "operatorgroups", True),
    Res("operators.coreos.com/v1alpha1", "Subscription", "subscriptions", True),
    Res("operators.coreos.com/v1alpha1", "InstallPlan", "installplans", True),
    Res("operators.coreos.com/v1alpha1", "ClusterServiceVersion", "clusterserviceversions", True),
    Res("apps.3scale.net/v1alpha1", "APIManager", "apimanagers", True),
    Res("capabilities.3scale.net/v1beta1", "CustomPolicyDefinition", "custompolicydefinitions", True),
    Res("k8s.keycloak.org/v2alpha1", "Keycloak", "keycloaks", True),
    Res("k8s.keycloak.org/v2alpha1", "KeycloakRealmImport", "keycloakrealmimports", True),
]
# What an operator creates (the kit never applies these): a scripted status makes them appear.
OPERATOR_MADE = {"InstallPlan", "ClusterServiceVersion", "Pod", "Route"}
SERVER_SET_META = ("resourceVersion", "generation", "uid", "creationTimestamp", "managedFields")


# The CRDs of the kinds the kit writes (the directory holds others, some of them megabytes of YAML).
CRD_FILES = ("apps.3scale.net_apimanagers.yaml", "capabilities.3scale.net_custompolicydefinitions.yaml",
             "keycloakrealmimports.k8s.keycloak.org-v1.yml", "keycloaks.k8s.keycloak.org-v1.yml",
             "operators.coreos.com_operatorgroups.yaml", "operators.coreos.com_subscriptions.yaml")


def _crd_schemas(crd_dir: Path) -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], Any] = {}
    for name in CRD_FILES:
        for doc in yaml.load_all((crd_dir / name).read_text(encoding="utf-8"), Loader=yaml.CSafeLoader):
            spec = doc["spec"]
            for version in spec.get("versions") or []:
                schema = (version.get("schema") or {}).get("openAPIV3Schema")
                if version.get("served") and schema:
                    out[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = schema
    return out


def _schemas() -> tuple[dict[tuple[str, str], Any], Any]:
    if CRDS is None:
        return {}, None
    crds = _crd_schemas(CRDS)
    core, meta = crdcheck.load_core_schemas(CRDS / "core-v1.json")
    built_in = {
        ("v1", "Service"): crdcheck.model_schema("V1Service"),
        ("v1", "PersistentVolumeClaim"): crdcheck.model_schema("V1PersistentVolumeClaim"),
        ("apps/v1", "Deployment"): crdcheck.model_schema("V1Deployment"),
    }
    return {**crds, **core, **built_in}, meta


_SCHEMAS: tuple[dict[tuple[str, str], Any], Any] | None = None


def schemas() -> tuple[dict[tuple[str, str], Any], Any]:
    global _SCHEMAS
    if _SCHEMAS is None:
        _SCHEMAS = _schemas()
    return _SCHEMAS


def api_error(status: int, reason: str, message: str, details: dict[str, Any] | None = None) -> Exception:
    """The dynamic client's exception for an API Status, as the real client raises it."""
    exc = ApiException(status=status, reason=reason)
    exc.body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
                           "reason": reason, "details": details or {}, "code": status})
    exc.headers = {"Content-Type": "application/json"}
    return api_exception(exc)


def forbidden_text(user: str, verb: str, res: Res, name: str | None, namespace: str | None) -> str:
    qualified = f"{res.plural}.{res.group}" if res.group else res.plural
    subject = f'{qualified} "{name}"' if name else qualified
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    return (f'{subject} is forbidden: User "{user}" cannot {verb} resource "{res.plural}" '
            f'in API group "{res.group}" {scope}')


def unknown_fields(value: Any, schema: dict[str, Any], path: str = "", preserved: bool = False,
                   ) -> tuple[list[str], list[str]]:
    """(refused, pruned): fields a schema does not declare. Where the node itself preserves unknown fields they
    stay; below an ancestor that preserves them (the APIManager's `spec`) the server drops them silently even
    with Strict; anywhere else Strict refuses them (the issue's observation on kube-apiserver 1.36)."""
    refused: list[str] = []
    pruned: list[str] = []
    keeps = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, child in value.items():
            where = f"{path}.{key}" if path else key
            if props is not None and key in props:
                r, p = unknown_fields(child, props[key], where, preserved or keeps)
            elif isinstance(extra, dict):
                r, p = unknown_fields(child, extra, where, preserved or keeps)
            elif keeps or (props is None and extra is not False):
                continue
            elif preserved:
                r, p = [], [where]
            else:
                r, p = [where], []
            refused += r
            pruned += p
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            r, p = unknown_fields(item, schema["items"], f"{path}[{i}]", preserved or keeps)
            refused += r
            pruned += p
    return refused, pruned


def _drop(obj: dict[str, Any], path: str) -> None:
    node: Any = obj
    parts = path.replace("]", "").replace("[", ".").split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node.pop(parts[-1], None)


class Discovery:
    """`DynamicClient.resources`: get() by apiVersion and kind; a miss is a full re-discovery upstream."""

    def __init__(self, server: FakeDynamic) -> None:
        self.server = server
        self.misses = 0
        self.lookups = 0

    def get(self, api_version: str, kind: str, **_: Any) -> Res:
        self.server._authenticate()
        self.lookups += 1
        res = self.server.served.get((api_version, kind))
        if res is None:
            self.misses += 1
            raise ResourceNotFoundError(f"No matches found for {{'api_version': {api_version!r}, 'kind': {kind!r}}}")
        return res


class FakeDynamic:
    """Stands in for `kubernetes.dynamic.DynamicClient`: same methods, answers as kube-apiserver does."""

    def __init__(self) -> None:
        self.served: dict[tuple[str, str], Res] = {(r.api_version, r.kind): r for r in KINDS}
        self.resources = Discovery(self)
        self.objects: dict[tuple[str, str, str | None, str], dict[str, Any]] = {}
        self.applied: list[dict[str, Any]] = []  # every object written by server-side apply (not dry-run)
        self.dry_runs: list[dict[str, Any]] = []
        self.patched: list[tuple[str, str, dict[str, Any]]] = []
        self.deleted: list[tuple[str, str | None, str]] = []
        self.reviews: list[tuple[str, str, str, str | None]] = []
        self.requests: list[tuple[str, str]] = []  # (verb, what) of every resource request
        self.denied: set[tuple[str, str, str, str | None]] = set()
        self.rbac: Callable[[str, str, str, str | None], bool] | None = None  # overrides `denied` when set
        self.statuses: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self.logs: dict[str, str] = {}
        self.user = WHO
        self.token_valid = True
        self.validate = True
        self.deployments_roll_out = True  # the Deployment controller: applied Deployments become ready
        self.fail_next: dict[tuple[str, str], Exception] = {}  # (verb, kind) → raise once (network, 403, …)
        self._rv = 0
        self.client = None

    # --- test controls ------------------------------------------------------------------------------------

    def unserve(self, api_version: str, kind: str) -> None:
        self.served.pop((api_version, kind), None)

    def put(self, obj: dict[str, Any]) -> None:
        """Store an object as someone else made it (no RBAC, no validation)."""
        self._rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self._rv)
        m = obj["metadata"]
        self.objects[(obj["apiVersion"], obj["kind"], m.get("namespace"), m["name"])] = obj

    def script(self, kind: str, name: str, namespace: str, *statuses: dict[str, Any]) -> None:
        """Successive reads see these statuses (the last one repeats): the operator's work, replayed."""
        self.statuses[(kind, namespace, name)] = list(statuses)

    def finish_terminating(self) -> None:
        for key in [k for k, o in self.objects.items()
                    if o["kind"] == "Namespace" and (o.get("status") or {}).get("phase") == "Terminating"]:
            del self.objects[key]

    def allowed(self, verb: str, group: str, resource: str, namespace: str | None) -> bool:
        if self.rbac is not None:
            return self.rbac(verb, group, resource, namespace)
        return (verb, group, resource, namespace) not in self.denied

    # --- internals ----------------------------------------------------------------------------------------

    def _authenticate(self) -> None:
        if not self.token_valid:
            raise api_error(401, "Unauthorized", "Unauthorized")

    def _authorize(self, verb: str, res: Res, name: str | None, namespace: str | None) -> None:
        if res.kind == "Namespace" and name:
            namespace = name  # apiserver requestinfo.go: /namespaces/{name} is attributed to that namespace
        self._authenticate()
        self.requests.append((verb, f"{res.kind} {namespace or ''}/{name or ''}"))
        injected = self.fail_next.pop((verb, res.kind), None)
        if injected is not None:
            raise injected
        if not self.allowed(verb, res.group, res.plural, namespace):
            raise api_error(403, "Forbidden", forbidden_text(self.user, verb, res, name, namespace),
                            {"name": name or "", "group": res.group, "kind": res.plural})

    def _key(self, res: Res, name: str, namespace: str | None) -> tuple[str, str, str | None, str]:
        return (res.api_version, res.kind, namespace if res.namespaced else None, name)

    def _read(self, key: tuple[str, str, str | None, str]) -> dict[str, Any] | None:
        api_version, kind, namespace, name = key
        obj = self.objects.get(key)
        seq = self.statuses.get((kind, namespace or "", name))
        if seq is not None and (obj is not None or kind in OPERATOR_MADE):
            if obj is None:
                self.put({"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": namespace}})
                obj = self.objects[key]
            obj["status"] = seq.pop(0) if len(seq) > 1 else seq[0]
        if obj is not None and kind == "PersistentVolumeClaim" and not (obj.get("status") or {}).get("phase"):
            obj = {**obj, "status": {"phase": "Pending"}}  # filled on read, as the real server shows a new claim
        return copy.deepcopy(obj) if obj is not None else None

    def _check(self, obj: dict[str, Any]) -> list[str]:
        """Strict field validation; returns the paths the server prunes silently (see `unknown_fields`)."""
        by_kind, meta = schemas()
        schema = by_kind.get((obj["apiVersion"], obj["kind"]))
        if not self.validate or schema is None:
            return []
        m = obj["metadata"]
        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}  # always allowed
        refused, pruned = unknown_fields(body, schema)
        if refused:
            raise api_error(
                500, "InternalError",
                f"failed to create typed patch object ({m.get('namespace', '')}/{m['name']}; {obj['apiVersion']}, "
                f"Kind={obj['kind']}): .{refused[0]}: field not declared in schema",
            )
        problems = crdcheck.schema_errors(obj, schema, meta)
        if problems:
            raise api_error(422, "Invalid", f"{obj['kind']} \"{m['name']}\" is invalid: {problems[0]}")
        return pruned

    def _namespace_open(self, namespace: str | None) -> None:
        if namespace is None:
            return
        ns = self.objects.get(("v1", "Namespace", None, namespace))
        if ns is None:
            raise api_error(404, "NotFound", f'namespaces "{namespace}" not found')
        if (ns.get("status") or {}).get("phase") == "Terminating":
            raise api_error(403, "Forbidden", f"unable to create new content in namespace {namespace} because it "
                            "is being terminated")

    # --- the DynamicClient methods the kit calls ------------------------------------------------------------

    def request(self, method: str, path: str, **_: Any) -> dict[str, Any]:
        self._authenticate()
        gv = "v1" if path == "/api/v1" else path.removeprefix("/apis/")
        found = [r for r in self.served.values() if r.api_version == gv]
        if not found:
            raise api_error(404, "NotFound", "the server could not find the requested resource")
        return {"kind": "APIResourceList", "groupVersion": gv,
                "resources": [{"name": r.plural, "kind": r.kind, "namespaced": r.namespaced} for r in found]}

    def get(self, res: Res, name: str | None = None, namespace: str | None = None,
            label_selector: str | None = None, **_: Any) -> dict[str, Any]:
        if name is None:
            self._authorize("list", res, None, namespace)
            wanted = dict(p.split("=", 1) for p in label_selector.split(",")) if label_selector else {}
            items = []
            for key in list(self.objects):
                av, kind, ns, _n = key
                if av != res.api_version or kind != res.kind or (namespace is not None and ns != namespace):
                    continue
                obj = self._read(key)
                labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
                if obj is not None and all(labels.get(k) == v for k, v in wanted.items()):
                    items.append(obj)
            return {"kind": f"{res.kind}List", "items": items}
        self._authorize("get", res, name, namespace)
        obj = self._read(self._key(res, name, namespace))
        if obj is None:
            raise api_error(404, "NotFound", f'{res.plural} "{name}" not found')
        return obj

    def server_side_apply(self, res: Res, body: dict[str, Any], name: str, namespace: str | None = None,
                          field_manager: str | None = None, force_conflicts: bool = False,
                          dry_run: str | None = None, **_: Any) -> dict[str, Any]:
        key = self._key(res, name, namespace)
        current = self.objects.get(key)
        self._authorize("patch", res, name, namespace)
        if current is None:
            self._authorize("create", res, name, namespace)
            self._namespace_open(namespace if res.namespaced else None)
        pruned = self._check(body)
        if dry_run:
            self.dry_runs.append(copy.deepcopy(body))
        desired = copy.deepcopy({k: v for k, v in body.items() if k != "status"})
        for path in pruned:
            _drop(desired, path)
        if "stringData" in desired:  # merged into data key by key, as the server does
            merged = dict((current or {}).get("data") or {})
            merged.update({k: base64.b64encode(v.encode()).decode() for k, v in desired.pop("stringData").items()})
            desired["data"] = merged
        meta = desired.setdefault("metadata", {})
        if current is not None:
            meta["labels"] = {**((current.get("metadata") or {}).get("labels") or {}), **(meta.get("labels") or {})}
            for k in SERVER_SET_META:
                if k in current["metadata"]:
                    meta[k] = current["metadata"][k]
            if "status" in current:
                desired["status"] = current["status"]
            elif res.kind == "PersistentVolumeClaim":
                desired["status"] = {"phase": "Pending"}  # the status shown on read is stored at the first update
            if current == desired:
                return copy.deepcopy(current)
            if current.get("spec") != desired.get("spec"):
                meta["generation"] = int(meta.get("generation") or 1) + 1
        else:
            meta["generation"] = 1
            meta["uid"] = f"uid-{len(self.objects) + 1}"
        if res.kind == "Deployment" and self.deployments_roll_out:
            n = desired["spec"].get("replicas", 1)
            desired["status"] = {"observedGeneration": meta["generation"], "updatedReplicas": n, "readyReplicas": n}
        if dry_run:
            return desired
        self.applied.append(copy.deepcopy(body))
        self.put(desired)
        return copy.deepcopy(self.objects[key])

    def delete(self, res: Res, name: str, namespace: str | None = None, **_: Any) -> dict[str, Any]:
        self._authorize("delete", res, name, namespace)
        self.deleted.append((res.kind, namespace if res.namespaced else None, name))
        key = self._key(res, name, namespace)
        obj = self.objects.get(key)
        if obj is None:
            raise api_error(404, "NotFound", f'{res.plural} "{name}" not found')
        if res.kind == "Namespace":
            for k in [k for k in self.objects if k[2] == name]:
                del self.objects[k]
            obj.setdefault("status", {})["phase"] = "Terminating"
            obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
            return {"kind": "Status", "status": "Success"}
        del self.objects[key]
        return {"kind": "Status", "status": "Success"}

    def patch(self, res: Res, body: dict[str, Any], name: str, namespace: str | None = None,
              **_: Any) -> dict[str, Any]:
        self._authorize("patch", res, name, namespace)
        key = self._key(res, name, namespace)
        obj = self.objects.get(key)
        if obj is None:
            raise api_error(404, "NotFound", f'{res.plural} "{name}" not found')
        self.patched.append((res.kind, name, body))
        obj.setdefault("spec", {}).update(body.get("spec", {}))
        return copy.deepcopy(obj)

    def create(self, res: Res, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        self._authenticate()
        if res.kind == "SelfSubjectReview":
            return {**body, "status": {"userInfo": {"username": self.user}}}
        if res.kind == "SelfSubjectAccessReview":
            a = body["spec"]["resourceAttributes"]
            review = (a["verb"], a.get("group", ""), a["resource"], a.get("namespace"))
            self.reviews.append(review)
            return {**body, "status": {"allowed": self.allowed(*review)}}
        raise NotImplementedError(res.kind)


SERVER_CONTROLS = {"rbac", "token_valid", "user", "validate", "deployments_roll_out"}


class FakeKube(Kube):
    """The real `Kube` over `FakeDynamic`; the fake's controls and records are reachable as attributes."""

    def __init__(self) -> None:
        super().__init__(FakeDynamic())

    @property
    def server(self) -> FakeDynamic:
        return self._dyn  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_dyn":
            raise AttributeError(name)
        return getattr(self._dyn, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in SERVER_CONTROLS:  # the fake server's switches, set through the Kube the test holds
            setattr(self._dyn, name, value)
        else:
            super().__setattr__(name, value)

    def pod_log(self, name: str, namespace: str, container: str | None = None, tail_lines: int = 1) -> str:
        return self.server.logs.get(name, "")  # the kubelet's log endpoint is not part of this fake


def project_admin(*namespaces: str) -> Callable[[str, str, str, str | None], bool]:
    """RBAC of `admin` bound in ``namespaces``, with OLM's aggregated rules (OLM deploy/chart/templates/
    0000_50_olm_09-aggregated.clusterrole.yaml): subscriptions writable, operatorgroups and installplans read-only;
    no cluster-scoped writes; reading its own namespaces."""

    def allowed(verb: str, group: str, resource: str, namespace: str | None) -> bool:
        if resource == "namespaces":
            return verb == "get" and namespace in namespaces
        if namespace not in namespaces:
            return False
        if group == "operators.coreos.com":
            if resource in ("operatorgroups", "installplans", "clusterserviceversions", "catalogsources"):
                return verb in ("get", "list", "watch") or (verb == "delete" and resource != "operatorgroups")
            return True
        return True

    return allowed


def nobody(verb: str, group: str, resource: str, namespace: str | None) -> bool:
    return False


__all__ = ["AccessReview", "FakeClock", "FakeDynamic", "FakeKube", "QuietProgress", "WHO", "api_error",
           "forbidden_text", "kit_object", "nobody", "project_admin", "schemas"]


# --- what the OpenShift platform tests share ---------------------------------------------------------------


class FakeClock:
    """`clock` and `sleep` for the platform: sleeping moves time, so waits run without waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


class QuietProgress:
    def __init__(self, title: str) -> None:
        self.title = title

    def update(self, ready: int, total: int, waiting: str = "") -> None:
        pass

    def close(self) -> None:
        pass


def kit_object(obj: dict[str, Any], instance: str = "3scale") -> dict[str, Any]:
    """The object as the kit sends it: with its ownership labels for ``instance``."""
    from maas_helpers.ownership import cluster_labels

    out = copy.deepcopy(obj)
    out["metadata"].setdefault("labels", {}).update(cluster_labels(instance))
    return out


def every_applied_object(settings: Any, realm: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every object the OpenShift platform applies for ``settings`` (notebooks 1, 2 and 9, databases deployed),
    exactly as it sends them, captured on this fake with the operators' answers scripted."""
    from maas_helpers import manifests as mf
    from maas_helpers.platform.openshift import OpenShiftPlatform

    kube, clock = FakeKube(), FakeClock()
    kube.put({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": settings.storage_class},
              "provisioner": "openshift-storage.cephfs.csi.ceph.com"})
    ns, sso = settings.namespace, settings.sso_namespace
    kube.script("Subscription", mf.THREESCALE_PACKAGE, ns, {"installedCSV": "3scale-operator.v0.12.3"})
    kube.script("ClusterServiceVersion", "3scale-operator.v0.12.3", ns, {"phase": "Succeeded"})
    csv = f"{mf.RHBK_PACKAGE}.v{settings.sso_channel.removeprefix('stable-v')}.5"
    kube.script("Subscription", mf.RHBK_PACKAGE, sso, {"installedCSV": csv})
    kube.script("ClusterServiceVersion", csv, sso, {"phase": "Succeeded"})
    kube.script("Keycloak", mf.KEYCLOAK_NAME, sso, {"conditions": [{"type": "Ready", "status": "True"}]})
    kube.script("KeycloakRealmImport", f"{mf.KEYCLOAK_NAME}-maas", sso,
                {"conditions": [{"type": "Done", "status": "True"}]})
    p = OpenShiftPlatform(settings, kube, clock=clock, sleep=clock.sleep, progress=QuietProgress)
    p.ensure_namespace()
    p.ensure_operator()
    p.ensure_policy_secret()
    p.ensure_apimanager()
    p.ensure_custom_policy_definition()
    p.ensure_sso(realm or {"realm": "maas", "enabled": True, "clients": [
        {"clientId": "3scale-portal", "secret": "dry-run-only", "redirectUris": ["https://maas.example/cb"]}]})
    return [copy.deepcopy(o) for o in kube.applied]
