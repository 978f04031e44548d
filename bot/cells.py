"""Spreadsheet cells the bot writes (report Excel, raw values, invitations .xlsx and .csv):
text never becomes a formula, whoever typed it (a Telegram name, a note, a unit's name)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# A spreadsheet reads text starting with one of these as a formula or a command.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def formula_like(value: Any) -> bool:
    """Text a spreadsheet would read as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_START)


def csv_row(values: Iterable[Any]) -> list[Any]:
    """A CSV row: formula-like text gets a leading apostrophe, read as "text" by spreadsheets."""
    return ["'" + v if formula_like(v) else v for v in values]


def append_row(ws: Any, values: Iterable[Any]) -> None:
    """Append a row to an openpyxl sheet, storing formula-like text as plain text (a string
    cell with the "quote prefix" a person typing ' would get), never as a formula."""
    ws.append(list(values))
    for cell in ws[ws.max_row]:
        if formula_like(cell.value):
            cell.data_type = "s"
            cell.quotePrefix = True
