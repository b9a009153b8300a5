"""3scale Admin API wire conventions, shared by every route module.

- auth: `access_token` in query or body, else HTTP Basic (user or password), legacy `provider_key`;
  constant-time compare; 403 `{"error": "Access denied"}`.
- params: query + form + JSON body (on every verb, GET included) merged flat; nested `x[y]=z` form keys
  become objects; `wrapped(params, "service")` reads a model's params from under its wrapper key or flat.
- envelopes: `single("service", obj)`, `collection("services", "service", objs, ...)`.
- errors: raise `NotFound`, `Unprocessable({"field": ["msg"]})`, `BadRequest("...")`, `Forbidden`,
  `Refused({"base": [...]})` (403, a refused DELETE).
"""

from __future__ import annotations

import base64
import hmac
import json
import math
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from maas_sandbox.context import Sandbox

Obj = dict[str, Any]
MAX_PER_PAGE = 500


# -- errors ---------------------------------------------------------------------------------------
class ApiError(Exception):
    status = 500

    def response(self) -> Response:
        raise NotImplementedError


class NotFound(ApiError):
    status = 404

    def response(self) -> Response:
        return JSONResponse({"status": "Not found"}, status_code=404)


class Forbidden(ApiError):
    status = 403

    def __init__(self, message: str = "Access denied") -> None:
        super().__init__(message)
        self.message = message

    def response(self) -> Response:
        return JSONResponse({"error": self.message}, status_code=403)


class Unprocessable(ApiError):
    """422 `{"errors": {field: [messages]}}` (or a custom body, e.g. CMS `{"error": "..."}`)."""

    status = 422

    def __init__(self, errors: Obj | None = None, *, body: Obj | None = None) -> None:
        super().__init__(json.dumps(errors or body))
        self.body = body if body is not None else {"errors": errors or {}}

    def response(self) -> Response:
        return JSONResponse(self.body, status_code=422)


class Refused(Unprocessable):
    """A DELETE the model refuses: porta's responder answers 403 with the record's errors
    (`app/lib/three_scale/api/responder.rb` `error_status`: `:forbidden` on delete)."""

    status = 403

    def response(self) -> Response:
        return JSONResponse(self.body, status_code=403)


class BadRequest(ApiError):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def response(self) -> Response:
        return PlainTextResponse(self.message, status_code=400)


class PayloadTooLarge(ApiError):
    status = 413

    def response(self) -> Response:
        return PlainTextResponse("Request Entity Too Large", status_code=413)


MAX_BODY = 32 * 1024 * 1024  # Admin API bodies (CMS templates, OpenAPI specs) are small; more is refused


async def _bounded_body(request: Request) -> bytes:
    """The body, refused (413) past MAX_BODY: a declared length before reading, a streamed one as it comes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise PayloadTooLarge()
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise PayloadTooLarge()
        parts.append(chunk)
    body = b"".join(parts)
    request._body = body  # noqa: SLF001 - starlette's cache, so request.form() can still parse it
    return body


def required_missing(name: str) -> BadRequest:
    return BadRequest(f"Required parameter missing: {name}")


async def api_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


# -- params ---------------------------------------------------------------------------------------
def _set_nested(target: Obj, key: str, value: Any) -> None:
    """`service[name]` → target["service"]["name"]; `ids[]` → list."""
    if "[" not in key or not key.endswith("]"):
        target[key] = value
        return
    head, rest = key.split("[", 1)
    parts = [head] + rest[:-1].split("][")
    node = target
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if nxt == "":
            existing = node.setdefault(part, [])
            if not isinstance(existing, list):  # `a[b]=1&a[]=2`: Rack's ParameterTypeError, a 400
                raise _type_error("Array", existing, part)
            existing.append(value)
            return
        child = node.get(part)
        if child is not None and not isinstance(child, dict):  # `a[]=1&a[b]=2` or `a=1&a[b]=2`
            raise _type_error("Hash", child, part)
        if child is None:
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _type_error(expected: str, found: Any, name: str) -> BadRequest:
    got = "Array" if isinstance(found, list) else "Hash" if isinstance(found, dict) else "String"
    return BadRequest(f"Invalid query parameters: expected {expected} (got {got}) for param `{name}'")


async def read_params(request: Request) -> Obj:
    """Merged parameters of a request: query, then form or JSON body (body wins). Cached per request."""
    cached = getattr(request.state, "params", None)
    if cached is not None:
        return cached
    params: Obj = {}
    for key, value in request.query_params.multi_items():
        _set_nested(params, key, value)
    body = await _bounded_body(request)
    if body:
        ctype = request.headers.get("content-type", "")
        if "json" in ctype or body.lstrip()[:1] in (b"{", b"["):
            try:
                data = json.loads(body)
            except ValueError as exc:
                raise BadRequest("Invalid JSON body") from exc
            if isinstance(data, dict):
                params.update(data)
        elif "multipart/form-data" in ctype:
            form = await request.form()
            for key, value in form.multi_items():
                _set_nested(params, key, value)
        else:
            for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
                _set_nested(params, key, value)
    request.state.params = params
    return params


def wrapped(params: Obj, wrapper: str) -> Obj:
    """A model's attributes: flat params overlaid by those under the wrapper key (3scale wraps flat ones)."""
    nested = params.get(wrapper)
    if nested is None:
        return {k: v for k, v in params.items() if k not in ("access_token", "provider_key")}
    if not isinstance(nested, dict):
        raise Unprocessable(body={"error": f"Wrong type for parameter: {wrapper}"})
    flat = {k: v for k, v in params.items() if k not in ("access_token", "provider_key", wrapper)}
    return {**flat, **nested}


def as_bool(value: Any, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on", "t")


def parse_number(value: Any, kind: type = float) -> int | float:
    """A finite number from a parameter, as Rails' numericality reads it: NaN, Infinity, `inf` and overflowing
    literals (`1e999`) are "not a number" (Ruby's Float() refuses them); raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(value)
    number = float(value) if not isinstance(value, int) else value
    if not math.isfinite(number) or (isinstance(value, str) and value.strip().lower().lstrip("+-") in _NONFINITE):
        raise ValueError(value)
    if kind is int:
        if isinstance(value, str):
            return int(value)  # "1.5" is not an integer, as before
        return int(number)
    return float(number)


_NONFINITE = frozenset({"nan", "inf", "infinity"})


def as_int(value: Any, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise Unprocessable({field: ["is not a number"]}) from exc


def path_id(value: str) -> int:
    """Ids in paths: anything non-numeric or beyond the 64-bit id range is simply not found (as in Rails)."""
    try:
        oid = int(value)
    except (TypeError, ValueError) as exc:
        raise NotFound() from exc
    if not 0 < oid < 2**63:
        raise NotFound()
    return oid


# -- auth -----------------------------------------------------------------------------------------
def _basic_credentials(request: Request) -> list[str]:
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return []
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
    except ValueError:
        return []
    user, _, password = decoded.partition(":")
    return [v for v in (user, password) if v]


def _token_outside_body(request: Request) -> str | None:
    for key in ("access_token", "provider_key"):
        value = request.query_params.get(key)
        if value:
            return value
    creds = _basic_credentials(request)
    return creds[0] if creds else None


async def _checked(request: Request, expected: str) -> bool:
    """The query or Basic token is checked before the body is read: a body from a client without the token
    is never read (its size decides nothing). Only when neither holds the token is the body looked at."""
    if tokens_equal(_token_outside_body(request), expected):
        return True
    try:
        return tokens_equal(await presented_token(request), expected)
    except PayloadTooLarge:
        return False


async def presented_token(request: Request) -> str | None:
    params = await read_params(request)
    for key in ("access_token", "provider_key"):
        value = params.get(key)
        if isinstance(value, str) and value:
            return value
    creds = _basic_credentials(request)
    return creds[0] if creds else None


def tokens_equal(presented: str | None, expected: str) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


def sandbox_of(request: Request) -> Sandbox:
    return request.app.state.sandbox


async def require_admin(request: Request) -> Sandbox:
    """Dependency for every tenant Admin/Analytics/CMS route."""
    sandbox = sandbox_of(request)
    if not await _checked(request, sandbox.admin_token):
        raise Forbidden()
    return sandbox


async def require_master(request: Request) -> Sandbox:
    """Dependency for every Master API route (and the sandbox's test clock)."""
    sandbox = sandbox_of(request)
    if not await _checked(request, sandbox.master_token):
        raise Forbidden()
    return sandbox


def admin_router(**kwargs: Any) -> APIRouter:
    """A router whose every route needs the tenant token: checked once here, before the route reads anything
    (the endpoints take only `request` and `str` path parameters, so FastAPI reads no body before this runs)."""
    return APIRouter(dependencies=[Depends(require_admin)], **kwargs)


def master_api_router(**kwargs: Any) -> APIRouter:
    """A router whose every route needs the master token."""
    return APIRouter(dependencies=[Depends(require_master)], **kwargs)


# -- envelopes ------------------------------------------------------------------------------------
def public(obj: Obj) -> Obj:
    """Drop internal fields (names starting with `_`)."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def single(entity: str, obj: Obj, status: int = 200) -> JSONResponse:
    return JSONResponse({entity: public(obj)}, status_code=status)


def page_of(
    params: Obj, items: list[Obj], *, max_per_page: int = MAX_PER_PAGE, default_per_page: int | None = None
) -> tuple[list[Obj], Obj | None]:
    """3scale pagination (porta admin/api/filters/pagination.rb): `page` (1), `per_page` within 1..max, else the
    default (= max unless given: the Billing API's is 20); metadata only when it actually paginates
    (three_scale/api/collection.rb: per_page < total_entries)."""
    default = default_per_page or max_per_page
    try:
        page = max(int(params.get("page", 1)), 1)
    except (TypeError, ValueError):
        page = 1
    try:
        per_page = int(params.get("per_page", default))
    except (TypeError, ValueError):
        per_page = default
    if not 1 <= per_page <= max_per_page:
        per_page = default
    total = len(items)
    chunk = items[(page - 1) * per_page : page * per_page]
    if per_page >= total:
        return chunk, None
    meta = {
        "per_page": per_page,
        "total_entries": total,
        "total_pages": (total + per_page - 1) // per_page,
        "current_page": page,
    }
    return chunk, meta


def collection(
    name: str,
    entity: str,
    items: Iterable[Obj],
    params: Obj | None = None,
    *,
    paginate: bool = False,
    max_per_page: int = MAX_PER_PAGE,
) -> JSONResponse:
    rows = list(items)
    meta = None
    if paginate:
        rows, meta = page_of(params or {}, rows, max_per_page=max_per_page)
    body: Obj = {name: [{entity: public(o)} for o in rows]}
    if meta:
        body["metadata"] = meta
    return JSONResponse(body)


def deleted() -> Response:
    """3scale answers a successful DELETE with 200 and an empty body."""
    return Response(status_code=200, content=b"", media_type="application/json")


def link(rel: str, href: str) -> Obj:
    return {"rel": rel, "href": href}
