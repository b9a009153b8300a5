"""Strict request-field readers that raise OpenAI-style 400 errors (wording modelled on OpenAI's).

JSON booleans are rejected where integers or numbers are expected, although Python's bool is an int.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import OpenAIError

MAX_BODY_BYTES = 4 * 1024 * 1024
_MISSING = object()


def json_type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def invalid_type(name: str, expected: str, value: object) -> OpenAIError:
    return OpenAIError(
        400,
        f"Invalid type for '{name}': expected {expected}, but got {json_type_name(value)} instead.",
        name,
        "invalid_type",
    )


def invalid_value(name: str, message: str, code: str = "invalid_value") -> OpenAIError:
    return OpenAIError(400, f"Invalid '{name}': {message}", name, code)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_BODY_BYTES:
        raise OpenAIError(413, f"Request body larger than {MAX_BODY_BYTES} bytes.", None, "request_too_large")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise OpenAIError(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
            "your HTTP library correctly. The OpenAI API expects a JSON payload.)",
        ) from None
    if not isinstance(body, dict):
        raise OpenAIError(400, f"The request body must be a JSON object, not {json_type_name(body)}.")
    return body


def required(body: dict[str, Any], name: str) -> Any:
    value = body.get(name, _MISSING)
    if value is _MISSING:
        raise OpenAIError(400, f"Missing required parameter: '{name}'.", name, "missing_required_parameter")
    return value


def required_str(body: dict[str, Any], name: str) -> str:
    value = required(body, name)
    if not isinstance(value, str):
        raise invalid_type(name, "a string", value)
    return value


def optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise invalid_type(name, "a string", value)
    return value


def optional_bool(body: dict[str, Any], name: str, default: bool = False) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid_type(name, "a boolean", value)
    return value


def optional_int(
    body: dict[str, Any],
    name: str,
    default: int | None,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_type(name, "an integer", value)
    if minimum is not None and value < minimum:
        raise invalid_value(
            name,
            f"integer below minimum value. Expected a value >= {minimum}, but got {value} instead.",
            "integer_below_min_value",
        )
    if maximum is not None and value > maximum:
        raise invalid_value(
            name,
            f"integer above maximum value. Expected a value <= {maximum}, but got {value} instead.",
            "integer_above_max_value",
        )
    return value


def optional_number(body: dict[str, Any], name: str, default: float, minimum: float, maximum: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_type(name, "a number", value)
    if value < minimum:
        raise invalid_value(
            name,
            f"decimal below minimum value. Expected a value >= {minimum}, but got {value} instead.",
            "decimal_below_min_value",
        )
    if value > maximum:
        raise invalid_value(
            name,
            f"decimal above maximum value. Expected a value <= {maximum}, but got {value} instead.",
            "decimal_above_max_value",
        )
    return float(value)


def stop_sequences(body: dict[str, Any]) -> tuple[str, ...]:
    value = body.get("stop")
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise invalid_type("stop", "a string or an array of strings", value)
    if len(items) > 4:
        raise invalid_value(
            "stop",
            f"array too long. Expected at most 4 items, but got {len(items)}.",
            "array_above_max_length",
        )
    if any(item == "" for item in items):
        raise invalid_value("stop", "stop sequences must not be empty.")
    return tuple(items)


def token_id_list(name: str, value: list[Any], vocab_size: int) -> list[int]:
    for token in value:
        if isinstance(token, bool) or not isinstance(token, int):
            raise invalid_type(name, "an array of integers", value)
        if not 0 <= token < vocab_size:
            raise invalid_value(name, f"token id {token} is outside the vocabulary (0..{vocab_size - 1}).")
    return value
