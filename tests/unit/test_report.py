"""The committee's report: exact figures from a real store, escaping, privacy, self-containment.

Program: 9 months from Wed 15 January 2025 (Europe/London), report as of 20 October 2025.
Term months of the pairs that start with the program: M1 15 Jan–14 Feb, M2 15 Feb–14 Mar,
... M9 15 Sep–14 Oct. Pair p3 starts on 1 February (M1 1–28 Feb, ... M9 1–31 Oct).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, time
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailflow.adapters.store import TinyDBStore
from mailflow.domain.model import (
    Escalation,
    EscalationReason,
    Event,
    EventType,
    Pair,
    PairState,
    Person,
    Program,
    Role,
)
from mailflow.report.charts import engagement_grids
from mailflow.report.data import Cell, ReportData, report_data
from mailflow.report.page import build_report
from mailflow.repository import Repository
from mailflow.services.state import ProgramState

LONDON = ZoneInfo("Europe/London")
PROGRAM = Program(name="Library <mentoring> & friends", start=date(2025, 1, 15), months=9,
                  timezone="Europe/London", send_time=time(9, 0), coordinators=("c@lib.org",))
NOW = datetime(2025, 10, 20, 12, 0, tzinfo=LONDON)
GENERATED = datetime(2025, 10, 20, 11, 30, tzinfo=ZoneInfo("UTC"))

MET, NOT_MET, PAUSED, SILENT = Cell.MET, Cell.NOT_MET, Cell.PAUSED, Cell.SILENT
ENDED, NOT_YET = Cell.ENDED, Cell.NOT_YET

SECRET_NOTE = "secret note about salary"
HELP_TEXT = "private help text for the liaison"
FEEDBACK_MARKUP = "Loved it <img src=http://evil.example/x.png> see https://example.org"


def _pair(n: int, mentor: str = "Mo Mentor", mentee: str = "Em Mentee",
          start: date | None = None) -> Pair:
    return Pair(f"p{n}", Person(mentor, f"m{n}@x.org", Role.MENTOR),
                Person(mentee, f"e{n}@x.org", Role.MENTEE),
                Person("Li Liaison", "li@lib.org", Role.LIAISON), start)


def _at(day: date, hour: int = 18) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=LONDON)


def _ev(pair: int, who: str, type_: EventType, day: date, *, on: date | None = None,
        text: str = "") -> Event:
    role = {"m": "mentor", "e": "mentee", "c": "coordinator"}[who]
    person = "c@lib.org" if who == "c" else f"{who}{pair}@x.org"
    return Event(_at(day), f"p{pair}", person, role, type_, on, text)


def _events() -> list[Event]:
    d = date
    p1 = [_ev(1, "m", EventType.MET, d(2025, m, 20), on=d(2025, m, 20)) for m in range(1, 10)]
    p1 += [
        _ev(1, "e", EventType.MET, d(2025, 1, 25), text=SECRET_NOTE),
        _ev(1, "e", EventType.GOAL, d(2025, 1, 16), text="Publish <em>a paper</em>"),
        _ev(1, "m", EventType.GOAL, d(2025, 2, 2), text="Run a workshop"),
        _ev(1, "e", EventType.AUTO_REPLY, d(2025, 3, 1)),
        _ev(1, "e", EventType.FEEDBACK, d(2025, 10, 16), text=FEEDBACK_MARKUP),
    ]
    p2 = [
        _ev(2, "m", EventType.MET, d(2025, 2, 16), on=d(2025, 2, 14)),  # met in M1, said in M2
        Event(_at(d(2025, 2, 15), 10), "p2", "e2@x.org", "mentee", EventType.NOT_MET,
              text="Too busy at work"),
        _ev(2, "e", EventType.HELP, d(2025, 3, 1), text=HELP_TEXT),
        _ev(2, "e", EventType.PAUSE, d(2025, 4, 20), on=d(2025, 6, 1)),
        _ev(2, "m", EventType.MET, d(2025, 7, 20)),
        _ev(2, "m", EventType.BOUNCE, d(2025, 8, 20)),
        _ev(2, "m", EventType.FEEDBACK, d(2025, 10, 17), text="More structure please"),
    ]
    p3 = [
        _ev(3, "e", EventType.MET, d(2025, 2, 10)),
        _ev(3, "c", EventType.PAUSE, d(2025, 3, 5), on=d(2025, 3, 20)),
        *(_ev(3, "m", EventType.MET, d(2025, m, 10)) for m in range(4, 10)),
    ]
    p4 = [
        _ev(4, "m", EventType.MET, d(2025, 1, 30)),
        _ev(4, "m", EventType.MET, d(2025, 2, 28)),
        _ev(4, "e", EventType.END_REQUEST, d(2025, 3, 20), text="Schedules don't fit"),
    ]
    return p1 + p2 + p3 + p4


def _escalations() -> list[Escalation]:
    def esc(i: str, pair: int, reason: EscalationReason, opened: date,
            resolved: date | None) -> Escalation:
        return Escalation(i, f"p{pair}", "li@lib.org", reason, HELP_TEXT, _at(opened, 10),
                          _at(resolved, 9) if resolved else None)

    return [
        esc("x1", 2, EscalationReason.HELP, date(2025, 3, 1), date(2025, 3, 4)),
        esc("x2", 4, EscalationReason.END_REQUEST, date(2025, 3, 20), date(2025, 4, 1)),
        esc("x3", 3, EscalationReason.BOUNCE, date(2025, 9, 10), None),
    ]


@pytest.fixture
def state(tmp_path: Path) -> Iterator[ProgramState]:
    repo = Repository(TinyDBStore(tmp_path / "mailflow.json"))
    try:
        repo.import_pairs([
            _pair(1, mentor="Ada <script>alert(1)</script>", mentee="Bob & Co"),
            _pair(2), _pair(3, start=date(2025, 2, 1)), _pair(4),
        ])
        with repo.transaction():
            for i, event in enumerate(_events()):
                repo.add_event(f"e{i}", event)
            for escalation in _escalations():
                repo.put_escalation(escalation)
            p4 = repo.pair("p4")
            assert p4 is not None
            repo.put_pair(replace(p4, state=PairState.ENDED, state_since=_at(date(2025, 4, 1), 9)))
        yield ProgramState.load(repo, PROGRAM, NOW)
    finally:
        repo.close()


@pytest.fixture
def data(state: ProgramState) -> ReportData:
    return report_data(state)


def test_each_pair_month_has_the_status_the_events_say(data: ReportData) -> None:
    cells = {row.pair_id: [c.status for c in row.months] for row in data.pairs}
    assert cells == {
        "p1": [MET] * 9,
        "p2": [MET, NOT_MET, SILENT, PAUSED, PAUSED, SILENT, MET, SILENT, SILENT],
        "p3": [MET, PAUSED, MET, MET, MET, MET, MET, MET, NOT_YET],
        "p4": [MET, MET, SILENT, ENDED, ENDED, ENDED, ENDED, ENDED, ENDED],
    }
    p1 = data.pairs[0]
    assert [c.meetings for c in p1.months] == [2, 1, 1, 1, 1, 1, 1, 1, 1]
    p3 = data.pairs[2]
    assert (p3.months[0].start, p3.months[0].end) == (date(2025, 2, 1), date(2025, 3, 1))
    assert [r.state for r in data.pairs] == [
        PairState.COMPLETED, PairState.COMPLETED, PairState.ACTIVE, PairState.ENDED]


def test_monthly_summary_counts_every_pair_once_per_month(data: ReportData) -> None:
    def counts(**n: int) -> dict[Cell, int]:
        return {cell: n.get(str(cell), 0) for cell in Cell}

    assert list(data.summary) == [
        counts(met=4),
        counts(met=2, not_met=1, paused=1),
        counts(met=2, silent=2),
        counts(met=2, paused=1, ended=1),
        counts(met=2, paused=1, ended=1),
        counts(met=2, silent=1, ended=1),
        counts(met=3, ended=1),
        counts(met=2, silent=1, ended=1),
        counts(met=1, silent=1, not_yet=1, ended=1),
    ]


def test_headline(data: ReportData) -> None:
    h = data.headline
    assert (h.pairs, h.meeting_monthly, h.with_due_months) == (4, 2, 4)
    assert (h.escalations, h.open_escalations, h.completed, h.ended) == (3, 1, 2, 1)
    assert h.meeting_share == 0.5
    assert (data.term_start, data.term_end, data.today) == (
        date(2025, 1, 15), date(2025, 11, 1), date(2025, 10, 20))
    assert not data.same_start


def test_escalations_and_how_long_they_stayed_open(data: ReportData) -> None:
    rows = [(e.pair_id, e.reason, e.opened, e.resolved, e.days_open, e.still_open)
            for e in data.escalations]
    assert rows == [
        ("p2", "help", date(2025, 3, 1), date(2025, 3, 4), 3, False),
        ("p4", "end_request", date(2025, 3, 20), date(2025, 4, 1), 12, False),
        ("p3", "bounce", date(2025, 9, 10), None, 40, True),  # counted to 20 October
    ]
    assert data.median_days_to_resolve == 7.5


def test_reply_rates_by_month_and_role(data: ReportData) -> None:
    def rates(role: Role) -> list[tuple[int, int]]:
        return [(r.replied, r.eligible) for r in data.reply_rates if r.role == role]

    # Machine events (auto-replies, bounces) and the coordinator's pause do not count;
    # a reply counts in the month it was sent, not the month of the meeting it reports.
    assert rates(Role.MENTOR) == [(2, 4), (3, 4), (2, 4), (2, 3), (2, 3), (2, 3), (3, 3),
                                  (2, 3), (1, 3)]
    assert rates(Role.MENTEE) == [(2, 4), (1, 4), (1, 4), (1, 3), (0, 3), (0, 3), (0, 3),
                                  (0, 3), (0, 3)]


def test_goals_feedback_and_notes(state: ProgramState, data: ReportData) -> None:
    assert [(g.role, g.day, g.text) for g in data.goals["p1"]] == [
        ("mentee", date(2025, 1, 16), "Publish <em>a paper</em>"),
        ("mentor", date(2025, 2, 2), "Run a workshop"),
    ]
    assert data.goals["p2"] == data.goals["p3"] == data.goals["p4"] == ()
    assert [(f.pair_id, f.role, f.text) for f in data.feedback] == [
        ("p1", "mentee", FEEDBACK_MARKUP), ("p2", "mentor", "More structure please")]
    assert data.notes == ()
    shared = report_data(state, share_notes=True)
    assert [(n.pair_id, n.kind, n.text) for n in shared.notes] == [
        ("p1", "met", SECRET_NOTE), ("p2", "not_met", "Too busy at work")]


def test_markup_from_the_store_is_escaped(state: ProgramState) -> None:
    html = build_report(state, generated_at=GENERATED)
    assert "<script" not in html.lower()
    assert "<img" not in html and "<em>a paper" not in html
    assert "Ada &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Bob &amp; Co" in html
    assert "Library &lt;mentoring&gt; &amp; friends" in html
    assert "Publish &lt;em&gt;a paper&lt;/em&gt;" in html
    assert "Loved it &lt;img src=http://evil.example/x.png&gt; see https://example.org" in html


class _Tags(HTMLParser):
    """Every start tag and its attributes, as a browser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def test_report_is_self_contained(state: ProgramState) -> None:
    html = build_report(state, generated_at=GENERATED, share_notes=True)
    parser = _Tags()
    parser.feed(html)
    names = {tag for tag, _ in parser.tags}
    assert names.isdisjoint({"script", "link", "iframe", "object", "embed", "img", "base"})
    links = [(tag, name, value) for tag, attrs in parser.tags for name, value in attrs
             if name in {"src", "href", "xlink:href", "action"}]
    assert links == []  # nothing to fetch, not even a local file
    assert not [name for _, attrs in parser.tags for name, _ in attrs if name.startswith("on")]
    assert re.search(r"@import|javascript:", html, re.I) is None
    assert re.findall(r"url\(([^)]*)\)", html) == ["#hatch"]  # the only url(): a local pattern
    assert html.count("<style>") == 1 and "@page" in html and "@media print" in html


def test_met_notes_only_with_share_notes(state: ProgramState) -> None:
    private = build_report(state, generated_at=GENERATED)
    assert SECRET_NOTE not in private and "Too busy at work" not in private
    assert "Check-in notes stay between mentor and mentee" in private
    shared = build_report(state, generated_at=GENERATED, share_notes=True)
    assert SECRET_NOTE in shared and "Too busy at work" in shared
    for html in (private, shared):  # texts meant for the liaison are never quoted
        assert HELP_TEXT not in html and "Schedules don" not in html


def test_charts_are_svg_with_titles_and_a_legend(state: ProgramState) -> None:
    html = build_report(state, generated_at=GENERATED)
    assert html.count('<svg class="chart') == 2
    assert "<title>p2, month 4 (April 15, 2025 – May 14, 2025): Paused</title>" in html
    assert "<title>p1, month 1 (January 15, 2025 – February 14, 2025): Met (2 meetings)</title>" \
        in html
    assert "<title>Month 3: 2 pairs silent</title>" in html
    for label in ("Met", "Reported not meeting", "Paused", "Silent", "Match ended",
                  "Not yet due"):
        assert f"{label}</li>" in html
    assert "Still open" in html and "Asked to end the match" in html
    assert "generated 2025-10-20 12:30 BST" in html  # in the program's zone


def test_long_rosters_split_the_chart_into_page_sized_pieces(data: ReportData) -> None:
    many = replace(data, pairs=data.pairs * 13)  # 52 rows
    grids = engagement_grids(many)
    assert [len(g.rows) for g in grids] == [24, 24, 4]


def test_an_empty_program_still_renders(tmp_path: Path) -> None:
    repo = Repository(TinyDBStore(tmp_path / "empty.json"))
    try:
        html = build_report(ProgramState.load(repo, PROGRAM, NOW), generated_at=GENERATED)
    finally:
        repo.close()
    assert "No escalations were raised." in html and "No feedback received yet." in html
