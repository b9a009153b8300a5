"""porta's column ranges as validations (db/schema.rb): a number that cannot be stored in porta's column is a
422 in Rails' numericality message shape, decided on the text before any arithmetic, so `1e1000000` costs
nothing (converting it to an integer would take seconds of CPU on the loop that serves the gateways).

- `integer` columns (line_items.quantity): MySQL INT, −2^31 … 2^31−1;
- `bigint` columns (pricing_rules.min / max): −2^63 … 2^63−1;
- `decimal(20,4)` columns (line_items.cost, pricing_rules.cost_per_unit): at most 16 digits before the point.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from maas_sandbox.admin.conventions import Unprocessable

INT_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1
DECIMAL_20_4_LIMIT = Decimal(10) ** 16
_MAX_TEXT = 64  # longer than any number these columns hold, however written


def _decimal(field: str, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise Unprocessable({field: ["is not a number"]})
    text = str(value).strip()
    try:
        number = Decimal(text) if len(text) <= _MAX_TEXT else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise Unprocessable({field: ["is not a number"]})
    return number


def integer_in_column(field: str, value: Any, high: int, low: int | None = None) -> int:
    """A whole number within [low (default −high−1), high]; compared as a Decimal, converted only once bounded."""
    number = _decimal(field, value)
    low = -high - 1 if low is None else low
    if number > high:
        raise Unprocessable({field: [f"must be less than or equal to {high}"]})
    if number < low:
        raise Unprocessable({field: [f"must be greater than or equal to {low}"]})
    return int(number)


def decimal_20_4(field: str, value: Any) -> Decimal:
    """A number a decimal(20,4) column can hold (|value| < 10^16)."""
    number = _decimal(field, value)
    if abs(number) >= DECIMAL_20_4_LIMIT:
        raise Unprocessable({field: [f"must be less than {DECIMAL_20_4_LIMIT:f}"]})
    return number
