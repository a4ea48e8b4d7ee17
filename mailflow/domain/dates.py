"""Dates as people write them in a reply, in the languages replies come in:
"2026-10-03", "Oct 3", "3 October 2026", "October 3rd", "10/3" (in the configured numeric
order), "3. Oktober", "le 3 octobre", "el 15 de enero", "3 października", "3 октября
2026 г.", "10月3日", "2026년 10월 3일", "today", "gestern", "Monday", "Montag".

`read_date(text, reference, order, direction)` reads a date at the start of text (after
a word such as "on", "am", "le", or for UPCOMING "until", "bis", "hasta el") and says how
many characters it used. A date without a year is the nearest such date to the reference
for PAST (a meeting; MET itself refuses one in the future), or the next one on or after
the reference for UPCOMING (a pause's end). Month and weekday names come from CLDR
(`mailflow.domain.datewords`). Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta

from mailflow.domain.datewords import MONTHS, WEEKDAYS

PAST, UPCOMING = "past", "upcoming"
TOLERANCE = timedelta(days=2)

_TODAY = ("today", "heute", "aujourd'hui", "aujourd’hui", "hoy", "oggi", "hoje", "vandaag",
          "i dag", "idag", "tänään", "dzisiaj", "dziś", "dnes", "сегодня", "сьогодні",
          "bugün", "今天", "今日", "오늘")
_YESTERDAY = ("yesterday", "gestern", "hier", "ayer", "ieri", "ontem", "gisteren", "i går",
              "igår", "eilen", "wczoraj", "včera", "вчера", "вчора", "dün", "昨天", "昨日", "어제")
_RELATIVE = {**dict.fromkeys(_TODAY, 0), **dict.fromkeys(_YESTERDAY, 1)}


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w).replace(r"\ ", r"\s+")
                    for w in sorted(words, key=len, reverse=True))


_NOT_LETTER = r"(?![^\W\d_])"
# Abbreviations of other languages that are English words too ("2 out of 3", "3 set"):
# only their full names are read ("3 de outubro", "3 settembre").
_ENGLISH_LOOKALIKES = frozenset({"out", "set", "led", "ago", "gen", "sie", "lip", "lis"})
_MONTH = r"(?P<month>" + _alternation(set(MONTHS) - _ENGLISH_LOOKALIKES) + r")\.?" + _NOT_LETTER
# Month first ("October 3", "Oct 3rd, 2026") is English.
_ENGLISH_MONTHS = ("january", "jan", "february", "feb", "march", "mar", "april", "apr", "may",
                   "june", "jun", "july", "jul", "august", "aug", "september", "sept", "sep",
                   "october", "oct", "november", "nov", "december", "dec")
_MONTH_FIRST = r"(?P<month>" + _alternation(_ENGLISH_MONTHS) + r")\.?" + _NOT_LETTER
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th|er|e|º|°)?\.?"
_YEAR = r"(?:,?\s*(?:de\s+)?(?P<year>\d{4})(?:\s*(?:г|р)\.)?)?"
_END = r"(?![\w/.-]\w)"
# The words before a date: "on", "am", "le", "el", "den"; before an end date "until",
# "bis", "jusqu'au", "hasta el", "fino al", "tot", "indtil", "do", "до"...
_BEFORE_PAST = r"(?:on|the|am|le|el|den|op|il|em|no dia|w dniu|dne|в|у)"
_BEFORE_UPCOMING = (r"(?:until|till|til|to|through|bis(?:\s+(?:zum|am|den))?|jusqu['’](?:au|à)|"
                    r"hasta(?:\s+el)?|fino\s+al?|até(?:\s+ao?)?|tot(?:\s+en\s+met)?|indtil|"
                    r"inntil|fram\s+till|till\s+och\s+med|do|až\s+do|до|по)")
_LEAD = {
    PAST: re.compile(r"(?:" + _BEFORE_PAST + r"\s+)?", re.I),
    UPCOMING: re.compile(r"(?:" + _BEFORE_UPCOMING + r"\s+)?(?:(?:the|le|el|den|dem)\s+)?", re.I),
}
# After an end date: Japanese "まで", Korean "까지", Turkish "'a kadar", Finnish "asti".
_AFTER_UPCOMING = re.compile(r"\s*(?:まで|까지|为止|為止|asti|saakka|['’]?\w{0,3}\s+kadar)", re.I)
_PATTERNS = {
    "iso": re.compile(r"(?P<year>\d{4})[-/.](?P<month>\d{1,2})[-/.](?P<day>\d{1,2})" + _END),
    "cjk": re.compile(r"(?:(?P<year>\d{4})\s*[年년]\s*)?(?P<month>\d{1,2})\s*[月월]\s*"
                      r"(?P<day>\d{1,2})\s*[日일号號]?"),
    "month_day": re.compile(_MONTH_FIRST + r"\s*" + _DAY + _YEAR + _END, re.I),
    "day_month": re.compile(_DAY + r"\s*(?:de\s+|of\s+)?" + _MONTH + _YEAR + _END, re.I),
    "numeric": re.compile(
        r"(?P<a>\d{1,2})[/.](?P<b>\d{1,2})(?:[/.](?P<c>\d{4}|\d{2}(?!\d))|\.(?!\d))?" + _END),
    "word": re.compile(r"(?P<word>" + _alternation([*_RELATIVE, *WEEKDAYS]) + r")"
                       + _NOT_LETTER, re.I),
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
    # a meeting: the nearest such date ("met 12/20" on 15 December is this 20 December,
    # which MET then finds to be in the future; on 2 January it is last December's)
    candidates = [date(year, month, day) for year in (reference.year - 1, reference.year,
                                                        reference.year + 1)]
    return min(candidates, key=lambda d: (abs((d - reference).days), d > reference))


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
    word = " ".join(word.lower().split())
    if word in _RELATIVE:
        return reference - timedelta(days=_RELATIVE[word])
    delta = (WEEKDAYS[word] - reference.weekday()) % 7
    if direction == UPCOMING:
        return reference + timedelta(days=delta or 7)
    return reference - timedelta(days=(7 - delta) % 7)


def _numeric(a: int, b: int, c: str | None, order: str) -> tuple[int | None, int, int]:
    year = int(c) if c else None
    if order == "dmy":
        return year, b, a
    return year, a, b  # "mdy"; "ymd" writers use four-digit years, read by the iso pattern


def _read(body: str, reference: date, order: str, direction: str) -> tuple[date | None, int]:
    for kind, pattern in _PATTERNS.items():
        found = pattern.match(body)
        if not found:
            continue
        groups = found.groupdict()
        if kind == "word":
            return _word(groups["word"], reference, direction), found.end()
        if kind == "numeric":
            year, month, day = _numeric(int(groups["a"]), int(groups["b"]), groups["c"], order)
        else:
            month_text = groups["month"]
            month = int(month_text) if month_text.isdigit() else MONTHS[
                " ".join(month_text.lower().split())]
            year = int(groups["year"]) if groups["year"] else None
            day = int(groups["day"])
        result = _make(year, month, day, reference, direction)
        if result is not None:
            return result, found.end()
    return None, 0


def read_date(text: str, reference: date, order: str = "mdy", direction: str = PAST) -> tuple[
        date | None, int]:
    """(date, characters used) for a date at the start of text, else (None, 0)."""
    lead = len(text) - len(text.lstrip())
    for skip in _lead_words(text, lead, direction):
        when, used = _read(text[skip:], reference, order, direction)
        if when is not None:
            end = skip + used
            if direction == UPCOMING:
                after = _AFTER_UPCOMING.match(text, end)
                end = after.end() if after else end
            return when, end
    return None, 0


def _lead_words(text: str, lead: int, direction: str) -> tuple[int, ...]:
    """Where the date may start: after a leading "on"/"until"... word, else at `lead`."""
    words = _LEAD[direction].match(text, lead)
    skip = words.end() if words else lead
    return (skip, lead) if skip != lead else (lead,)
