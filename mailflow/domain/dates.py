"""Dates as people write them in a reply: "2026-10-03", "Oct 3", "3 October 2026",
"October 3rd", "10/3" (in the configured numeric order), "today", "yesterday", "Monday".

`read_date(text, reference, order, direction)` reads a date at the start of text and
says how many characters it used. A date without a year is the most recent such date
not after the reference (plus a small tolerance) for PAST (a meeting), or the next one
on or after the reference for UPCOMING (a pause's end). Pure.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

PAST, UPCOMING = "past", "upcoming"
TOLERANCE = timedelta(days=2)

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sept", "sep"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
_END = r"(?![\w/.-]\w)"
_PATTERNS = {
    "iso": re.compile(r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})" + _END),
    "ymd": re.compile(r"(?P<year>\d{4})/(?P<month>\d{1,2})/(?P<day>\d{1,2})" + _END),
    "month_day": re.compile(_MONTH + r"\s+" + _DAY + r"(?:,?\s+" + _YEAR + r")?" + _END, re.I),
    "day_month": re.compile(
        _DAY + r"\s+(?:of\s+)?" + _MONTH + r"(?:,?\s+" + _YEAR + r")?" + _END, re.I
    ),
    "numeric": re.compile(r"(?P<a>\d{1,2})[/.](?P<b>\d{1,2})(?:[/.](?P<c>\d{2}|\d{4}))?" + _END),
    "word": re.compile(r"(?P<word>today|yesterday|" + "|".join(_WEEKDAYS) + r")\b", re.I),
}


def _with_year(month: int, day: int, reference: date, direction: str) -> date | None:
    for year in (reference.year - 1, reference.year, reference.year + 1):
        try:
            date(year, month, day)
        except ValueError:
            return None
    if direction == UPCOMING:
        candidate = date(reference.year, month, day)
        return candidate if candidate >= reference else date(reference.year + 1, month, day)
    candidate = date(reference.year, month, day)
    return candidate if candidate <= reference + TOLERANCE else date(reference.year - 1, month, day)


def _make(year: int | None, month: int, day: int, reference: date, direction: str) -> date | None:
    if year is None:
        return _with_year(month, day, reference, direction)
    if year < 100:
        year += 2000
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _word(word: str, reference: date, direction: str) -> date:
    word = word.lower()
    if word == "today":
        return reference
    if word == "yesterday":
        return reference - timedelta(days=1)
    delta = (_WEEKDAYS.index(word) - reference.weekday()) % 7
    if direction == UPCOMING:
        return reference + timedelta(days=delta or 7)
    return reference - timedelta(days=(7 - delta) % 7)


def _numeric(a: int, b: int, c: str | None, order: str) -> tuple[int | None, int, int]:
    year = int(c) if c else None
    if order == "dmy":
        return year, b, a
    return year, a, b  # "mdy"; "ymd" writers use four-digit years, read by the ymd pattern


def read_date(text: str, reference: date, order: str = "mdy", direction: str = PAST) -> tuple[
        date | None, int]:
    """(date, characters used) for a date at the start of text, else (None, 0)."""
    lead = len(text) - len(text.lstrip())
    body = text[lead:]
    for kind, pattern in _PATTERNS.items():
        found = pattern.match(body)
        if not found:
            continue
        groups = found.groupdict()
        if kind == "word":
            return _word(groups["word"], reference, direction), lead + found.end()
        if kind == "numeric":
            year, month, day = _numeric(int(groups["a"]), int(groups["b"]), groups["c"], order)
        else:
            month_text = groups["month"]
            month = int(month_text) if month_text.isdigit() else _MONTHS[month_text.lower()]
            year, day = (int(groups["year"]) if groups["year"] else None), int(groups["day"])
        result = _make(year, month, day, reference, direction)
        if result is not None:
            return result, lead + found.end()
    return None, 0
