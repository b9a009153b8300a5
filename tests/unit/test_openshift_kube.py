"""`maas_helpers.kube.Kube` over real HTTP(S): a loopback server speaking just enough of the Kubernetes API
(discovery, server-side apply, get, access review) to check what the dynamic client sends, and TLS."""

from __future__ import annotations

import copy
import datetime
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from maas_helpers import manifests as mf
from maas_helpers.errors import MaasError
from maas_helpers.kube import Kube

APIM = "/apis/apps.3scale.net/v1alpha1"
DISCOVERY = {
    "/version": {"major": "1", "minor": "30", "gitVersion": "v1.30.0"},
    "/api": {"kind": "APIVersions", "versions": ["v1"]},
    "/apis": {
        "kind": "APIGroupList",
        "groups": [
            {
                "name": g,
                "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v},
            }
            for g, v in (("apps.3scale.net", "v1alpha1"), ("authorization.k8s.io", "v1"))
        ],
    },
    "/api/v1": {
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [
            {
                "name": "namespaces",
                "kind": "Namespace",
                "namespaced": False,
                "verbs": ["get", "list", "patch", "delete"],
            },
            {"name": "secrets", "kind": "Secret", "namespaced": True, "verbs": ["get", "list", "patch", "delete"]},
        ],
    },
    APIM: {
        "kind": "APIResourceList",
        "groupVersion": "apps.3scale.net/v1alpha1",
        "resources": [
            {
                "name": "apimanagers",
                "kind": "APIManager",
                "namespaced": True,
                "verbs": ["get", "list", "patch", "delete"],
            }
        ],
    },
    "/apis/authorization.k8s.io/v1": {
        "kind": "APIResourceList",
        "groupVersion": "authorization.k8s.io/v1",
        "resources": [
            {
                "name": "selfsubjectaccessreviews",
                "kind": "SelfSubjectAccessReview",
                "namespaced": False,
                "verbs": ["create"],
            }
        ],
    },
}


class FakeApiServer(BaseHTTPRequestHandler):
    seen: list[dict] = []
    store: dict[str, dict] = {}

    def log_message(self, *args) -> None:
        pass

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _rejected(self) -> bool:
        """An expired or revoked token: kube-apiserver answers 401 to every request, discovery included."""
        if self.headers.get("Authorization") != "Bearer sha256~expired":
            return False
        self._reply(401, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "Unauthorized",
                          "reason": "Unauthorized", "code": 401})
        return True

    def _record(self) -> tuple[str, dict, dict | None]:
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = yaml.safe_load(self.rfile.read(length)) if length else None
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        FakeApiServer.seen.append(
            {
                "method": self.command,
                "path": url.path,
                "query": query,
                "content_type": self.headers.get("Content-Type"),
                "body": body,
            }
        )
        return url.path, query, body

    def do_GET(self) -> None:  # noqa: N802
        path, _, _ = self._record()
        if self._rejected():
            return None
        path = path.rstrip("/") or "/"  # the API server answers /version/ as /version
        if path in DISCOVERY:
            return self._reply(200, DISCOVERY[path])
        if path in FakeApiServer.store:
            return self._reply(200, FakeApiServer.store[path])
        return self._reply(404, {"kind": "Status", "code": 404, "message": "not found"})

    def do_PATCH(self) -> None:  # noqa: N802
        path, _, body = self._record()
        obj = copy.deepcopy(body or {})
        obj.setdefault("metadata", {})["resourceVersion"] = str(len(FakeApiServer.seen))
        FakeApiServer.store[path] = obj
        self._reply(200, obj)

    def do_POST(self) -> None:  # noqa: N802
        path, _, body = self._record()
        attrs = (body or {}).get("spec", {}).get("resourceAttributes", {})
        allowed = attrs.get("resource") != "subscriptions"
        self._reply(201, {**(body or {}), "status": {"allowed": allowed, "reason": "" if allowed else "no RBAC"}})


def _serve(server: ThreadingHTTPServer) -> Iterator[ThreadingHTTPServer]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http_server() -> Iterator[ThreadingHTTPServer]:
    FakeApiServer.seen.clear()
    FakeApiServer.store.clear()
    yield from _serve(ThreadingHTTPServer(("127.0.0.1", 0), FakeApiServer))


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "maas-test-apiserver")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "ca.crt", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[ThreadingHTTPServer, Path]]:
    FakeApiServer.seen.clear()
    cert, key = _self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApiServer)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    for s in _serve(server):
        yield s, cert


def _kubeconfig(tmp: Path, server: str, token: str = "sha256~test-token") -> Path:
    path = tmp / f"kubeconfig-{token[-7:]}"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "t",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": token}}],
                "contexts": [{"name": "t", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    return path


def test_apply_is_server_side_apply_with_the_kit_field_manager(http_server, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{http_server.server_address[1]}"
    kube = Kube.connect(_kubeconfig(tmp_path, url), cache_file=tmp_path / "discovery.json")
    obj = mf.apimanager("3scale", "apps.example.com", "maas", "ocs-storagecluster-cephfs")
    assert kube.get("apps.3scale.net/v1alpha1", "APIManager", "apimanager", "3scale") is None
    applied = kube.apply(obj)
    patch = [r for r in FakeApiServer.seen if r["method"] == "PATCH"][0]
    assert patch["path"] == f"{APIM}/namespaces/3scale/apimanagers/apimanager"
    assert patch["content_type"] == "application/apply-patch+yaml"
    assert patch["query"] == {"fieldManager": "maas-helpers", "force": "true"}
    assert patch["body"] == obj
    assert applied["spec"] == obj["spec"] and applied["metadata"]["resourceVersion"]
    again = kube.get("apps.3scale.net/v1alpha1", "APIManager", "apimanager", "3scale")
    assert again is not None and again["spec"]["wildcardDomain"] == "apps.example.com"
    kube.apply(obj, dry_run=True)
    assert [r for r in FakeApiServer.seen if r["method"] == "PATCH"][-1]["query"]["dryRun"] == "All"
    # a kind the cluster does not serve reads as absent, and writing it names the missing operator
    assert kube.get("k8s.keycloak.org/v2alpha1", "Keycloak", "keycloak", "rhbk") is None
    with pytest.raises(MaasError, match="does not serve Keycloak"):
        kube.apply(mf.keycloak("rhbk", "apps.example.com"))


def test_access_review_sends_resource_attributes(http_server, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{http_server.server_address[1]}"
    kube = Kube.connect(_kubeconfig(tmp_path, url), cache_file=tmp_path / "discovery.json")
    denied = kube.self_subject_access_review("create", "operators.coreos.com", "subscriptions", "3scale")
    assert not denied.allowed and denied.reason == "no RBAC"
    post = [r for r in FakeApiServer.seen if r["method"] == "POST"][0]
    assert post["path"] == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    assert post["body"]["spec"]["resourceAttributes"] == {
        "verb": "create",
        "group": "operators.coreos.com",
        "resource": "subscriptions",
        "namespace": "3scale",
    }
    assert kube.self_subject_access_review("create", "", "secrets", "3scale").allowed
    assert kube.whoami() == "the current user"  # SelfSubjectReview not served here


def test_tls_is_verified_by_default(https_server, tmp_path: Path) -> None:
    server, _ = https_server
    cfg = _kubeconfig(tmp_path, f"https://127.0.0.1:{server.server_address[1]}")
    with pytest.raises(MaasError, match="TLS verification failed"):
        Kube.connect(cfg, cache_file=tmp_path / "d1.json")


def test_custom_ca_bundle_is_honoured(https_server, tmp_path: Path) -> None:
    server, cert = https_server
    cfg = _kubeconfig(tmp_path, f"https://127.0.0.1:{server.server_address[1]}")
    kube = Kube.connect(cfg, ca_bundle=cert, cache_file=tmp_path / "d2.json")
    assert kube.tls.verify and kube.tls.ca_bundle == str(cert)
    assert str(cert) in kube.tls.describe()
    assert kube.get("v1", "Secret", "absent", "3scale") is None  # a real verified round trip


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_turning_verification_off_is_explicit_and_reported(https_server, tmp_path: Path) -> None:
    server, _ = https_server
    cfg = _kubeconfig(tmp_path, f"https://127.0.0.1:{server.server_address[1]}")
    kube = Kube.connect(cfg, verify_tls=False, cache_file=tmp_path / "d3.json")
    assert "OFF" in kube.tls.describe()
    assert kube.get("v1", "Secret", "absent", "3scale") is None


def test_missing_ca_bundle_and_missing_kubeconfig_are_one_line_errors(tmp_path: Path) -> None:
    cfg = _kubeconfig(tmp_path, "https://127.0.0.1:1")
    with pytest.raises(MaasError, match="ca_bundle .* does not exist"):
        Kube.connect(cfg, ca_bundle=tmp_path / "nope.crt")
    with pytest.raises(MaasError, match="oc login"):
        Kube.connect(tmp_path / "no-kubeconfig")


def test_rejected_token_is_one_line_with_a_cold_or_a_warm_discovery_cache(http_server, tmp_path: Path) -> None:
    """Issue 25 (1): a warm cache makes discovery send nothing, so the first error used to surface later, raw."""
    url = f"http://127.0.0.1:{http_server.server_address[1]}"
    cache = tmp_path / "discovery.json"
    Kube.connect(_kubeconfig(tmp_path, url), cache_file=cache).get("v1", "Secret", "x", "3scale")
    assert cache.exists()  # warm
    for cache_file in (cache, tmp_path / "cold.json"):
        before = len(FakeApiServer.seen)
        with pytest.raises(MaasError) as info:
            Kube.connect(_kubeconfig(tmp_path, url, "sha256~expired"), cache_file=cache_file)
        assert str(info.value) == (
            "the Kubernetes API: the cluster rejected the credentials (401); run `oc login` again"
        )
        assert [r["path"] for r in FakeApiServer.seen[before:]] == ["/version/"]  # one request, then the line


def test_wrong_ca_with_a_warm_cache_and_an_unreachable_server_are_one_line(https_server, tmp_path: Path) -> None:
    server, cert = https_server
    cfg = _kubeconfig(tmp_path, f"https://127.0.0.1:{server.server_address[1]}")
    cache = tmp_path / "warm.json"
    Kube.connect(cfg, ca_bundle=cert, cache_file=cache).get("v1", "Secret", "x", "3scale")
    with pytest.raises(MaasError, match="TLS verification failed; set ca_bundle") as info:
        Kube.connect(cfg, cache_file=cache)
    assert "\n" not in str(info.value)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(MaasError, match="cannot reach the API server; check the kubeconfig server URL"):
        Kube.connect(_kubeconfig(tmp_path, f"http://127.0.0.1:{port}"), cache_file=tmp_path / "none.json")


def test_polling_a_kind_not_served_yet_keeps_the_discovery_cache(http_server, tmp_path: Path) -> None:
    """Issue 25 (8): the dynamic client's discoverer re-reads every API group on each miss; the kit asks the
    kind's own group version once per poll and leaves the cache alone."""
    url = f"http://127.0.0.1:{http_server.server_address[1]}"
    kube = Kube.connect(_kubeconfig(tmp_path, url), cache_file=tmp_path / "discovery.json")
    assert kube.get("v1", "Secret", "x", "3scale") is None
    before = len(FakeApiServer.seen)
    for _ in range(3):
        assert kube.get("k8s.keycloak.org/v2alpha1", "Keycloak", "keycloak", "rhbk") is None
    paths = [r["path"] for r in FakeApiServer.seen[before:]]
    assert paths == ["/apis/k8s.keycloak.org/v2alpha1"] * 3  # no /apis, no /api, no other group re-read
