"""Write mailflow/domain/datewords.py: month and weekday names from CLDR, through babel.

    python scripts/gen_datewords.py          # rewrite the module
    python scripts/gen_datewords.py --check  # exit 1 if the module differs

babel (the CLDR data, well kept) gives every language's month names as people write them
in a date: the genitive "3 октября", "3 października", the partitive "3. lokakuuta", the
abbreviations with and without their dot. Building the tables from babel at run time took
0.26 s at each start, so they are generated once and kept as data; tests/unit/test_dates.py
checks the module is what babel gives.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import babel
import babel.dates

# English first; then the languages SPEC section 3 names for replies.
LOCALES = ("en", "de", "fr", "es", "it", "pt", "nl", "da", "sv", "nb", "fi", "pl", "cs",
           "ru", "uk", "tr", "zh", "ja", "ko")
EXTRA_MONTHS = {"sept": 9}  # English, not in CLDR
TARGET = Path(__file__).resolve().parent.parent / "mailflow" / "domain" / "datewords.py"


def _norm(name: str) -> str:
    return name.lower().strip().rstrip(".")


def months() -> dict[str, int]:
    found: dict[str, int] = {}
    for locale in LOCALES:
        for width in ("wide", "abbreviated"):
            for context in ("format", "stand-alone"):
                names = babel.dates.get_month_names(width, context, locale=locale)
                for number, name in names.items():
                    key = _norm(name)
                    if key[:1].isdigit():
                        continue  # "10月", "10월": read as numbers by dates.py
                    if found.get(key, number) != number:
                        raise SystemExit(f"{key!r} is month {found[key]} and {number}")
                    found.setdefault(key, number)
    for key, number in EXTRA_MONTHS.items():
        found.setdefault(key, number)
    return found


def weekdays() -> dict[str, int]:
    """Wide names only: abbreviations ("So", "Do", "Ma") are ordinary words too."""
    found: dict[str, int] = {}
    for locale in LOCALES:
        for context in ("format", "stand-alone"):
            for number, name in babel.dates.get_day_names("wide", context, locale=locale).items():
                found.setdefault(_norm(name), number)
    return found


def _wrapped(names: Sequence[str], indent: int) -> str:
    return textwrap.fill(", ".join(repr(n) for n in names), width=96 - indent,
                         initial_indent=" " * indent, subsequent_indent=" " * indent,
                         break_on_hyphens=False, break_long_words=False)


def _grouped(name: str, data: dict[str, int], comment: str) -> str:
    """`data` written as number -> names, wrapped to 100 columns, then inverted."""
    by_number: dict[int, list[str]] = {}
    for key, number in sorted(data.items()):
        by_number.setdefault(number, []).append(key)
    rows = []
    for number, names in sorted(by_number.items()):
        body = _wrapped(names, 8)
        rows.append(f"    {number}: (\n{body},\n    ),\n")
    return (f"# {comment}\n_{name}_BY_NUMBER: dict[int, tuple[str, ...]] = {{\n{''.join(rows)}}}\n"
            f"{name}: dict[str, int] = {{\n    name: number for number, names in "
            f"_{name}_BY_NUMBER.items() for name in names\n}}\n")


def render() -> str:
    return (
        '"""Month and weekday names in the languages replies are read in (generated from\n'
        f"CLDR by babel {babel.__version__}: scripts/gen_datewords.py; do not edit).\n\n"
        "Keys are lower case, without a trailing dot. Pure data.\n"
        '"""\n\nfrom __future__ import annotations\n\n'
        f"LOCALES = (\n{_wrapped(LOCALES, 4)},\n)\n\n"
        + _grouped("MONTHS", months(), "month number (1-12) -> names, wide and abbreviated")
        + "\n"
        + _grouped("WEEKDAYS", weekdays(), "weekday (0 = Monday) -> names, wide names only")
    )


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        return 0 if TARGET.read_text(encoding="utf-8") == text else 1
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
