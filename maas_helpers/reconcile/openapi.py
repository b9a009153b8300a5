"""The OpenAPI 3 document of a product's ActiveDoc: its real production URL, bearer auth (no JWT format),
and the paths its model kind serves."""

from __future__ import annotations

from typing import Any

from maas_helpers.catalogue import Product

_USAGE = {"type": "object", "properties": {k: {"type": "integer"} for k in
                                           ("prompt_tokens", "completion_tokens", "total_tokens")}}
EXAMPLE_MAX_TOKENS = 64  # short enough for a quick first answer, inside every plan's token limit
_JSON_OK = {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}}


def _body(schema: dict[str, Any], example: dict[str, Any]) -> dict[str, Any]:
    # A whole-body example is what Swagger UI puts in "Try it out"; without one it builds the body from the
    # types (max_tokens 0, stream true, model "string"), which the model server refuses.
    return {"required": True, "content": {"application/json": {"schema": schema, "example": example}}}


def _completion_response() -> dict[str, Any]:
    return {"200": {"description": "The completion; `usage` counts the tokens billed to the application.",
                    "content": {"application/json": {"schema": {"type": "object", "properties": {
                        "id": {"type": "string"}, "model": {"type": "string"},
                        "choices": {"type": "array", "items": {"type": "object"}}, "usage": _USAGE}}}}},
            "401": {"description": "Missing key (403 by default in 3scale)"},
            "429": {"description": "Usage limit exceeded (requests or tokens)"}}


def _operations(product: Product) -> dict[str, dict[str, Any]]:
    model = {"type": "string", "example": product.model}
    name = product.model
    short = {"max_tokens": EXAMPLE_MAX_TOKENS, "temperature": 0, "stream": False}
    ops: dict[str, dict[str, Any]] = {
        "v1-models": {"summary": "List the served models", "responses": _JSON_OK},
        "v1-completions": {"summary": "Text completion", "requestBody": _body({
            "type": "object", "required": ["model", "prompt"], "properties": {
                "model": model, "prompt": {"type": "string", "example": "San Francisco is a"},
                "max_tokens": {"type": "integer", "example": 15}, "temperature": {"type": "number", "example": 0},
                "stream": {"type": "boolean", "default": False}}},
            {"model": name, "prompt": "San Francisco is a", **short}), "responses": _completion_response()},
        "v1-chat-completions": {"summary": "Chat completion", "requestBody": _body({
            "type": "object", "required": ["model", "messages"], "properties": {
                "model": model,
                "messages": {"type": "array", "items": {"type": "object", "required": ["role", "content"],
                                                         "properties": {
                                                             "role": {"type": "string",
                                                                      "enum": ["system", "user", "assistant"]},
                                                             "content": {"type": "string"}}},
                             "example": [{"role": "user", "content": "Hello!"}]},
                "max_tokens": {"type": "integer", "example": EXAMPLE_MAX_TOKENS},
                "temperature": {"type": "number", "example": 0},
                "stream": {"type": "boolean", "default": False}}},
            {"model": name, "messages": [{"role": "user", "content": "Hello!"}], **short}),
            "responses": _completion_response()},
        "v1-embeddings": {"summary": "Embeddings", "requestBody": _body({
            "type": "object", "required": ["model", "input"], "properties": {
                "model": model, "input": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
                                          "example": "The food was delicious"}}},
            {"model": name, "input": "The food was delicious"}),
            "responses": _completion_response()},
        "health": {"summary": "Health of the model server", "responses": {"200": {"description": "Healthy"}}},
        "version": {"summary": "Model server version", "responses": _JSON_OK},
        "tokenize": {"summary": "Tokenize a prompt", "requestBody": _body({
            "type": "object", "required": ["model", "prompt"],
            "properties": {"model": model, "prompt": {"type": "string", "example": "Hello!"}}},
            {"model": name, "prompt": "Hello!"}), "responses": _JSON_OK},
        "detokenize": {"summary": "Turn tokens back into text", "requestBody": _body({
            "type": "object", "required": ["model", "tokens"],
            "properties": {"model": model, "tokens": {"type": "array", "items": {"type": "integer"},
                                                      "example": [1, 2, 3]}}},
            {"model": name, "tokens": [1, 2, 3]}),
            "responses": _JSON_OK},
    }
    return ops


def openapi_document(product: Product, production_url: str) -> dict[str, Any]:
    ops = _operations(product)
    paths: dict[str, dict[str, Any]] = {}
    for method in product.methods:
        op = dict(ops.get(method.system_name, {"summary": method.friendly_name, "responses": _JSON_OK}))
        op["operationId"] = method.system_name
        op["security"] = [{"bearerAuth": []}]
        path = method.pattern.rstrip("$")
        paths.setdefault(path, {})[method.http_method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": f"{product.name} API", "version": "1.0.0",
                 "description": f"{product.description} Send your API key as `Authorization: Bearer <key>`."},
        "servers": [{"url": production_url.rstrip("/")}],
        "paths": paths,
        # Keys are 3scale user keys, not JWTs: plain bearer scheme, no bearerFormat.
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
    }
