"""Dates after MET and PAUSE in the languages replies come in (mailflow.domain.dates)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from bench.measure_dates import CASES, REF
from mailflow.domain.dates import PAST, UPCOMING, read_date
from mailflow.domain.keywords import parse_keywords

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("text", "direction", "expected", "lang"), CASES)
def test_the_table_of_dates(text: str, direction: str, expected: date | None,
                            lang: str) -> None:
    got, used = read_date(text, REF, "mdy", direction)
    assert got == expected
    assert (used > 0) == (expected is not None)


@pytest.mark.parametrize(
    ("line", "when", "note"),
    [("MET 3. Oktober, im Café", date(2026, 10, 3), "im Café"),
     ("MET le 3 octobre", date(2026, 10, 3), ""),
     ("MET el 3 de octubre de 2026 - hablamos mucho", date(2026, 10, 3), "hablamos mucho"),
     ("MET 3 października", date(2026, 10, 3), ""),
     ("MET 10月3日 よかった", date(2026, 10, 3), "よかった")],
)
def test_met_reads_the_date_and_keeps_the_rest_as_the_note(line: str, when: date,
                                                           note: str) -> None:
    (command,) = parse_keywords(line, reference=REF).commands
    assert (command.name, command.date, command.text) == ("met", when, note)


@pytest.mark.parametrize(
    ("line", "until"),
    [("PAUSE hasta el 15 de enero", date(2027, 1, 15)),
     ("PAUSE bis zum 15. Januar", date(2027, 1, 15)),
     ("PAUSE jusqu'au 15 janvier", date(2027, 1, 15)),
     ("PAUSE 1月15日まで", date(2027, 1, 15)),
     ("PAUSE until 15 January", date(2027, 1, 15))],
)
def test_pause_reads_its_end_date(line: str, until: date) -> None:
    (command,) = parse_keywords(line, reference=REF).commands
    assert (command.name, command.date) == ("pause", until)


@pytest.mark.parametrize(("text", "order", "expected"),
                         [("9/10", "mdy", date(2026, 9, 10)), ("3/10", "dmy", date(2026, 10, 3)),
                          ("3.10.", "dmy", date(2026, 10, 3)),
                          ("03.10.2026", "dmy", date(2026, 10, 3))])
def test_numeric_dates_follow_the_configured_order(text: str, order: str,
                                                   expected: date) -> None:
    assert read_date(text, REF, order, PAST)[0] == expected
    assert read_date(text, REF, order, UPCOMING)[0] is not None


def test_the_month_names_are_what_babel_gives() -> None:
    """mailflow/domain/datewords.py is generated from CLDR by scripts/gen_datewords.py."""
    pytest.importorskip("babel")
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_datewords.py"),
                           "--check"], check=False)
    assert done.returncode == 0, "run scripts/gen_datewords.py"
