"""OpenAI-compatible endpoints: models, completions, chat completions (plain and SSE), embeddings."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from .embeddings import DEFAULT_DIMENSIONS, embed_text, to_base64
from .errors import OpenAIError
from .generation_requests import GenerationRequest, parse_chat, parse_completion
from .ngram import Generation
from .state import ServerState
from .tokenizer import PieceTokenizer
from .validation import (
    invalid_type,
    invalid_value,
    optional_int,
    parse_json_object,
    required,
    required_str,
    token_id_list,
)

DELAY_HEADER = "x-sandbox-token-delay-ms"
MAX_DELAY_MS = 10_000
MAX_EMBEDDING_INPUTS = 2048

router = APIRouter()


def _state(request: Request) -> ServerState:
    return request.app.state.sandbox


@router.get("/v1/models")
async def list_models(request: Request) -> Response:
    # Pre-rendered at start: this endpoint is a gateway latency benchmark target.
    return Response(request.app.state.models_body, media_type="application/json")


@router.get("/v1/models/{name:path}")
async def retrieve_model(name: str, request: Request) -> JSONResponse:
    return JSONResponse(_state(request).model(name).card())


@router.post("/v1/completions")
async def completions(request: Request) -> Response:
    state = _state(request)
    body = parse_json_object(await request.body())
    generation_request = parse_completion(body, state.text_model(required_str(body, "model")))
    return _respond(state, request, generation_request, chat=False)


@router.post("/v1/chat/completions")
async def chat_completions(request: Request) -> Response:
    state = _state(request)
    body = parse_json_object(await request.body())
    generation_request = parse_chat(body, state.text_model(required_str(body, "model")))
    return _respond(state, request, generation_request, chat=True)


def _respond(state: ServerState, request: Request, job: GenerationRequest, chat: bool) -> Response:
    delay_ms = _delay_ms(request)
    model = job.model
    assert model.generator is not None
    generations = [model.generator.generate(ids, job.params, model.seed_material) for ids in job.prompts]
    response_id = state.next_id("chatcmpl" if chat else "cmpl")
    header = {
        "id": response_id,
        "object": "chat.completion.chunk" if chat else "text_completion",
        "created": int(time.time()),
        "model": model.name,
        "system_fingerprint": model.fingerprint,
    }
    usage = _usage(job, generations)
    if job.stream:
        events = _chat_events(header, generations, job) if chat else _completion_events(header, generations, job)
        return StreamingResponse(
            _paced(events, usage if job.include_usage else None, header, delay_ms),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    if chat:
        choices: list[dict[str, Any]] = [
            {
                "index": i,
                "message": {"role": "assistant", "content": g.text},
                "logprobs": None,
                "finish_reason": g.finish_reason,
            }
            for i, g in enumerate(generations)
        ]
    else:
        choices = [
            {
                "index": i,
                "text": (job.prompt_texts[i] if job.echo else "") + g.text,
                "logprobs": None,
                "finish_reason": g.finish_reason,
            }
            for i, g in enumerate(generations)
        ]
    body = {
        **header,
        "object": "chat.completion" if chat else "text_completion",
        "choices": choices,
        "usage": usage,
    }
    return JSONResponse(body)


def _usage(job: GenerationRequest, generations: list[Generation]) -> dict[str, int]:
    prompt_tokens = sum(len(ids) for ids in job.prompts)
    completion_tokens = sum(len(g.token_ids) for g in generations)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _chat_events(header: dict[str, Any], generations: list[Generation], job: GenerationRequest) -> list[dict[str, Any]]:
    extra = {"usage": None} if job.include_usage else {}

    def chunk(index: int, delta: dict[str, str], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**header, "choices": [choice], **extra}

    events: list[dict[str, Any]] = []
    for i, generation in enumerate(generations):
        events.append(chunk(i, {"role": "assistant", "content": ""}))
        events.extend(chunk(i, {"content": piece}) for piece in generation.pieces if piece)
        events.append(chunk(i, {}, generation.finish_reason))
    return events


def _completion_events(
    header: dict[str, Any], generations: list[Generation], job: GenerationRequest
) -> list[dict[str, Any]]:
    extra = {"usage": None} if job.include_usage else {}

    def chunk(index: int, text: str, finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": index, "text": text, "logprobs": None, "finish_reason": finish_reason}
        return {**header, "choices": [choice], **extra}

    events: list[dict[str, Any]] = []
    for i, generation in enumerate(generations):
        if job.echo:
            events.append(chunk(i, job.prompt_texts[i]))
        events.extend(chunk(i, piece) for piece in generation.pieces if piece)
        events.append(chunk(i, "", generation.finish_reason))
    return events


async def _paced(
    events: list[dict[str, Any]], usage: dict[str, int] | None, header: dict[str, Any], delay_ms: int
) -> AsyncIterator[bytes]:
    if usage is not None:  # OpenAI's include_usage: one last chunk with no choices and the usage
        events = [*events, {**header, "choices": [], "usage": usage}]
    payloads = [_sse(json.dumps(event, ensure_ascii=False, separators=(",", ":"))) for event in events]
    payloads.append(_sse("[DONE]"))
    for position, payload in enumerate(payloads):
        if delay_ms and position:
            await asyncio.sleep(delay_ms / 1000)
        yield payload


def _sse(data: str) -> bytes:
    return f"data: {data}\n\n".encode()


def _delay_ms(request: Request) -> int:
    raw = request.headers.get(DELAY_HEADER)
    if raw is None:
        return 0
    try:
        delay = int(raw)
    except ValueError:
        delay = -1
    if not 0 <= delay <= MAX_DELAY_MS:
        raise OpenAIError(
            400,
            f"Header {DELAY_HEADER} must be an integer from 0 to {MAX_DELAY_MS}.",
            DELAY_HEADER,
            "invalid_value",
        )
    return delay


@router.post("/v1/embeddings")
async def embeddings(request: Request) -> JSONResponse:
    state = _state(request)
    body = parse_json_object(await request.body())
    model = state.embedding_model(required_str(body, "model"))
    texts, prompt_tokens = _embedding_inputs(body, model.tokenizer)
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise invalid_value("encoding_format", "value must be 'float' or 'base64'.")
    dimensions = optional_int(body, "dimensions", DEFAULT_DIMENSIONS, minimum=1, maximum=DEFAULT_DIMENSIONS)
    assert dimensions is not None
    data = []
    for index, text in enumerate(texts):
        vector = embed_text(text, dimensions)
        data.append(
            {
                "object": "embedding",
                "index": index,
                "embedding": to_base64(vector) if encoding == "base64" else vector,
            }
        )
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "model": model.name,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        }
    )


def _embedding_inputs(body: dict[str, Any], tokenizer: PieceTokenizer) -> tuple[list[str], int]:
    """input: a string, a list of strings, a list of token ids, or a list of token-id lists."""
    value = required(body, "input")
    if isinstance(value, str):
        items: list[Any] = [value]
    elif isinstance(value, list) and value:
        one_token_list = all(isinstance(item, int) and not isinstance(item, bool) for item in value)
        items = [value] if one_token_list else value
    else:
        raise invalid_type("input", "a string or a non-empty array", value)
    if len(items) > MAX_EMBEDDING_INPUTS:
        raise invalid_value("input", f"at most {MAX_EMBEDDING_INPUTS} inputs per request.", "array_above_max_length")
    texts: list[str] = []
    prompt_tokens = 0
    for item in items:
        if isinstance(item, str):
            if item == "":
                raise invalid_value("input", "inputs must not be empty strings.")
            texts.append(item)
            prompt_tokens += len(tokenizer.encode(item))
        elif isinstance(item, list) and item:
            ids = token_id_list("input", item, tokenizer.vocab_size)
            texts.append(tokenizer.decode(ids))
            prompt_tokens += len(ids)
        else:
            raise invalid_type("input", "a string, an array of strings or an array of token ids", value)
    return texts, prompt_tokens
