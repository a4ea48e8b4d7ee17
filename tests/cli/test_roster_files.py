"""A roster as spreadsheets save it (SPEC section 6): CSV with commas or semicolons, UTF-8
with or without BOM, or the .xlsx workbook itself; the same rules and line numbers for each.

Every file is written by the test as the spreadsheet would write it (an Excel-style
semicolon CSV with CRLF and BOM, a workbook made by openpyxl), then given to the real
`mailflow roster import` and `mailflow check --roster`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from mailflow.errors import RosterError
from mailflow.roster import roster_from_bytes

from .conftest import Run

HEADER = ["pair_id", "mentor_name", "mentor_email", "mentee_name", "mentee_email",
          "liaison_name", "liaison_email", "start"]
GOOD = [
    ["P1", "Ann Lee", "ann@example.org", "Zoë Ñúñez", "zoe@example.org", "Weiss, Daniel",
     "dw@example.org", ""],
    ["P2", "Bob Okafor", "bob@example.org", "Cy Park", "cy@example.org", "Weiss, Daniel",
     "dw@example.org", "2026-10-15"],
    ["P3", "Helen Brandt", "helen@example.org", "Sam O'Brien", "sam@example.org", "Priya Shah",
     "priya@example.org", ""],
]
BROKEN = [
    GOOD[0],
    ["P2", "Bob Okafor", "bob@@example", "Cy Park", "cy@example.org", "Lia", "l@example.org",
     ""],
    ["P1", "Eve", "eve@example.org", "Flo", "flo@example.org", "Lia", "l@example.org", ""],
]
BROKEN_LINES = ("line 3: mentor_email:", "line 4: duplicate pair_id 'P1' (first on line 2)")


def _csv(rows: list[list[str]], delimiter: str) -> str:
    def cell(value: str) -> str:
        special = delimiter in value or '"' in value or "\n" in value
        return '"' + value.replace('"', '""') + '"' if special else value
    return "".join(delimiter.join(cell(v) for v in row) + "\r\n" for row in [HEADER, *rows])


def comma_csv(rows: list[list[str]], path: Path) -> Path:
    path = path.with_suffix(".csv")
    path.write_bytes(_csv(rows, ",").encode("utf-8"))
    return path


def semicolon_csv_with_bom(rows: list[list[str]], path: Path) -> Path:
    """What Excel's 'CSV UTF-8' saves where the decimal mark is a comma."""
    path = path.with_suffix(".csv")
    path.write_bytes(("\ufeff" + _csv(rows, ";")).encode("utf-8"))
    return path


def semicolon_csv(rows: list[list[str]], path: Path) -> Path:
    path = path.with_suffix(".csv")
    path.write_bytes(_csv(rows, ";").encode("utf-8"))
    return path


def workbook(rows: list[list[str]], path: Path) -> Path:
    """The .xlsx itself: pair ids typed as text, start dates as real date cells, and a
    second sheet that must be ignored."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Pairs"
    sheet.append(HEADER)
    for row in rows:
        sheet.append([date.fromisoformat(v) if i == 7 and v else (v or None)
                      for i, v in enumerate(row)])
    notes = book.create_sheet("Notes")
    notes.append(["this sheet is not read"])
    path = path.with_suffix(".xlsx")
    book.save(path)
    return path


FORMS: dict[str, Callable[[list[list[str]], Path], Path]] = {
    "comma CSV": comma_csv,
    "semicolon CSV": semicolon_csv,
    "semicolon CSV with BOM": semicolon_csv_with_bom,
    "xlsx workbook": workbook,
}


@pytest.mark.parametrize("form", list(FORMS))
def test_each_form_imports_the_same_pairs(mailflow: Run, program: Path, form: str) -> None:
    path = FORMS[form](GOOD, program / "roster")
    checked = mailflow("check", "--roster", path.name)
    assert "roster" not in checked.stderr, checked.stderr
    result = mailflow("roster", "import", path.name)
    assert result.returncode == 0, result.stderr
    assert "3 added" in result.stdout
    status = json.loads(mailflow("--now", "2026-09-15T12:00", "status", "--json").stdout)
    assert [p["pair_id"] for p in status["pairs"]] == ["P1", "P2", "P3"]
    pairs = roster_from_bytes(path.read_bytes(), path.name)
    assert pairs[0].liaison.name == "Weiss, Daniel"  # the delimiter inside a value survives
    assert pairs[0].mentee.name == "Zoë Ñúñez"
    assert pairs[1].start == date(2026, 10, 15) and pairs[0].start is None


@pytest.mark.parametrize("form", list(FORMS))
def test_each_form_names_the_same_bad_lines(mailflow: Run, program: Path, form: str) -> None:
    path = FORMS[form](BROKEN, program / "roster")
    for result in (mailflow("roster", "import", path.name),
                   mailflow("check", "--roster", path.name)):
        assert result.returncode == 1
        for expected in BROKEN_LINES:
            assert f"{path.name}: {expected}" in result.stderr, result.stderr
    assert "nothing was changed" in mailflow("roster", "import", path.name).stderr


def test_workbook_rows_are_the_rows_the_spreadsheet_shows(tmp_path: Path) -> None:
    """A blank row keeps the numbering; numbers and dates read as they are shown; a line
    break typed into a cell (Alt+Enter) is refused as in a CSV."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append([7, "Ann", "ann@example.org", "Zoë", "zoe@example.org", "Lia",
                  "l@example.org", datetime(2026, 10, 15)])
    sheet.append([])
    sheet.append([8.0, "Bo\nb", "bob@example.org", "Cy", "cy@example.org", "Lia",
                  "l@example.org", None])
    path = tmp_path / "roster.xlsx"
    book.save(path)
    with pytest.raises(RosterError) as caught:
        roster_from_bytes(path.read_bytes(), path.name)
    assert caught.value.problems == [
        "roster.xlsx: line 4: mentor_name: contains a line break; keep each value on one line"]
    sheet["B4"] = "Bob"
    book.save(path)
    first, second = roster_from_bytes(path.read_bytes(), path.name)
    assert (first.pair_id, first.start, second.pair_id) == ("7", date(2026, 10, 15), "8")


def test_a_semicolon_file_with_a_value_too_many_says_semicolon(tmp_path: Path) -> None:
    text = _csv(GOOD[:1], ";") + "P9;A;a@example.org;B;b@example.org;C;c@example.org;;extra\r\n"
    with pytest.raises(RosterError) as caught:
        roster_from_bytes(text.encode("utf-8"), "roster.csv")
    assert caught.value.problems == [
        "roster.csv: line 3: 9 fields but the header has 8 (a semicolon inside a value "
        "needs quotes)"]


@pytest.mark.parametrize(("raw", "message"), [
    (b"pair_id|mentor_name|mentor_email\r\n", "the header line has a single column: "
                                              "separate the columns with commas or semicolons"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, "is an old Excel workbook (.xls)"),
    (b"PK\x03\x04not really a zip", "is a zip file but not an Excel workbook"),
    ("pair_id,mentor_name\r\n".encode("utf-16"), "is UTF-16 text"),
    ("pair_id;mentor_name\r\nP1;Zoë\r\n".encode("cp1252"), "is not UTF-8 text"),
], ids=["one column", "xls", "not a workbook", "utf-16", "cp1252"])
def test_a_file_that_is_no_roster_says_how_to_save_it(raw: bytes, message: str) -> None:
    with pytest.raises(RosterError) as caught:
        roster_from_bytes(raw, "roster.csv")
    assert len(caught.value.problems) == 1
    assert message in caught.value.problems[0], caught.value.problems
