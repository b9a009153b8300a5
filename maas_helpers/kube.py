"""The one boundary to the Kubernetes API: a thin wrapper over the `kubernetes` dynamic client.

Everything the OpenShift platform does to a cluster goes through `Kube`'s few methods (apply, get, list,
delete, patch, access review, who am I), so unit tests replace exactly this class with a recording fake.
Objects go in and come out as plain dicts. API errors become one-line `MaasError`s naming the object.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maas_helpers.errors import MaasError

FIELD_MANAGER = "maas-helpers"
IN_CLUSTER_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


@dataclass(frozen=True)
class AccessReview:
    allowed: bool
    reason: str = ""


@dataclass(frozen=True)
class TlsSettings:
    """How the client checks the API server's certificate (reported in results; off only when asked)."""

    verify: bool = True
    ca_bundle: str | None = None

    def describe(self) -> str:
        if not self.verify:
            return "TLS verification OFF for the Kubernetes API (verify_tls: false)"
        if self.ca_bundle:
            return f"TLS verified with CA bundle {self.ca_bundle}"
        return "TLS verified with the kubeconfig / service-account CA"


def _what(api_version: str, kind: str, name: str | None, namespace: str | None) -> str:
    where = f" in namespace {namespace}" if namespace else ""
    return f"{kind} {name or ''}".strip() + f" ({api_version}){where}"


class Kube:
    """Dynamic-client access with server-side apply under field manager ``maas-helpers``."""

    def __init__(self, dynamic: Any, tls: TlsSettings | None = None) -> None:
        self._dyn = dynamic
        self.tls = tls or TlsSettings()
        self._served: set[tuple[str, str]] = set()  # kinds found served in this session

    # --- construction -----------------------------------------------------------------------------

    @classmethod
    def connect(
        cls,
        kubeconfig: str | Path | None = None,
        *,
        verify_tls: bool = True,
        ca_bundle: str | Path | None = None,
        context: str | None = None,
        cache_file: str | Path | None = None,
    ) -> Kube:
        """In-cluster config (a workbench pod) unless a kubeconfig is given or found; TLS on by default.

        With a kubeconfig, ``ca_bundle`` replaces its CA. In a pod the service-account CA is the one that
        signs the in-cluster API endpoint, so it is kept and ``ca_bundle`` serves the routes (Admin API).
        """
        from kubernetes import client, config
        from kubernetes.dynamic import DynamicClient

        configuration = client.Configuration()
        path = kubeconfig or os.environ.get("MAAS_KUBECONFIG")
        in_cluster = path is None and "KUBERNETES_SERVICE_HOST" in os.environ and IN_CLUSTER_TOKEN.exists()
        try:
            if in_cluster:
                config.load_incluster_config(client_configuration=configuration)
            else:
                config.load_kube_config(
                    config_file=str(path) if path else None, context=context, client_configuration=configuration
                )
        except (config.ConfigException, OSError, TypeError) as exc:
            raise MaasError(
                f"no Kubernetes credentials ({exc}); run `oc login` or set kubeconfig / MAAS_KUBECONFIG in the settings"
            ) from None
        bundle = None
        if not verify_tls:
            configuration.verify_ssl = False
        elif ca_bundle and not in_cluster:
            bundle = str(ca_bundle)
            if not Path(bundle).is_file():
                raise MaasError(f"ca_bundle {bundle} does not exist; fix the path in the settings or remove it")
            configuration.ssl_ca_cert = bundle
        api = client.ApiClient(configuration)
        # One authenticated request before anything else, so a rejected token, a wrong CA or an unreachable
        # server is one line now, whether the discovery cache file is cold (discovery would fail) or warm
        # (discovery makes no request and the error would surface later, mid-step).
        try:
            client.VersionApi(api).get_code(_preload_content=False, _request_timeout=30)
            dynamic = DynamicClient(api, cache_file=str(cache_file) if cache_file else None)
        except client.ApiException as exc:
            raise _api_error(exc, "the Kubernetes API", "connect to") from None
        except Exception as exc:  # TLS and reachability fail here
            raise _transport_error(exc, "the Kubernetes API", configuration.host) from None
        return cls(dynamic, TlsSettings(verify=verify_tls, ca_bundle=bundle))

    # --- the boundary -----------------------------------------------------------------------------

    def apply(self, obj: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        """Server-side apply (``application/apply-patch+yaml``, force conflicts): create or converge.
        ``dry_run`` lets the API server validate and default the object without persisting it."""
        meta = obj.get("metadata", {})
        resource = self._resource(obj["apiVersion"], obj["kind"])
        try:
            result = self._server_side_apply(resource, obj, meta, dry_run)
        except MaasError as exc:
            if exc.status == 404 and meta.get("namespace"):  # applying into a namespace that does not exist
                raise MaasError(
                    f"namespace {meta['namespace']} does not exist, so {obj['kind']} {meta.get('name')} cannot be "
                    "applied; create it first (notebook 1 / ensure_namespace, notebook 9 for the SSO namespace)",
                    status=404,
                ) from exc
            raise
        return _as_dict(result)

    def _server_side_apply(self, resource: Any, obj: dict[str, Any], meta: dict[str, Any], dry_run: bool) -> Any:
        with self._errors(obj["apiVersion"], obj["kind"], meta.get("name"), meta.get("namespace"), "apply"):
            return self._dyn.server_side_apply(
                resource,
                body=obj,
                name=meta.get("name"),
                namespace=meta.get("namespace"),
                field_manager=FIELD_MANAGER,
                force_conflicts=True,
                dry_run="All" if dry_run else None,
            )

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The object, or None when it (or its whole API, i.e. the CRD) does not exist."""
        from kubernetes.dynamic.exceptions import NotFoundError

        resource = self._lookup(api_version, kind)
        if resource is None:
            return None
        try:
            with self._errors(api_version, kind, name, namespace, "get"):
                return _as_dict(self._dyn.get(resource, name=name, namespace=namespace))
        except MaasError as exc:
            if isinstance(exc.__cause__, NotFoundError):
                return None
            raise

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        resource = self._lookup(api_version, kind)
        if resource is None:
            return []
        with self._errors(api_version, kind, None, namespace, "list"):
            result = _as_dict(self._dyn.get(resource, namespace=namespace, label_selector=label_selector))
        return list(result.get("items") or [])

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        """Delete; False when it was already gone (or its API is not installed)."""
        from kubernetes.dynamic.exceptions import NotFoundError

        resource = self._lookup(api_version, kind)
        if resource is None:
            return False
        try:
            with self._errors(api_version, kind, name, namespace, "delete"):
                self._dyn.delete(resource, name=name, namespace=namespace, propagation_policy="Foreground")
        except MaasError as exc:
            if isinstance(exc.__cause__, NotFoundError):
                return False
            raise
        return True

    def patch(
        self, api_version: str, kind: str, name: str, namespace: str | None, body: dict[str, Any]
    ) -> dict[str, Any]:
        """JSON merge patch of a few fields of an object the kit does not own (e.g. approving an InstallPlan)."""
        resource = self._resource(api_version, kind)
        with self._errors(api_version, kind, name, namespace, "patch"):
            result = self._dyn.patch(
                resource,
                body=body,
                name=name,
                namespace=namespace,
                content_type="application/merge-patch+json",
                field_manager=FIELD_MANAGER,
            )
        return _as_dict(result)

    def pod_log(self, name: str, namespace: str, container: str | None = None, tail_lines: int = 1) -> str:
        """The last lines of a pod's (previous, when it restarted) log; "" when it cannot be read."""
        from kubernetes import client

        core = client.CoreV1Api(self._dyn.client)
        for previous in (True, False):
            try:
                text = core.read_namespaced_pod_log(
                    name, namespace, container=container, tail_lines=tail_lines, previous=previous
                )
            except Exception:  # no previous container, or no permission: the log only improves a message
                continue
            if text:
                return str(text).strip()
        return ""

    def self_subject_access_review(
        self, verb: str, group: str, resource: str, namespace: str | None = None
    ) -> AccessReview:
        """Whether the current identity may ``verb`` ``resource.group`` (in ``namespace``)."""
        attrs: dict[str, Any] = {"verb": verb, "group": group, "resource": resource}
        if namespace:
            attrs["namespace"] = namespace
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attrs},
        }
        api = self._resource("authorization.k8s.io/v1", "SelfSubjectAccessReview")
        with self._errors("authorization.k8s.io/v1", "SelfSubjectAccessReview", None, namespace, "create"):
            result = _as_dict(self._dyn.create(api, body=body))
        status = result.get("status") or {}
        return AccessReview(bool(status.get("allowed")), str(status.get("reason") or ""))

    def whoami(self) -> str:
        """The user or service account name the API server sees (``SelfSubjectReview``, Kubernetes ≥ 1.28)."""
        try:
            api = self._lookup("authentication.k8s.io/v1", "SelfSubjectReview")
            if api is None:
                return "the current user"
            result = _as_dict(
                self._dyn.create(api, body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
            )
        except Exception:  # older clusters: the name only improves a message
            return "the current user"
        return str(((result.get("status") or {}).get("userInfo") or {}).get("username") or "the current user")

    # --- internals --------------------------------------------------------------------------------

    def _resource(self, api_version: str, kind: str) -> Any:
        resource = self._lookup(api_version, kind)
        if resource is None:
            raise MaasError(
                f"the cluster does not serve {kind} ({api_version}); install its operator first "
                "(ensure_operator / ensure_sso) and wait for its CSV to succeed"
            )
        return resource

    def serves(self, api_version: str, kind: str) -> bool:
        return self._lookup(api_version, kind) is not None

    def _lookup(self, api_version: str, kind: str) -> Any:
        """The dynamic client's resource, or None when the cluster does not serve the kind (yet).

        The dynamic client's discoverer throws its whole cache away on every miss; polling for a kind whose
        CRD is not installed yet would re-discover every API group each time. A kind not seen served in this
        session is first looked up in its own group version (one request); only a served kind reaches the
        discoverer."""
        from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

        key = (api_version, kind)
        if key not in self._served:
            path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            try:
                with self._errors(api_version, kind, None, None, "discover"):
                    listing = _as_dict(self._dyn.request("get", path))
            except MaasError as exc:
                if isinstance(exc.__cause__, NotFoundError):
                    return None
                raise
            kinds = {r.get("kind") for r in listing.get("resources") or [] if "/" not in str(r.get("name", ""))}
            if kind not in kinds:
                return None
        try:
            resource = self._dyn.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            return None
        self._served.add(key)
        return resource

    def _errors(self, api_version: str, kind: str, name: str | None, namespace: str | None, verb: str) -> _ApiErrors:
        return _ApiErrors(_what(api_version, kind, name, namespace), verb)


class _ApiErrors:
    """Context manager turning dynamic-client and transport errors into one-line MaasErrors."""

    def __init__(self, what: str, verb: str) -> None:
        self.what, self.verb = what, verb

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        # never swallows: an error passes through, or is raised again as a MaasError
        if exc is None or isinstance(exc, MaasError) or not isinstance(exc, Exception):
            return
        from kubernetes.client.rest import ApiException

        if isinstance(exc, ApiException):
            raise _api_error(exc, self.what, self.verb) from exc
        raise _transport_error(exc, self.what, None) from exc


def _api_error(exc: Any, what: str, verb: str) -> MaasError:
    status = getattr(exc, "status", None)
    detail = exc.summary() if hasattr(exc, "summary") else str(getattr(exc, "reason", ""))
    detail = " ".join(str(detail).split())[:300]
    if status == 401:
        return MaasError(f"{what}: the cluster rejected the credentials (401); run `oc login` again", status=401)
    if status == 403:
        return MaasError(
            f"cannot {verb} {what} (403 {detail}); ask a cluster admin to run this step or grant the permission",
            status=403,
        )
    if status == 404:
        return MaasError(f"{what} not found (404)", status=404)
    if status == 422:
        return MaasError(f"{what} was rejected by the API server (422 {detail}); fix the manifest", status=422)
    if status == 500 and "not declared in schema" in detail:
        # Strict field validation of a built-in kind (or a structural CRD) answers 500, not 422.
        return MaasError(
            f"{what} was rejected by the API server (500 {detail}): a field its schema does not declare; "
            "fix the manifest",
            status=500,
        )
    return MaasError(f"{verb} {what} failed ({status} {detail})", status=status)


def _transport_error(exc: BaseException, what: str, host: str | None) -> MaasError:
    if getattr(exc, "status", None) in (401, 403):  # discovery answered: the credentials, not the network
        return _api_error(exc, what, "discover")
    text = f"{type(exc).__name__}: {exc}"
    where = f" at {host}" if host else ""
    if "SSL" in text or "CERTIFICATE" in text.upper():
        return MaasError(
            f"{what}{where}: TLS verification failed; set ca_bundle to the cluster CA (or verify_tls: false, knowingly)"
        )
    if "Max retries" in text or "Connection" in text or "Name or service" in text:
        return MaasError(f"{what}{where}: cannot reach the API server; check the kubeconfig server URL and network")
    return MaasError(f"{what}{where}: {text[:300]}")


def _as_dict(result: Any) -> dict[str, Any]:
    if result is None:
        return {}
    if isinstance(result, dict):
        return result
    to_dict = getattr(result, "to_dict", None)
    if callable(to_dict):
        out: dict[str, Any] = to_dict()
        return out
    return {}
