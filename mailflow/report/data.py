"""The figures of the committee's end-of-program report, computed from one `ProgramState`.

Pure over the state: no clock (the state's `today`, in the program's zone, is
"now"), no I/O. `mailflow.report.page` renders these figures as HTML.

Term months are each pair's own: month m runs from `month_start(start, m)` up to
(not including) `month_start(start, m + 1)`. In each month a pair

- *met* when a MET is dated in it (the MET's date, else the day it was logged);
- else *reported not meeting* when a NOT_MET was logged in it;
- else was *paused* when a pause of the mentor, the mentee or the whole pair
  covers any day of it;
- else was *silent* once the month is over;
- a month that has not ended is *not yet due*, and months that start after a
  pair's end was confirmed are *ended*.

MET and NOT_MET notes stay between mentor and mentee: they are collected only
when `share_notes` is asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from statistics import median
from zoneinfo import ZoneInfo

from mailflow.domain.history import WHOLE_PAIR, PairHistory
from mailflow.domain.model import Event, EventType, PairState, Role
from mailflow.domain.schedule import month_start, term_end
from mailflow.report.outcomes import (
    FirstContactRow,
    GoalRow,
    LiaisonRow,
    PairFacts,
    RatingMonth,
    first_contact_rows,
    goal_rows,
    liaison_rows,
    ratings_by_month,
)
from mailflow.repository import PairRecord
from mailflow.services.state import ProgramState
from mailflow.services.status import pair_state

# Events a machine wrote, not the person: they are not replies.
NOT_REPLIES = frozenset({EventType.AUTO_REPLY, EventType.BOUNCE, EventType.COMPLAINT,
                         EventType.QUARANTINED})


class Cell(StrEnum):
    MET = "met"
    NOT_MET = "not_met"
    PAUSED = "paused"
    SILENT = "silent"
    ENDED = "ended"
    NOT_YET = "not_yet"


CELL_LABELS = {
    Cell.MET: "Met",
    Cell.NOT_MET: "Reported not meeting",
    Cell.PAUSED: "Paused",
    Cell.SILENT: "Silent",
    Cell.ENDED: "Match ended",
    Cell.NOT_YET: "Not yet due",
}
# Months that count towards "meeting at least monthly".
DUE_CELLS = (Cell.MET, Cell.NOT_MET, Cell.SILENT)


@dataclass(frozen=True)
class MonthCell:
    month: int
    start: date
    end: date  # exclusive
    status: Cell
    meetings: int  # MET days in the month
    over: bool = False  # the month has ended: only such months count in the headline


@dataclass(frozen=True)
class PairRow:
    pair_id: str
    mentor: str
    mentee: str
    liaison: str
    state: PairState
    start: date
    end: date
    months: tuple[MonthCell, ...]

    @property
    def due_months(self) -> list[MonthCell]:
        """Months that count towards "meeting at least monthly": those that have ended
        and were not paused. (A month in progress counted only for pairs that had met
        in it would make silent pairs look "not yet due" and the share 100%.)"""
        return [c for c in self.months if c.status in DUE_CELLS and c.over]

    @property
    def meets_monthly(self) -> bool:
        due = self.due_months
        return bool(due) and all(c.status == Cell.MET for c in due)


@dataclass(frozen=True)
class EscalationRow:
    id: str
    pair_id: str
    liaison: str
    reason: str
    opened: date
    resolved: date | None
    days_open: int  # to the resolution, or to today while still open

    @property
    def still_open(self) -> bool:
        return self.resolved is None


@dataclass(frozen=True)
class ReplyRate:
    month: int
    role: Role
    replied: int
    eligible: int  # pairs whose month had begun and whose match had not ended

    @property
    def share(self) -> float | None:
        return self.replied / self.eligible if self.eligible else None


@dataclass(frozen=True)
class TextEntry:
    """A goal, a piece of feedback or a check-in note."""

    pair_id: str
    role: str
    day: date
    text: str
    kind: str = ""


@dataclass(frozen=True)
class Headline:
    pairs: int
    meeting_monthly: int
    with_due_months: int  # pairs with at least one month that counts
    escalations: int
    open_escalations: int
    completed: int
    ended: int

    @property
    def meeting_share(self) -> float | None:
        return self.meeting_monthly / self.with_due_months if self.with_due_months else None


@dataclass(frozen=True)
class ReportData:
    program: str
    months: int
    term_start: date
    term_end: date
    today: date
    headline: Headline
    pairs: tuple[PairRow, ...]
    summary: tuple[dict[Cell, int], ...]  # per term month (index 0 is month 1)
    escalations: tuple[EscalationRow, ...]
    median_days_to_resolve: float | None
    reply_rates: tuple[ReplyRate, ...]
    goals: dict[str, tuple[GoalRow, ...]]  # numbered, reached or not (report/outcomes.py)
    feedback: tuple[TextEntry, ...]
    notes: tuple[TextEntry, ...]  # empty unless share_notes
    same_start: bool  # every pair starts on the program's start: months have calendar names
    ratings: tuple[RatingMonth, ...] = ()  # per term month (index 0 is month 1)
    first_contact: tuple[FirstContactRow, ...] = ()
    liaisons: tuple[LiaisonRow, ...] = ()

    @property
    def goals_recorded(self) -> int:
        return sum(len(g) for g in self.goals.values())

    @property
    def goals_reached(self) -> int:
        return sum(1 for rows in self.goals.values() for g in rows if g.reached)

    @property
    def never_contacted(self) -> int:
        return sum(1 for row in self.first_contact if row.never)


def _day(event: Event, zone: ZoneInfo) -> date:
    return event.time.astimezone(zone).date()


def _paused(history: PairHistory, people: Iterable[str], start: date, end: date) -> bool:
    who = {*people, WHOLE_PAIR}
    return any(p.person in who and p.since < end and p.until > start for p in history.pauses)


def _status(rec: PairRecord, state: ProgramState, start: date, end: date,
            met: int, not_met: bool) -> Cell:
    history = state.histories[rec.pair_id]
    if history.state == PairState.ENDED and history.ended_at and history.ended_at <= start:
        return Cell.ENDED
    if start > state.today:
        return Cell.NOT_YET
    if met:
        return Cell.MET
    if not_met:
        return Cell.NOT_MET
    if _paused(history, (p.email for p in rec.pair.participants), start, end):
        return Cell.PAUSED
    return Cell.NOT_YET if end > state.today else Cell.SILENT


def month_bounds(start: date, months: int) -> list[tuple[date, date]]:
    return [(month_start(start, m), month_start(start, m + 1)) for m in range(1, months + 1)]


def pair_row(state: ProgramState, rec: PairRecord) -> PairRow:
    program, zone = state.program, ZoneInfo(state.program.timezone)
    start = rec.pair.start_date(program)
    history = state.histories[rec.pair_id]
    events = state.events_by_pair.get(rec.pair_id, [])
    not_met_days = [e.date or _day(e, zone) for e in events if e.type == EventType.NOT_MET]
    cells = []
    for m, (a, b) in enumerate(month_bounds(start, program.months), start=1):
        met = sum(1 for d in history.met_dates if a <= d < b)
        not_met = any(a <= d < b for d in not_met_days)
        cells.append(MonthCell(m, a, b, _status(rec, state, a, b, met, not_met), met,
                               over=b <= state.today))
    pair = rec.pair
    return PairRow(pair.pair_id, pair.mentor.name, pair.mentee.name, pair.liaison.name,
                   pair_state(rec, history, program, state.today), start,
                   term_end(start, program.months), tuple(cells))


def monthly_summary(rows: Iterable[PairRow], months: int) -> tuple[dict[Cell, int], ...]:
    summary: list[dict[Cell, int]] = [dict.fromkeys(Cell, 0) for _ in range(months)]
    for row in rows:
        for cell in row.months:
            summary[cell.month - 1][cell.status] += 1
    return tuple(summary)


def escalation_rows(state: ProgramState) -> tuple[EscalationRow, ...]:
    zone = ZoneInfo(state.program.timezone)
    rows = []
    for esc in sorted(state.escalations, key=lambda e: (e.opened_at, e.id)):
        rec = state.pairs.get(esc.pair_id)
        liaison = rec.pair.liaison.name if rec else esc.liaison
        opened = esc.opened_at.astimezone(zone).date()
        resolved = esc.resolved_at.astimezone(zone).date() if esc.resolved_at else None
        days = ((resolved or state.today) - opened).days
        rows.append(EscalationRow(esc.id, esc.pair_id, liaison, str(esc.reason), opened,
                                  resolved, max(days, 0)))
    return tuple(rows)


def _replied(events: Iterable[Event], email: str, zone: ZoneInfo, a: date, b: date) -> bool:
    return any(e.person.lower() == email and e.type not in NOT_REPLIES
               and a <= _day(e, zone) < b for e in events)


def reply_rates(state: ProgramState, rows: Iterable[PairRow]) -> tuple[ReplyRate, ...]:
    """Per term month and role: how many of the pairs' mentors (mentees) sent any reply."""
    zone = ZoneInfo(state.program.timezone)
    counts = {(m, role): [0, 0] for m in range(1, state.program.months + 1)
              for role in (Role.MENTOR, Role.MENTEE)}
    for row in rows:
        pair = state.pairs[row.pair_id].pair
        events = state.events_by_pair.get(row.pair_id, [])
        for cell in row.months:
            if cell.start > state.today or cell.status == Cell.ENDED:
                continue
            for person in pair.participants:
                count = counts[(cell.month, person.role)]
                count[1] += 1
                count[0] += _replied(events, person.email, zone, cell.start, cell.end)
    return tuple(ReplyRate(m, role, n, total) for (m, role), (n, total) in counts.items())


def texts(state: ProgramState, types: Iterable[EventType]) -> tuple[TextEntry, ...]:
    wanted, zone = set(types), ZoneInfo(state.program.timezone)
    entries = [
        TextEntry(e.pair_id, e.role, e.date if e.type == EventType.MET and e.date
                  else _day(e, zone), e.text, str(e.type))
        for pair_id in sorted(state.events_by_pair) if pair_id in state.pairs
        for e in state.events_by_pair[pair_id] if e.type in wanted and e.text.strip()
    ]
    return tuple(sorted(entries, key=lambda t: (t.pair_id, t.day)))


def headline(rows: Iterable[PairRow], escalations: Iterable[EscalationRow]) -> Headline:
    rows, escalations = list(rows), list(escalations)
    return Headline(
        pairs=len(rows),
        meeting_monthly=sum(1 for r in rows if r.meets_monthly),
        with_due_months=sum(1 for r in rows if r.due_months),
        escalations=len(escalations),
        open_escalations=sum(1 for e in escalations if e.still_open),
        completed=sum(1 for r in rows if r.state == PairState.COMPLETED),
        ended=sum(1 for r in rows if r.state == PairState.ENDED),
    )


def report_data(state: ProgramState, *, share_notes: bool = False) -> ReportData:
    program = state.program
    records = sorted(state.active_pairs(), key=lambda r: r.pair_id)
    rows = tuple(pair_row(state, rec) for rec in records)
    escalations = escalation_rows(state)
    resolved = [e.days_open for e in escalations if not e.still_open]
    goals = goal_rows(state, [r.pair_id for r in rows])
    contact = first_contact_rows(state, records)
    facts = [PairFacts(r.pair_id, r.meets_monthly, any(c.status in DUE_CELLS for c in r.months))
             for r in rows]
    starts = [r.start for r in rows] or [program.start]
    return ReportData(
        program=program.name,
        months=program.months,
        term_start=min(starts),
        term_end=max(term_end(s, program.months) for s in starts),
        today=state.today,
        headline=headline(rows, escalations),
        pairs=rows,
        summary=monthly_summary(rows, program.months),
        escalations=escalations,
        median_days_to_resolve=median(resolved) if resolved else None,
        reply_rates=reply_rates(state, rows),
        goals=goals,
        feedback=texts(state, [EventType.FEEDBACK]),
        notes=texts(state, [EventType.MET, EventType.NOT_MET]) if share_notes else (),
        same_start=all(s == program.start for s in starts),
        ratings=ratings_by_month(state, records),
        first_contact=contact,
        liaisons=liaison_rows(state, facts, contact, goals),
    )


def as_of(moment: datetime, timezone: str) -> datetime:
    """`moment` in the program's zone, for the report's header."""
    return moment.astimezone(ZoneInfo(timezone))
