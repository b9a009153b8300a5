"""Compile a proxy config `content` (MODEL.md) into what the hot path needs, once per deploy/promote.

Mapping rules become regexes, error responses become ready bytes (only CORS and Retry-After are added
per request), the policy chain becomes objects, upstreams become (usage path, host, port, base path).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import jsonschema

from maas_resources import resource_root
from maas_sandbox.admin.builtin_policies import builtin_manifests
from maas_sandbox.gateway.cors import CorsPolicy
from maas_sandbox.gateway.credentials import header_name
from maas_sandbox.gateway.llm_metrics import DEFAULT_MAX_TOKENS, DEFAULT_MAX_TOKENS_ENV, LlmMetricsConfig
from maas_sandbox.gateway.mapping import MappingRule, compile_rule

log = logging.getLogger("maas_sandbox.gateway")

POLICIES_DIR = resource_root("policies")  # in a checkout and in an installed wheel (maas_resources)
PORTA_CONTENT_TYPE = "text/plain; charset=us-ascii"

# nginx's proxy_connect_timeout / proxy_read_timeout, which APIcast leaves at their 60 s defaults
CONNECT_TIMEOUT_ENV = "MAAS_SANDBOX_UPSTREAM_CONNECT_TIMEOUT"
READ_TIMEOUT_ENV = "MAAS_SANDBOX_UPSTREAM_READ_TIMEOUT"
DEFAULT_UPSTREAM_TIMEOUT = 60.0

# (config field stem, porta default status, porta default body)
_ERRORS = {
    "auth_missing": (403, "Authentication parameters missing"),
    "auth_failed": (403, "Authentication failed"),
    "no_match": (404, "No Mapping Rule matched"),
    "limits_exceeded": (429, "Usage limit exceeded"),
}


_REASONS = {s.value: s.phrase for s in HTTPStatus}  # a dict lookup per response (HTTPStatus() is an Enum call)
_STATUS_LINES: dict[int, bytes] = {}


def reason(status: int) -> str:
    return _REASONS.get(status, "Unknown")


def status_line(status: int) -> bytes:
    """`HTTP/1.1 <status> <reason>` and CRLF, made once per status code (upstream statuses are 3 digits)."""
    line = _STATUS_LINES.get(status)
    if line is None:
        line = b"HTTP/1.1 %d %s\r\n" % (status, reason(status).encode())
        if len(_STATUS_LINES) < 1000:
            _STATUS_LINES[status] = line
    return line


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    status: int
    head: bytes  # status line + Content-Type + Content-Length (no blank line)
    body: bytes
    extra: tuple[tuple[str, str], ...] = ()

    @classmethod
    def build(cls, status: int, content_type: str, body: str, extra: tuple[tuple[str, str], ...] = ()) -> ErrorResponse:
        data = body.encode()
        head = (
            f"HTTP/1.1 {status} {reason(status)}\r\nContent-Type: {content_type}\r\nContent-Length: {len(data)}\r\n"
        ).encode()
        return cls(status, head, data, extra)


def _nginx_error_page(status: int, title: str) -> ErrorResponse:
    """nginx's built-in error page, as APIcast sends it (no `error_page` set, `server_tokens off`, OpenResty)."""
    body = (
        f"<html>\r\n<head><title>{status} {title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {title}</h1></center>\r\n<hr><center>openresty</center>\r\n</body>\r\n</html>\r\n"
    ).encode()
    head = f"HTTP/1.1 {status} {title}\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n".encode()
    return ErrorResponse(status, head, body)


UPSTREAM_FAILED = _nginx_error_page(502, "Bad Gateway")  # cannot connect, connect timeout, broken response
UPSTREAM_TIMED_OUT = _nginx_error_page(504, "Gateway Time-out")  # read timeout before the response headers
BODY_TOO_LARGE = _nginx_error_page(413, "Request Entity Too Large")  # over client_max_body_size
URI_TOO_LONG = _nginx_error_page(414, "Request-URI Too Large")  # request line over one header buffer
HEADER_TOO_LARGE = ErrorResponse.build(  # a header line over one buffer, or the block over all of them
    400,
    "text/html",
    "<html>\r\n<head><title>400 Request Header Or Cookie Too Large</title></head>\r\n<body>\r\n"
    "<center><h1>400 Bad Request</h1></center>\r\n<center>Request Header Or Cookie Too Large</center>\r\n"
    "<hr><center>openresty</center>\r\n</body>\r\n</html>\r\n",
)


@dataclass(frozen=True, slots=True)
class Upstream:
    usage_path: str  # "/" or "/prefix" (stripped from the request path when not "/")
    host: str
    port: int
    base_path: str  # private endpoint path without trailing "/"
    host_header: str


@dataclass(slots=True)
class CompiledProduct:
    service_id: int
    environment: str
    version: int
    system_name: str = ""  # the service's, for the Prometheus labels
    credentials_location: str = "query"
    user_key: str = "user_key"
    user_key_header: str = "user-key"
    rules: list[MappingRule] = field(default_factory=list)
    errors: dict[str, ErrorResponse] = field(default_factory=dict)
    upstreams: list[Upstream] = field(default_factory=list)
    cors: CorsPolicy | None = None
    llm: LlmMetricsConfig | None = None
    apicast: bool = True
    secret_token: str | None = None
    connect_timeout: float = DEFAULT_UPSTREAM_TIMEOUT  # seconds to open an upstream connection (then 502)
    read_timeout: float = DEFAULT_UPSTREAM_TIMEOUT  # seconds of upstream silence between reads (then 504 / cut)

    def upstream_for(self, path: str) -> Upstream | None:
        for upstream in self.upstreams:
            prefix = upstream.usage_path
            if prefix == "/" or path == prefix or path.startswith(prefix + "/"):
                return upstream
        return None


@cache
def _llm_metrics_validator() -> jsonschema.protocols.Validator | None:
    manifest = POLICIES_DIR / "llm-metrics" / "1.0.0" / "apicast-policy.json"
    try:
        schema = json.loads(manifest.read_text())["configuration"]
    except (OSError, ValueError, KeyError):
        log.warning("llm-metrics manifest not found at %s; configs are not validated", manifest)
        return None
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def default_max_tokens() -> int:
    """Completion tokens a quota reserves for a generation request without max_tokens (sandbox setting)."""
    raw = os.environ.get(DEFAULT_MAX_TOKENS_ENV, "")
    try:
        value = int(raw)
    except ValueError:
        if raw:
            log.warning("%s=%r is not an integer; using %d", DEFAULT_MAX_TOKENS_ENV, raw, DEFAULT_MAX_TOKENS)
        return DEFAULT_MAX_TOKENS
    return value if value >= 0 else DEFAULT_MAX_TOKENS


def upstream_timeout(name: str) -> float:
    """An upstream timeout in seconds from the environment (sandbox setting); positive, else the default."""
    raw = os.environ.get(name, "")
    try:
        value = float(raw)
    except ValueError:
        if raw:
            log.warning("%s=%r is not a number; using %g s", name, raw, DEFAULT_UPSTREAM_TIMEOUT)
        return DEFAULT_UPSTREAM_TIMEOUT
    if not value > 0 or value == float("inf"):
        log.warning("%s=%r must be a positive number of seconds; using %g s", name, raw, DEFAULT_UPSTREAM_TIMEOUT)
        return DEFAULT_UPSTREAM_TIMEOUT
    return value


def _upstream(endpoint: str | None, usage_path: str) -> Upstream | None:
    if not endpoint:
        return None
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "") or not parts.hostname:
        log.warning("upstream %s is not plain http; the sandbox gateway cannot reach it", endpoint)
        return None
    port = parts.port or 80
    host_header = parts.hostname if port == 80 else f"{parts.hostname}:{port}"
    path = "/" + usage_path.strip("/") if usage_path and usage_path != "/" else "/"
    return Upstream(path, parts.hostname, port, parts.path.rstrip("/"), host_header)


_REMOVE_FIRST = re.compile(r"remove_first: '([^']*)'")


def _routing_upstream(service_id: int, rule: Mapping[str, Any]) -> Upstream | None:
    """A routing rule as porta generates it for a backend usage (routing_policy.rb): `url`, a path regex, and a
    `replace_path` removing the usage path. Other rule forms (headers, queries, liquid) are not emulated."""
    condition = rule.get("condition")
    ops = condition.get("operations") if isinstance(condition, Mapping) else None
    op = ops[0] if isinstance(ops, list) and len(ops) == 1 and isinstance(ops[0], Mapping) else {}
    regex = op.get("value") if op.get("match") == "path" else None
    url = rule.get("url") if isinstance(rule.get("url"), str) else None
    found = _REMOVE_FIRST.search(str(rule.get("replace_path") or ""))
    if url and found and regex == f"^({found[1]}/.*|{found[1]}/?)":
        return _upstream(url, found[1])
    if url and regex == "^(/.*)" and not rule.get("replace_path"):
        return _upstream(url, "/")
    log.warning("service %s: routing rule %s is not a backend usage rule; the sandbox gateway ignores it",
                service_id, json.dumps(rule)[:200])
    return None


def _upstreams(service_id: int, proxy: Mapping[str, Any]) -> list[Upstream]:
    """Where requests go: `proxy.api_backend`, or (nil when a backend is at a sub-path) the routing policy's
    rules, as porta writes the config (apicast_v2_deployment_service.rb)."""
    upstreams = []
    for policy in proxy.get("policy_chain") or []:
        config = policy.get("configuration")
        rules = config.get("rules") if policy.get("name") == "routing" and isinstance(config, Mapping) else None
        for rule in rules if isinstance(rules, list) else []:
            if isinstance(rule, Mapping):
                upstream = _routing_upstream(service_id, rule)
                if upstream is not None:
                    upstreams.append(upstream)
    if not upstreams:
        fallback = _upstream(proxy.get("api_backend"), "/")
        if fallback is not None:
            upstreams.append(fallback)
    # longest usage path first, so "/" is the catch-all
    return sorted(upstreams, key=lambda u: -len(u.usage_path.rstrip("/")))


def loadable(name: str, version: str) -> bool:
    """Whether this gateway has the policy's code: a builtin it knows, or a custom policy under policies/
    (on a cluster: one built into the APIcast image; the registry only holds its schema)."""
    if version == "builtin":
        return name in builtin_manifests()
    return (POLICIES_DIR / name / version / "apicast-policy.json").is_file()


def compile_content(content: Mapping[str, Any], environment: str, version: int) -> CompiledProduct:
    proxy: Mapping[str, Any] = content.get("proxy") or {}
    product = CompiledProduct(
        service_id=int(content.get("id") or proxy.get("service_id") or 0), environment=environment, version=version
    )
    product.system_name = str(content.get("system_name") or "")
    product.credentials_location = str(proxy.get("credentials_location") or "query")
    product.user_key = str(proxy.get("auth_user_key") or "user_key").lower()
    product.user_key_header = header_name(product.user_key)
    product.secret_token = proxy.get("secret_token") or None
    product.connect_timeout = upstream_timeout(CONNECT_TIMEOUT_ENV)
    product.read_timeout = upstream_timeout(READ_TIMEOUT_ENV)
    product.rules = [compile_rule(r) for r in proxy.get("proxy_rules") or []]

    for stem, (status, body) in _ERRORS.items():
        code = proxy.get(f"error_status_{stem}")
        text = proxy.get(f"error_{stem}")
        ctype = proxy.get(f"error_headers_{stem}") or PORTA_CONTENT_TYPE
        extra = (("X-3scale-matched-rules", ""),) if stem == "no_match" else ()
        product.errors[stem] = ErrorResponse.build(
            int(code) if code else status, str(ctype), str(text) if text is not None else body, extra
        )

    product.upstreams = _upstreams(product.service_id, proxy)

    names = []
    for policy in proxy.get("policy_chain") or []:
        name = policy.get("name")
        config = policy.get("configuration") or {}
        if not loadable(str(name), str(policy.get("version"))):
            # APIcast configuration.lua build_policy_chain: a policy it cannot load is logged and left out
            log.warning("service %s: failed to load policy: %s version: %s (not in this gateway); skipped",
                        product.service_id, name, policy.get("version"))
            continue
        if not isinstance(config, Mapping):
            # porta stores any non-blank configuration; APIcast (policy_chain.lua load_policy) ignores a policy
            # whose `.new(configuration)` crashes
            log.error("service %s: policy %s crashed in .new() (configuration is not an object); ignored",
                      product.service_id, name)
            continue
        if name == "cors":
            try:
                product.cors = CorsPolicy.from_config(config)
            except (TypeError, ValueError, AttributeError, re.error) as exc:
                log.error("service %s: policy cors crashed in .new() (%s); ignored", product.service_id, exc)
                continue
        elif name == "llm-metrics":
            validator = _llm_metrics_validator()
            errors = list(validator.iter_errors(config)) if validator else []
            if errors:
                log.error("service %s: llm-metrics configuration rejected: %s", product.service_id, errors[0].message)
                continue
            product.llm = LlmMetricsConfig.from_config(config)
            if not product.llm.default_max_tokens_configured:
                product.llm.default_max_tokens = default_max_tokens()
        names.append(name)
    product.apicast = "apicast" in names or not names
    return product
