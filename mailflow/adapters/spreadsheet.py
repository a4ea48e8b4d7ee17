"""What a spreadsheet saves -> a header and numbered records (the only openpyxl import).

A roster comes from Excel, LibreOffice or Google Sheets, saved as one of:

- CSV separated by commas, or by semicolons (what Excel saves where the decimal mark
  is a comma), told apart by the header line;
- UTF-8 with or without a byte order mark ("CSV UTF-8" in Excel);
- an Excel workbook (``.xlsx``), recognised by its content, whose first sheet is read.

Each record keeps the line it starts on (the header is line 1; in a workbook, the row
number the spreadsheet shows), so that every problem can be told by its line.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import islice
from typing import Any

__all__ = ["DELIMITERS", "SpreadsheetError", "Table", "read_table", "table_from_text"]

DELIMITERS = (",", ";")
MAX_ROWS = 200_000  # a workbook's sheet can claim a million rows; a roster never has them
MAX_COLUMNS = 100
_ZIP = b"PK\x03\x04"
_OLD_EXCEL = b"\xd0\xcf\x11\xe0"  # .xls (OLE2 compound file)
_UTF16 = (b"\xff\xfe", b"\xfe\xff")
_SAVE_AS = "in your spreadsheet choose 'CSV UTF-8' or 'Excel Workbook (.xlsx)' when saving"


class SpreadsheetError(Exception):
    """The file is not a table mailflow can read; the message says how to save it."""


@dataclass
class Table:
    """The header and the records of one file, each record with its starting line."""

    header: list[str]
    records: list[tuple[int, list[str]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "line N: ..." for unreadable lines
    delimiter: str | None = None  # None for a workbook


def read_table(raw: bytes, filename: str, expected: Collection[str] = ()) -> Table:
    """A CSV (comma or semicolon, UTF-8 with or without BOM) or an .xlsx, by its content.

    ``expected`` are column names the header should hold: they decide between commas and
    semicolons when both appear on the header line.
    """
    if raw.startswith(_ZIP):
        return _read_workbook(raw, filename)
    if raw.startswith(_OLD_EXCEL):
        raise SpreadsheetError(f"{filename}: is an old Excel workbook (.xls); {_SAVE_AS}")
    if raw.startswith(_UTF16):
        raise SpreadsheetError(f"{filename}: is UTF-16 text ('Unicode Text'); {_SAVE_AS}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpreadsheetError(
            f"{filename}: is not UTF-8 text (byte {exc.start}); {_SAVE_AS}") from None
    return table_from_text(text, filename, expected)


def table_from_text(text: str, filename: str, expected: Collection[str] = ()) -> Table:
    """CSV text -> a Table; the delimiter is the one that makes the better header."""
    text = text.removeprefix("\ufeff")
    delimiter = _delimiter(text, expected)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise SpreadsheetError(f"{filename}: is empty; expected a header line") from None
    except csv.Error as exc:
        raise SpreadsheetError(f"{filename}: line 1: {exc}") from None
    table = Table(header, delimiter=delimiter)
    table.records.extend(_csv_records(reader, table.problems))
    return table


def _delimiter(text: str, expected: Collection[str]) -> str:
    first = text.split("\n", 1)[0]
    wanted = {name.lower() for name in expected}

    def score(delimiter: str) -> tuple[int, int]:
        try:
            fields = next(csv.reader([first], delimiter=delimiter), [])
        except csv.Error:
            return (-1, 0)
        names = {f.strip().lower() for f in fields}
        return (len(names & wanted), len(fields))

    return max(DELIMITERS, key=score)  # a tie keeps the first: the comma


def _csv_records(reader: Any, problems: list[str]) -> Iterator[tuple[int, list[str]]]:
    last_line = 1  # csv's line_num is the last physical line read: a record may span lines
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problems.append(f"line {last_line + 1}: {exc}")
            return
        start = last_line + 1
        last_line = reader.line_num
        yield start, record


def _read_workbook(raw: bytes, filename: str) -> Table:
    from openpyxl import load_workbook  # only when a workbook comes: it is slow to import

    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise SpreadsheetError(
            f"{filename}: is a zip file but not an Excel workbook ({exc}); {_SAVE_AS}"
        ) from None
    try:
        if not book.worksheets:
            raise SpreadsheetError(f"{filename}: the workbook has no sheet")
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(min_row=1, max_col=MAX_COLUMNS, values_only=True)
        records = [(number, _cells(row))
                   for number, row in enumerate(islice(rows, MAX_ROWS + 1), start=1)]
    finally:
        book.close()
    if not records or not any(records[0][1]):
        raise SpreadsheetError(
            f"{filename}: the first sheet is empty or does not start with the header on row 1")
    table = Table(records[0][1], records[1:])
    if len(records) > MAX_ROWS:
        table.problems.append(f"line {MAX_ROWS + 1}: more than {MAX_ROWS:,} rows; "
                              "the rest of the sheet was not read")
    return table


def _cells(row: tuple[Any, ...]) -> list[str]:
    values = [_cell_text(value) for value in row]
    while values and not values[-1].strip():
        values.pop()
    return values


def _cell_text(value: Any) -> str:
    """A cell as the text the spreadsheet shows for it: 7 not 7.0, 2026-09-01 for a date."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
