"""What the program achieved, for the committee's report: goals reached, ratings by
term month, pairs that never made first contact, and each liaison's pairs.

Pure over one `ProgramState`, like `mailflow.report.data`. Events withdrawn by
UNDO do not count (`mailflow.domain.ledger.in_force`). A rating counts in the
term month of the pair in which it was sent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median
from zoneinfo import ZoneInfo

from mailflow.domain.keys import outbox_key
from mailflow.domain.ledger import (
    LOW_RATING,
    RATING_MAX,
    RATING_MIN,
    goals,
    in_force,
    in_force_named,
)
from mailflow.domain.model import EscalationReason, EventType, Kind, OutboxStatus
from mailflow.domain.schedule import joined_on, month_of
from mailflow.repository import PairRecord
from mailflow.services.state import ProgramState


@dataclass(frozen=True)
class GoalRow:
    """A recorded goal (not withdrawn), numbered as the emails number it."""

    pair_id: str
    number: int
    role: str
    day: date
    text: str
    reached: bool
    reached_on: date | None


@dataclass(frozen=True)
class RatingMonth:
    month: int
    counts: tuple[int, ...]  # how many ratings of 1, 2, 3, 4, 5

    @property
    def total(self) -> int:
        return sum(self.counts)

    @property
    def low(self) -> int:
        return sum(self.counts[: LOW_RATING - RATING_MIN + 1])

    @property
    def mean(self) -> float | None:
        if not self.total:
            return None
        return sum(n * value for value, n in enumerate(self.counts, start=RATING_MIN)) \
            / self.total


@dataclass(frozen=True)
class FirstContactRow:
    """A pair whose mentor was reminded to make first contact, or that never replied."""

    pair_id: str
    mentor: str
    mentee: str
    liaison: str
    start: date
    reminded: date | None  # the day the first_contact reminder was sent
    liaison_told: date | None  # the day the no_contact escalation was opened
    first_reply: date | None  # None: neither has replied, to this day

    @property
    def never(self) -> bool:
        return self.first_reply is None


@dataclass(frozen=True)
class LiaisonRow:
    liaison: str
    email: str
    pairs: int
    meeting_monthly: int
    with_due_months: int
    escalations: int
    open_escalations: int
    median_days_to_resolve: float | None
    never_contacted: int
    low_ratings: int
    goals: int
    goals_reached: int


def goal_rows(state: ProgramState, pair_ids: Iterable[str]) -> dict[str, tuple[GoalRow, ...]]:
    zone = ZoneInfo(state.program.timezone)
    found: dict[str, tuple[GoalRow, ...]] = {}
    for pair_id in pair_ids:
        events = state.events_by_pair.get(pair_id, [])
        recorded = {name: e for name, e in in_force_named(events) if e.type == EventType.GOAL}
        rows = []
        for goal in goals(events):
            event = recorded[goal.ref]
            reached = goal.reached_at.astimezone(zone).date() if goal.reached_at else None
            rows.append(GoalRow(pair_id, goal.number, event.role,
                                event.time.astimezone(zone).date(), goal.text, goal.reached,
                                reached))
        found[pair_id] = tuple(rows)
    return found


def _ratings(state: ProgramState, rec: PairRecord) -> list[tuple[int, int]]:
    """(term month, value) of each rating in force of a pair."""
    zone, program = ZoneInfo(state.program.timezone), state.program
    start = rec.pair.start_date(program)
    out = []
    for event in in_force(state.events_by_pair.get(rec.pair_id, [])):
        value = event.value.strip()
        if event.type == EventType.RATING and value.isdigit() \
                and RATING_MIN <= int(value) <= RATING_MAX:
            month = month_of(start, program.months, event.time.astimezone(zone).date())
            out.append((month, int(value)))
    return out


def ratings_by_month(state: ProgramState,
                     records: Sequence[PairRecord]) -> tuple[RatingMonth, ...]:
    counts = [[0] * (RATING_MAX - RATING_MIN + 1) for _ in range(state.program.months)]
    for rec in records:
        for month, value in _ratings(state, rec):
            counts[month - 1][value - RATING_MIN] += 1
    return tuple(RatingMonth(m, tuple(c)) for m, c in enumerate(counts, start=1))


def first_contact_rows(state: ProgramState,
                       records: Sequence[PairRecord]) -> tuple[FirstContactRow, ...]:
    """Pairs reminded to make first contact, and pairs past their first-contact day in which
    neither person has replied (pairs that joined mid-term are not asked)."""
    program, zone = state.program, ZoneInfo(state.program.timezone)
    sent = {e.key: e for e in state.outbox if e.kind == Kind.FIRST_CONTACT
            and e.status == OutboxStatus.SENT}
    told = {e.pair_id: e.opened_at.astimezone(zone).date() for e in state.escalations
            if e.reason == EscalationReason.NO_CONTACT}
    rows = []
    for rec in records:
        pair, history = rec.pair, state.histories[rec.pair_id]
        start = pair.start_date(program)
        if joined_on(program, start, history.first_seen) is not None:
            continue
        reminder = sent.get(outbox_key(rec.pair_id, Kind.FIRST_CONTACT, "m1", pair.mentor.email))
        due = start + timedelta(days=program.first_contact_days)
        silent = not history.made_contact and due <= state.today
        if reminder is None and not silent:
            continue
        first_reply = history.first_reply_on or (history.met_dates[0] if history.met_dates
                                                 else None)
        rows.append(FirstContactRow(
            rec.pair_id, pair.mentor.name, pair.mentee.name, pair.liaison.name, start,
            reminder.due_at.astimezone(zone).date() if reminder else None,
            told.get(rec.pair_id), first_reply))
    return tuple(rows)


@dataclass(frozen=True)
class PairFacts:
    """What the per-liaison table needs of one pair (from `report.data`'s pair rows)."""

    pair_id: str
    meets_monthly: bool
    has_due_months: bool


def liaison_rows(state: ProgramState, facts: Iterable[PairFacts],
                 contact: Iterable[FirstContactRow],
                 goal_table: dict[str, tuple[GoalRow, ...]]) -> tuple[LiaisonRow, ...]:
    zone = ZoneInfo(state.program.timezone)
    by_liaison: dict[str, list[PairFacts]] = defaultdict(list)
    for fact in facts:
        by_liaison[state.pairs[fact.pair_id].pair.liaison.email].append(fact)
    never = {row.pair_id for row in contact if row.never}
    rows = []
    def name(email: str) -> str:
        return state.pairs[by_liaison[email][0].pair_id].pair.liaison.name

    for email in sorted(by_liaison, key=lambda e: (name(e), e)):
        pairs = by_liaison[email]
        ids = {p.pair_id for p in pairs}
        escalations = [e for e in state.escalations if e.pair_id in ids]
        resolved = [(e.resolved_at.astimezone(zone).date()
                     - e.opened_at.astimezone(zone).date()).days
                    for e in escalations if e.resolved_at]
        low = sum(1 for pid in ids for _, value in _ratings(state, state.pairs[pid])
                  if value <= LOW_RATING)
        goal_list = [g for pid in ids for g in goal_table.get(pid, ())]
        rows.append(LiaisonRow(
            name(email), email, len(pairs),
            sum(1 for p in pairs if p.meets_monthly),
            sum(1 for p in pairs if p.has_due_months),
            len(escalations), sum(1 for e in escalations if e.resolved_at is None),
            median(resolved) if resolved else None, len(ids & never), low,
            len(goal_list), sum(1 for g in goal_list if g.reached)))
    return tuple(rows)
