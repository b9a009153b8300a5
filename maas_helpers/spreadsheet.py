"""CSV files that a spreadsheet opens as data, never as formulas (OWASP's CSV injection advice).

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is run as a formula by Excel, LibreOffice
and Google Sheets (`=HYPERLINK(...)` in an organisation name, `@SUM(...)` in an application name). Such text
cells get a leading single quote, which spreadsheets show as text; every cell is quoted and embedded quotes
doubled, so a cell cannot break out into the next one. Numbers stay numbers (a negative amount is data).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutral_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutral_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every text cell neutralised (numeric columns untouched)."""
    safe = frame.copy()
    safe.columns = [neutral_cell(str(c)) for c in safe.columns]
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):  # text (object or pandas' str dtype), dates
            safe[column] = safe[column].map(neutral_cell)
    return safe


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    neutral_frame(frame).to_csv(path, index=False, quoting=csv.QUOTE_ALL)
