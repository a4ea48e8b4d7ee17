"""Roster file -> pairs, all or nothing.

The file is what a spreadsheet saves (CSV with commas or semicolons, UTF-8 with or
without BOM, or an .xlsx workbook), read by :mod:`mailflow.adapters.spreadsheet`; the
same rules and line numbers apply to each.

Every problem is listed by its line in the file (the header is line 1), so a
coordinator can fix the spreadsheet in one go.

A mentee is in one active pair at a time, unless `[program].allow_multiple_mentors`
says otherwise. A rematch is a new pair (a new pair id) for a mentee whose earlier
pair has ended: pairs listed in ``ended`` (ended in the store) do not count.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailflow.adapters.spreadsheet import SpreadsheetError, Table, read_table, table_from_text
from mailflow.config import check_address
from mailflow.domain.model import Pair, Person, Role
from mailflow.errors import RosterError

REQUIRED = (
    "pair_id", "mentor_name", "mentor_email", "mentee_name", "mentee_email",
    "liaison_name", "liaison_email",
)
OPTIONAL = ("start", "mentor_timezone", "mentee_timezone", "mentor_other_emails",
            "mentee_other_emails", "liaison_other_emails")
_MAX_FIELD = 500


@dataclass
class _Row:
    line: int
    values: dict[str, str]


@dataclass(frozen=True)
class Rules:
    """What the roster is checked against besides itself."""

    ended: frozenset[str] = frozenset()  # pair ids that have ended (in the store)
    allow_multiple_mentors: bool = False  # [program].allow_multiple_mentors


def read_roster(path: Path, rules: Rules = Rules()) -> list[Pair]:
    """Read and validate a roster file (CSV or .xlsx); raise RosterError listing every problem."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RosterError([f"{path}: cannot be read ({exc.strerror})"]) from None
    return roster_from_bytes(raw, path.name, rules)


def roster_from_bytes(raw: bytes, filename: str, rules: Rules = Rules()) -> list[Pair]:
    """A roster file's bytes (an upload, a file) -> pairs; raise RosterError."""
    try:
        table = read_table(raw, filename, REQUIRED)
    except SpreadsheetError as exc:
        raise RosterError([str(exc)]) from None
    return _pairs(table, filename, rules)


def parse_roster(text: str, filename: str = "roster.csv", rules: Rules = Rules()) -> list[Pair]:
    """A roster's CSV text -> pairs; raise RosterError."""
    try:
        table = table_from_text(text, filename, REQUIRED)
    except SpreadsheetError as exc:
        raise RosterError([str(exc)]) from None
    return _pairs(table, filename, rules)


def _pairs(table: Table, filename: str, rules: Rules) -> list[Pair]:
    rows, problems = _read_rows(table, filename)
    pairs: list[tuple[int, Pair]] = []
    for row in rows:
        row_problems: list[str] = []
        pair = _pair_from_row(row, row_problems)
        problems.extend(f"{filename}: line {row.line}: {p}" for p in row_problems)
        if pair is not None:
            pairs.append((row.line, pair))
    problems.extend(_cross_row_problems(rows, filename, rules))
    if problems:
        problems.sort(key=_line_number)
        raise RosterError(problems)
    if not pairs:
        raise RosterError([f"{filename}: has a header but no pairs"])
    return [pair for _, pair in pairs]


def _line_number(problem: str) -> int:
    _, _, rest = problem.partition(": line ")
    digits = rest.split(":", 1)[0]
    return int(digits) if digits.isdigit() else 0


def _read_rows(table: Table, filename: str) -> tuple[list[_Row], list[str]]:
    header = [h.strip().lower() for h in table.header]
    problems = [f"{filename}: {p}" for p in table.problems]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        hint = ""
        if len(header) == 1:
            hint = "; the header line has a single column: separate the columns with commas "
            hint += "or semicolons"
        raise RosterError([
            f"{filename}: line 1: missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (required: {', '.join(REQUIRED)}){hint}"
        ])
    duplicates = sorted({h for h in header if h and header.count(h) > 1})
    if duplicates:
        raise RosterError([f"{filename}: line 1: column {', '.join(duplicates)} appears twice"])
    rows: list[_Row] = []
    for line, record in table.records:
        if not any(field.strip() for field in record):
            continue
        if len(record) > len(header):
            problems.append(
                f"{filename}: line {line}: {len(record)} fields but the header has "
                f"{len(header)} ({_extra_fields_hint(table.delimiter)})"
            )
            continue
        values = {h: (record[i] if i < len(record) else "") for i, h in enumerate(header)}
        rows.append(_Row(line, values))
    return rows, problems


def _extra_fields_hint(delimiter: str | None) -> str:
    if delimiter is None:
        return "a value beyond the last named column"
    name = "comma" if delimiter == "," else "semicolon"
    return f"a {name} inside a value needs quotes"


def _clean(value: str, column: str, problems: list[str]) -> str:
    if any(ch in value for ch in "\r\n\u2028\u2029"):
        problems.append(f"{column}: contains a line break; keep each value on one line")
        return ""
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        problems.append(f"{column}: contains a control character")
        return ""
    if len(value) > _MAX_FIELD:
        problems.append(f"{column}: longer than {_MAX_FIELD} characters")
        return ""
    return value.strip()


def _pair_from_row(row: _Row, problems: list[str]) -> Pair | None:
    v = {k: _clean(val, k, problems) for k, val in row.values.items() if k}
    for column in REQUIRED:
        if not v.get(column) and not any(p.startswith(column + ":") for p in problems):
            problems.append(f"{column}: is empty")
    people = {}
    for role in (Role.MENTOR, Role.MENTEE, Role.LIAISON):
        email = v.get(f"{role}_email", "")
        if email:
            try:
                email = check_address(email)
            except ValueError as exc:
                problems.append(f"{role}_email: {exc}")
        timezone = v.get(f"{role}_timezone") or None
        if timezone:
            try:
                ZoneInfo(timezone)
            except (ZoneInfoNotFoundError, ValueError):
                problems.append(
                    f'{role}_timezone: expected an IANA time zone like "Europe/Berlin", '
                    f'got "{timezone}"'
                )
        others = _other_emails(v.get(f"{role}_other_emails", ""), role, email, problems)
        people[role] = Person(v.get(f"{role}_name", ""), email, role, timezone, others)
    start = None
    if v.get("start"):
        try:
            start = date.fromisoformat(v["start"])
        except ValueError:
            problems.append(f'start: expected a date like 2026-09-01, got "{v["start"]}"')
    mentor, mentee = people[Role.MENTOR], people[Role.MENTEE]
    if mentor.email and mentor.email == mentee.email:
        problems.append("mentor_email and mentee_email are the same person")
    primaries = {person.email for person in people.values()}
    for person in people.values():
        problems.extend(f"{person.role}_other_emails: {other} is the address of another "
                        "person in the pair" for other in person.other_emails
                        if other in primaries)
    if problems:
        return None
    return Pair(v["pair_id"], mentor, mentee, people[Role.LIAISON], start)


def _other_emails(value: str, role: Role, primary: str, problems: list[str],
                  ) -> tuple[str, ...]:
    """``a@x.org; b@y.org``: the person's other addresses, checked, without their own."""
    others: list[str] = []
    for item in (part.strip() for part in value.split(";")):
        if not item:
            continue
        try:
            address = check_address(item)
        except ValueError as exc:
            problems.append(f"{role}_other_emails: {exc}")
            continue
        if address != primary and address not in others:
            others.append(address)
    return tuple(others)


def _cross_row_problems(rows: list[_Row], filename: str, rules: Rules) -> list[str]:
    problems: list[str] = []
    first_pair: dict[str, int] = {}
    first_mentee: dict[str, tuple[str, int]] = {}
    for row in rows:
        pair_id = row.values.get("pair_id", "").strip()
        email = row.values.get("mentee_email", "").strip().lower()
        if pair_id in first_pair:
            problems.append(
                f"{filename}: line {row.line}: duplicate pair_id {pair_id!r} "
                f"(first on line {first_pair[pair_id]})"
            )
        elif pair_id:
            first_pair[pair_id] = row.line
        if rules.allow_multiple_mentors or pair_id in rules.ended:
            continue  # several active pairs allowed; an ended pair does not count
        if email in first_mentee:
            other, other_line = first_mentee[email]
            problems.append(
                f"{filename}: line {row.line}: mentee {email} is already in pair {other!r} "
                f"(line {other_line}); a mentee can be in one active pair only (a rematch "
                f"is a new pair once {other!r} has ended: `mailflow pair end {other}`; "
                "several mentors at once: [program].allow_multiple_mentors = true)"
            )
        elif email:
            first_mentee[email] = (pair_id, row.line)
    return problems
