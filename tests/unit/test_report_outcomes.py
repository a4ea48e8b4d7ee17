"""The report's outcomes: goals reached, ratings by month, first contact, each liaison's pairs.

Program: 9 months from Wed 15 January 2025 (Europe/London), report as of 20 October 2025.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailflow.adapters.store import TinyDBStore
from mailflow.domain.keys import outbox_key
from mailflow.domain.model import (
    Escalation,
    EscalationReason,
    Event,
    EventType,
    Kind,
    OutboxEntry,
    OutboxStatus,
    Pair,
    Person,
    Program,
    Role,
)
from mailflow.report.data import ReportData, report_data
from mailflow.report.page import build_report
from mailflow.repository import Repository
from mailflow.services.state import ProgramState

LONDON = ZoneInfo("Europe/London")
START = date(2025, 1, 15)
PROGRAM = Program(name="Library mentoring", start=START, months=9, timezone="Europe/London",
                  send_time=time(9, 0), coordinators=("c@lib.org",))
NOW = datetime(2025, 10, 20, 12, 0, tzinfo=LONDON)


def _pair(n: int, liaison: str) -> Pair:
    return Pair(f"p{n}", Person(f"Mentor {n}", f"m{n}@x.org", Role.MENTOR),
                Person(f"Mentee {n}", f"e{n}@x.org", Role.MENTEE),
                Person(f"Liaison {liaison}", f"{liaison.lower()}@lib.org", Role.LIAISON))


def _at(day: date, hour: int = 18) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=LONDON)


def _ev(pair: int, who: str, type_: EventType, day: date, *, text: str = "", value: str = "",
        ref: str = "", msg: str = "") -> Event:
    role = {"m": "mentor", "e": "mentee"}[who]
    return Event(_at(day), f"p{pair}", f"{who}{pair}@x.org", role, type_, None, text,
                 msg or f"<{pair}-{day}-{type_}@x.org>", value, ref)


def _goal_name(pair: int, day: date) -> str:
    """The ledger's name of the first GOAL of the reply `_ev` makes (`ledger.named`)."""
    return f"<{pair}-{day}-goal@x.org>#goal#{_at(day).isoformat()}#0"


def _events() -> list[Event]:
    d = date
    return [
        # p1 meets monthly, records two goals and reaches the second; rates 4 at mid-term
        *(_ev(1, "m", EventType.MET, d(2025, m, 20)) for m in range(1, 10)),
        _ev(1, "e", EventType.GOAL, d(2025, 1, 16), text="Publish a paper"),
        _ev(1, "m", EventType.GOAL, d(2025, 2, 2), text="Run a workshop"),
        _ev(1, "e", EventType.GOAL_DONE, d(2025, 6, 1), value="2",
            ref=_goal_name(1, d(2025, 2, 2))),
        _ev(1, "e", EventType.RATING, d(2025, 5, 22), value="4"),
        _ev(1, "m", EventType.RATING, d(2025, 5, 23), value="5"),
        # p2: reminded to make first contact, replied on day 18; a low rating at mid-term,
        # a rating withdrawn by UNDO
        _ev(2, "e", EventType.NOTE, d(2025, 2, 2), text="Hello"),
        _ev(2, "e", EventType.RATING, d(2025, 5, 22), value="2"),
        _ev(2, "m", EventType.RATING, d(2025, 6, 1), value="1", msg="<undone@x.org>"),
        _ev(2, "m", EventType.UNDONE, d(2025, 6, 2), value="rating",
            ref=f"<undone@x.org>#rating#{_at(d(2025, 6, 1)).isoformat()}#0"),
        _ev(2, "m", EventType.RATING, d(2025, 10, 16), value="3"),
        # p3 never writes at all (and was reminded, and its liaison told)
    ]


@pytest.fixture
def state(tmp_path: Path) -> Iterator[ProgramState]:
    repo = Repository(TinyDBStore(tmp_path / "mailflow.json"))
    try:
        repo.import_pairs([_pair(1, "Ada"), _pair(2, "Ada"), _pair(3, "Bea")])
        with repo.transaction():
            for i, event in enumerate(_events()):
                repo.add_event(f"e{i}", event)
            for n in (2, 3):
                key = outbox_key(f"p{n}", Kind.FIRST_CONTACT, "m1", f"m{n}@x.org")
                repo.put_outbox(OutboxEntry(key, f"p{n}", f"m{n}@x.org", "mentor",
                                            Kind.FIRST_CONTACT, "m1", _at(date(2025, 1, 29), 9),
                                            "<fc@x>", OutboxStatus.SENT))
            repo.put_escalation(Escalation("x1", "p3", "bea@lib.org",
                                           EscalationReason.NO_CONTACT, "",
                                           _at(date(2025, 2, 5), 9)))
        yield ProgramState.load(repo, PROGRAM, NOW)
    finally:
        repo.close()


@pytest.fixture
def data(state: ProgramState) -> ReportData:
    return report_data(state)


def test_goals_are_numbered_and_the_reached_ones_marked(data: ReportData) -> None:
    assert [(g.number, g.text, g.role, g.reached, g.reached_on) for g in data.goals["p1"]] == [
        (1, "Publish a paper", "mentee", False, None),
        (2, "Run a workshop", "mentor", True, date(2025, 6, 1)),
    ]
    assert (data.goals_recorded, data.goals_reached) == (2, 1)


def test_ratings_count_in_the_pairs_term_month_and_a_withdrawn_one_does_not(
    data: ReportData,
) -> None:
    by_month = {r.month: r for r in data.ratings if r.total}
    assert set(by_month) == {5, 9}
    assert by_month[5].counts == (0, 1, 0, 1, 1)  # 2, 4, 5: the 1 was withdrawn (UNDO)
    assert (by_month[5].total, by_month[5].low, by_month[5].mean) == (3, 1, 11 / 3)
    assert by_month[9].counts == (0, 0, 1, 0, 0)


def test_first_contact_lists_the_reminded_and_the_never_contacted(data: ReportData) -> None:
    rows = [(c.pair_id, c.reminded, c.liaison_told, c.first_reply, c.never)
            for c in data.first_contact]
    assert rows == [
        ("p2", date(2025, 1, 29), None, date(2025, 2, 2), False),
        ("p3", date(2025, 1, 29), date(2025, 2, 5), None, True),
    ]
    assert data.never_contacted == 1


def test_each_liaison_has_a_row_of_their_pairs(data: ReportData) -> None:
    rows = {row.liaison: row for row in data.liaisons}
    assert list(rows) == ["Liaison Ada", "Liaison Bea"]
    ada, bea = rows["Liaison Ada"], rows["Liaison Bea"]
    assert (ada.pairs, ada.meeting_monthly, ada.with_due_months) == (2, 1, 2)
    assert (ada.escalations, ada.never_contacted, ada.low_ratings) == (0, 0, 1)
    assert (ada.goals, ada.goals_reached) == (2, 1)
    assert (bea.pairs, bea.escalations, bea.open_escalations, bea.never_contacted) == (1, 1, 1, 1)
    assert bea.median_days_to_resolve is None


def test_the_page_shows_the_outcomes(state: ProgramState) -> None:
    html = build_report(state, generated_at=NOW)
    for heading in ("Ratings by month", "First contact", "Liaisons and their pairs",
                    "Goals recorded and reached"):
        assert f">{heading}</h2>" in html
    text = " ".join(html.split())
    assert "1 of 2 goals recorded were reached" in text and "Reached</span> 1 Jun 2025" in text
    assert "1 pair never made first contact" in text
    assert "No first contact" in html  # the escalation reason's label, and the column
