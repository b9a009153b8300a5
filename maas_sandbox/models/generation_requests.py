"""Reading /v1/completions and /v1/chat/completions bodies into one generation request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .catalogue import ServedModel
from .chat_template import ROLES, render_chat
from .errors import OpenAIError
from .ngram import SamplingParams
from .validation import (
    invalid_type,
    invalid_value,
    optional_bool,
    optional_int,
    optional_number,
    required,
    stop_sequences,
    token_id_list,
)

DEFAULT_COMPLETION_MAX_TOKENS = 16  # OpenAI's legacy completions default
DEFAULT_CHAT_MAX_TOKENS = 512  # a sandbox cap; OpenAI/vLLM default to the remaining context


@dataclass(frozen=True)
class GenerationRequest:
    model: ServedModel
    prompts: tuple[tuple[int, ...], ...]  # one prompt (token ids) per choice
    prompt_texts: tuple[str, ...]
    params: SamplingParams
    stream: bool
    include_usage: bool
    echo: bool = False


def parse_chat(body: dict[str, Any], model: ServedModel) -> GenerationRequest:
    messages = chat_messages(body)
    text = render_chat(messages)
    ids = tuple(model.tokenizer.encode(text))
    # max_completion_tokens is OpenAI's newer name for max_tokens; either is accepted.
    name = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    if optional_bool(body, "logprobs"):
        raise invalid_value(
            "logprobs", "log probabilities are not supported by the sandbox models.", "unsupported_value"
        )
    return _finish(body, model, (ids,), (text,), name, DEFAULT_CHAT_MAX_TOKENS, "messages", echo=False)


def parse_completion(body: dict[str, Any], model: ServedModel) -> GenerationRequest:
    prompts, texts = completion_prompts(body, model)
    if body.get("logprobs") is not None:
        raise invalid_value(
            "logprobs", "log probabilities are not supported by the sandbox models.", "unsupported_value"
        )
    optional_int(body, "best_of", 1, minimum=1, maximum=1)
    echo = optional_bool(body, "echo")
    return _finish(body, model, prompts, texts, "max_tokens", DEFAULT_COMPLETION_MAX_TOKENS, "prompt", echo)


def chat_messages(body: dict[str, Any]) -> list[tuple[str, str]]:
    messages = required(body, "messages")
    if not isinstance(messages, list):
        raise invalid_type("messages", "an array", messages)
    if not messages:
        raise invalid_value(
            "messages",
            "empty array. Expected an array with minimum length 1, but got an empty array instead.",
            "empty_array",
        )
    parsed: list[tuple[str, str]] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise invalid_type(where, "an object", message)
        role = message.get("role")
        if role is None:
            raise OpenAIError(
                400,
                f"Missing required parameter: '{where}.role'.",
                f"{where}.role",
                "missing_required_parameter",
            )
        if role not in ROLES:
            raise invalid_value(f"{where}.role", f"value must be one of {', '.join(ROLES)}.")
        parsed.append((role, _message_content(message, where)))
    return parsed


def _message_content(message: dict[str, Any], where: str) -> str:
    content = message.get("content")
    if content is None:
        if message.get("role") == "assistant":  # assistant turns with tool calls carry no content
            return ""
        raise OpenAIError(
            400,
            f"Missing required parameter: '{where}.content'.",
            f"{where}.content",
            "missing_required_parameter",
        )
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise invalid_type(f"{where}.content", "a string or an array of content parts", content)
    texts: list[str] = []
    for part_index, part in enumerate(content):
        if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise invalid_value(
                f"{where}.content[{part_index}]",
                'only text content parts ({"type": "text", "text": ...}) are supported.',
            )
        texts.append(part["text"])
    return "\n".join(texts)


def completion_prompts(body: dict[str, Any], model: ServedModel) -> tuple[tuple[tuple[int, ...], ...], tuple[str, ...]]:
    """A prompt is a string, a list of strings, a list of token ids or a list of such lists."""
    prompt = required(body, "prompt")
    tokenizer = model.tokenizer
    if isinstance(prompt, str):
        return (tuple(tokenizer.encode(prompt)),), (prompt,)
    if not isinstance(prompt, list) or not prompt:
        raise invalid_type("prompt", "a string, an array of strings or an array of token ids", prompt)
    if all(isinstance(item, str) for item in prompt):
        return tuple(tuple(tokenizer.encode(item)) for item in prompt), tuple(prompt)
    if all(isinstance(item, list) for item in prompt):
        lists = [tuple(token_id_list("prompt", item, tokenizer.vocab_size)) for item in prompt]
        return tuple(lists), tuple(tokenizer.decode(ids) for ids in lists)
    ids = tuple(token_id_list("prompt", prompt, tokenizer.vocab_size))
    return (ids,), (tokenizer.decode(ids),)


def _finish(
    body: dict[str, Any],
    model: ServedModel,
    prompts: tuple[tuple[int, ...], ...],
    texts: tuple[str, ...],
    max_tokens_name: str,
    default_max_tokens: int,
    prompt_param: str,
    echo: bool,
) -> GenerationRequest:
    n = optional_int(body, "n", 1, minimum=1)
    if n != 1:
        raise invalid_value("n", f"only n=1 is supported by the sandbox models, got {n}.", "unsupported_value")
    limit = model.max_model_len
    requested = optional_int(body, max_tokens_name, None, minimum=1, maximum=limit)
    longest = max(len(ids) for ids in prompts)
    # Without max_tokens the answer may fill the remaining context (at least one token, else too long).
    max_tokens = requested if requested is not None else max(1, min(default_max_tokens, limit - longest))
    if longest + max_tokens > limit:
        where = "messages" if prompt_param == "messages" else "prompt"
        raise OpenAIError(
            400,
            f"This model's maximum context length is {limit} tokens. However, you requested "
            f"{longest + max_tokens} tokens ({longest} in the {where}, {max_tokens} in the completion). "
            f"Please reduce the length of the {where} or completion.",
            prompt_param,
            "context_length_exceeded",
        )
    for name in ("presence_penalty", "frequency_penalty"):  # accepted for compatibility, not applied
        optional_number(body, name, 0.0, -2.0, 2.0)
    params = SamplingParams(
        max_tokens=max_tokens,
        temperature=optional_number(body, "temperature", 1.0, 0.0, 2.0),
        top_p=optional_number(body, "top_p", 1.0, 0.0, 1.0),
        stop=stop_sequences(body),
        seed=optional_int(body, "seed", None),
        ignore_eos=optional_bool(body, "ignore_eos"),
    )
    stream = optional_bool(body, "stream")
    include_usage = False
    options = body.get("stream_options")
    if options is not None:
        if not stream:
            raise OpenAIError(
                400,
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                "stream_options",
                "invalid_value",
            )
        if not isinstance(options, dict):
            raise invalid_type("stream_options", "an object", options)
        include_usage = optional_bool(options, "include_usage")
    return GenerationRequest(model, prompts, texts, params, stream, include_usage, echo)
