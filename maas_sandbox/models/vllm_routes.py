"""vLLM's own endpoints: /health, /version, /tokenize, /detokenize."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .catalogue import CHAT_MODEL, ServedModel
from .chat_template import render_chat
from .generation_requests import chat_messages
from .state import ServerState
from .validation import invalid_type, optional_bool, optional_str, parse_json_object, required, token_id_list

VERSION = "0.1.0-sandbox"

router = APIRouter()


@router.get("/health")
async def health() -> Response:
    return Response(status_code=200)  # vLLM: 200 with an empty body


@router.get("/version")
async def version() -> JSONResponse:
    return JSONResponse({"version": VERSION})


def _model(request: Request, body: dict[str, Any]) -> ServedModel:
    state: ServerState = request.app.state.sandbox
    return state.model(optional_str(body, "model") or CHAT_MODEL)  # vLLM makes "model" optional here


@router.post("/tokenize")
async def tokenize(request: Request) -> JSONResponse:
    body = parse_json_object(await request.body())
    model = _model(request, body)
    if "messages" in body:
        messages = chat_messages(body)
        text = render_chat(messages, add_generation_prompt=optional_bool(body, "add_generation_prompt", True))
    else:
        text = required(body, "prompt")
        if not isinstance(text, str):
            raise invalid_type("prompt", "a string", text)
    tokens = model.tokenizer.encode(text)
    result: dict[str, Any] = {"count": len(tokens), "max_model_len": model.max_model_len, "tokens": tokens}
    if optional_bool(body, "return_token_strs"):
        result["token_strs"] = [model.tokenizer.token_text(t) for t in tokens]
    return JSONResponse(result)


@router.post("/detokenize")
async def detokenize(request: Request) -> JSONResponse:
    body = parse_json_object(await request.body())
    model = _model(request, body)
    tokens = required(body, "tokens")
    if not isinstance(tokens, list):
        raise invalid_type("tokens", "an array of integers", tokens)
    return JSONResponse({"prompt": model.tokenizer.decode(token_id_list("tokens", tokens, model.tokenizer.vocab_size))})
