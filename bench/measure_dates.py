"""Measure date reading after MET and PAUSE: mailflow's reader against dateparser.

    python bench/measure_dates.py [-v]

A table of (text after the keyword, direction, expected date) in the languages replies
come in, read with the reference day 2026-10-10 (a Saturday). For each reader: how many
it reads right, how many it reads wrong (a date that is not the one written: worse than
none, as the note keeps the words), and the time per case. dateparser reads a whole
string, so it is given the longest run of the text's first words (up to six) that it can
read, the way a fallback would have to; it is not installed with mailflow.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailflow.domain.dates import PAST, UPCOMING, read_date

REF = date(2026, 10, 10)
P, U = PAST, UPCOMING
D = date
# (text, direction, expected date or None, language)
CASES: list[tuple[str, str, date | None, str]] = [
    ("2026-10-03 coffee", P, D(2026, 10, 3), "iso"),
    ("Oct 3", P, D(2026, 10, 3), "en"),
    ("October 3rd, we talked", P, D(2026, 10, 3), "en"),
    ("3 October 2026", P, D(2026, 10, 3), "en"),
    ("on 3 October", P, D(2026, 10, 3), "en"),
    ("10/3 at the branch", P, D(2026, 10, 3), "en"),
    ("yesterday, a long coffee", P, D(2026, 10, 9), "en"),
    ("today", P, D(2026, 10, 10), "en"),
    ("Monday", P, D(2026, 10, 5), "en"),
    ("until 15 January", U, D(2027, 1, 15), "en"),
    ("until January 15th", U, D(2027, 1, 15), "en"),
    ("till Monday", U, D(2026, 10, 12), "en"),
    ("3. Oktober", P, D(2026, 10, 3), "de"),
    ("am 3. Oktober, im Café", P, D(2026, 10, 3), "de"),
    ("gestern", P, D(2026, 10, 9), "de"),
    ("bis 15. Januar", U, D(2027, 1, 15), "de"),
    ("bis zum 15. Januar 2027", U, D(2027, 1, 15), "de"),
    ("le 3 octobre", P, D(2026, 10, 3), "fr"),
    ("1er octobre", P, D(2026, 10, 1), "fr"),
    ("hier", P, D(2026, 10, 9), "fr"),
    ("jusqu'au 15 janvier", U, D(2027, 1, 15), "fr"),
    ("el 3 de octubre", P, D(2026, 10, 3), "es"),
    ("hasta el 15 de enero", U, D(2027, 1, 15), "es"),
    ("3 de octubre de 2026", P, D(2026, 10, 3), "es"),
    ("il 3 ottobre", P, D(2026, 10, 3), "it"),
    ("fino al 15 gennaio", U, D(2027, 1, 15), "it"),
    ("3 de outubro", P, D(2026, 10, 3), "pt"),
    ("até 15 de janeiro", U, D(2027, 1, 15), "pt"),
    ("op 3 oktober", P, D(2026, 10, 3), "nl"),
    ("tot 15 januari", U, D(2027, 1, 15), "nl"),
    ("den 3. oktober", P, D(2026, 10, 3), "da"),
    ("i går", P, D(2026, 10, 9), "da"),
    ("indtil 15. januar", U, D(2027, 1, 15), "da"),
    ("3 oktober", P, D(2026, 10, 3), "sv"),
    ("igår", P, D(2026, 10, 9), "sv"),
    ("till 15 januari", U, D(2027, 1, 15), "sv"),
    ("3. oktober", P, D(2026, 10, 3), "nb"),
    ("3. lokakuuta", P, D(2026, 10, 3), "fi"),
    ("eilen", P, D(2026, 10, 9), "fi"),
    ("15. tammikuuta asti", U, D(2027, 1, 15), "fi"),
    ("3 października", P, D(2026, 10, 3), "pl"),
    ("do 15 stycznia", U, D(2027, 1, 15), "pl"),
    ("wczoraj", P, D(2026, 10, 9), "pl"),
    ("3. října", P, D(2026, 10, 3), "cs"),
    ("do 15. ledna", U, D(2027, 1, 15), "cs"),
    ("3 октября", P, D(2026, 10, 3), "ru"),
    ("3 октября 2026 г.", P, D(2026, 10, 3), "ru"),
    ("вчера", P, D(2026, 10, 9), "ru"),
    ("до 15 января", U, D(2027, 1, 15), "ru"),
    ("3 жовтня", P, D(2026, 10, 3), "uk"),
    ("до 15 січня", U, D(2027, 1, 15), "uk"),
    ("3 Ekim", P, D(2026, 10, 3), "tr"),
    ("15 Ocak'a kadar", U, D(2027, 1, 15), "tr"),
    ("dün", P, D(2026, 10, 9), "tr"),
    ("10月3日", P, D(2026, 10, 3), "zh"),
    ("2026年10月3日", P, D(2026, 10, 3), "zh"),
    ("昨天", P, D(2026, 10, 9), "zh"),
    ("1月15日まで", U, D(2027, 1, 15), "ja"),
    ("10월 3일", P, D(2026, 10, 3), "ko"),
    ("1월 15일까지", U, D(2027, 1, 15), "ko"),
    ("Montag", P, D(2026, 10, 5), "de"),
    ("lundi", P, D(2026, 10, 5), "fr"),
    # no date: the words must stay a note
    ("we talked about her portfolio", P, None, "en"),
    ("led 3 workshops together", P, None, "en"),
    ("2 out of 3 meetings so far", P, None, "en"),
    ("to focus on exams", U, None, "en"),
    ("for the holidays", U, None, "en"),
    ("a long coffee at 10", P, None, "en"),
    ("und haben viel geredet", P, None, "de"),
]


def ours(text: str, direction: str) -> date | None:
    return read_date(text, REF, "mdy", direction)[0]


def dateparser_reader() -> Callable[[str, str], date | None] | None:
    try:
        import dateparser
    except ImportError:
        return None
    from datetime import datetime

    def read(text: str, direction: str) -> date | None:
        words = text.split()
        settings = {"RELATIVE_BASE": datetime(REF.year, REF.month, REF.day),
                    "PREFER_DATES_FROM": "future" if direction == UPCOMING else "past",
                    "DATE_ORDER": "MDY"}
        for n in range(min(6, len(words)), 0, -1):
            found = dateparser.parse(" ".join(words[:n]), settings=settings)  # type: ignore[arg-type]
            if found is not None:
                return found.date()
        return None

    return read


def measure(name: str, read: Callable[[str, str], date | None], verbose: bool) -> None:
    right = wrong = 0
    misses: list[str] = []
    read("warm up", PAST)
    start = time.perf_counter()
    for text, direction, expected, lang in CASES:
        try:
            got = read(text, direction)
        except Exception as exc:  # a reader that crashes reads nothing
            got = None
            misses.append(f"{lang}:{text!r} crashed {type(exc).__name__}")
        if got == expected:
            right += 1
        else:
            wrong += got is not None
            misses.append(f"{lang}:{text!r} -> {got}")
    per_case = (time.perf_counter() - start) / len(CASES) * 1e6
    print(f"{name:26} {right:>3}/{len(CASES)} right  {wrong:>2} wrong dates  "
          f"{per_case:9.1f} us per case")
    if verbose:
        for miss in misses:
            print("    ", miss)


def main() -> int:
    verbose = "-v" in sys.argv
    measure("mailflow read_date", ours, verbose)
    dp = dateparser_reader()
    if dp is None:
        print("dateparser                 not installed")
    else:
        measure("dateparser (prefixes)", dp, verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
