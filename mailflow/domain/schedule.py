"""Calendar arithmetic for the planner: months of a term and quiet spells. Pure.

Everything is computed directly from a pair's start date; nothing walks day by day.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from mailflow.domain.history import PairHistory
from mailflow.domain.model import Kind, Pair, PairState, Program

FEEDBACK_PERIOD = "end"
REMINDER_PERIOD = "reminder"  # the feedback reminder: key pair/feedback/reminder/person
FEEDBACK_REMINDER_AFTER = timedelta(days=14)
MIDPOINT_AFTER = timedelta(days=7)  # after the start of month floor(N/2)+1
NO_CONTACT_AFTER = timedelta(days=7)  # after the first_contact reminder


@dataclass(frozen=True, slots=True)
class Due:
    """One appointment: what falls due on which local day, before keys and zones."""

    kind: Kind
    period: str
    day: date


def _days_in_month(year: int, month: int) -> int:
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    return (first_of_next - timedelta(days=1)).day


def add_months(day: date, months: int) -> date:
    """Same day of the month, `months` later, clamped to that month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, _days_in_month(year, month)))


def month_start(pair_start: date, month: int) -> date:
    """Month m of a term starts m-1 months after the pair's start."""
    return add_months(pair_start, month - 1)


def term_end(pair_start: date, months: int) -> date:
    return add_months(pair_start, months)


def month_of(start: date, months: int, day: date) -> int:
    """The term month (1..months) that `day` falls in for a pair started on `start`."""
    month = (day.year - start.year) * 12 + day.month - start.month + 1
    if month > 1 and month_start(start, month) > day:
        month -= 1
    return max(1, min(month, months))


def midpoint_month(months: int) -> int:
    """The month whose second week holds the mid-term check-in: 5 of 9, 4 of 6, 7 of 12."""
    return months // 2 + 1


def joined_on(program: Program, start: date, first_seen: datetime | None) -> date | None:
    """The day a pair joins mid-term: its first import, if that came more than
    `catch_up_days` after its start (the moment its intro was due in the program's
    zone: exactly when catch-up would skip that intro); else None. SPEC 2."""
    if first_seen is None:
        return None
    zone = ZoneInfo(program.timezone)
    intro_due = datetime.combine(start, program.send_time, tzinfo=zone)
    if first_seen - intro_due <= timedelta(days=program.catch_up_days):
        return None
    return first_seen.astimezone(zone).date()


def joining_month(program: Program, pair: Pair, first_seen: datetime) -> int | None:
    """The term month a pair first imported at `first_seen` joins in, if it joins mid-term."""
    start = pair.start_date(program)
    joined = joined_on(program, start, first_seen)
    return None if joined is None else month_of(start, program.months, joined)


def quiet_from(program: Program, start: date, history: PairHistory) -> date:
    """The day a pair's quiet clock first counts from: its start, or the day it joined."""
    return joined_on(program, start, history.first_seen) or start


def _feedback(day: date) -> list[Due]:
    return [Due(Kind.FEEDBACK, FEEDBACK_PERIOD, day),
            Due(Kind.FEEDBACK, REMINDER_PERIOD, day + FEEDBACK_REMINDER_AFTER)]


def participant_schedule(program: Program, start: date, history: PairHistory) -> list[Due]:
    """intro, topics, midpoint, closing, feedback and its reminder for mentor and mentee.

    A pair that joined mid-term gets its intro on the day it joined and nothing
    that fell due before (earlier topics, a past midpoint or closing).
    """
    end = term_end(start, program.months)
    if history.state == PairState.ENDED:
        return _feedback(min(end, history.ended_at or end))
    months = program.months
    midpoint = month_start(start, midpoint_month(months)) + MIDPOINT_AFTER
    joined = joined_on(program, start, history.first_seen)
    dues = [
        *(Due(Kind.TOPIC, f"m{m}", month_start(start, m)) for m in range(2, months)),
        Due(Kind.MIDPOINT, f"m{midpoint_month(months)}", midpoint),
        Due(Kind.CLOSING, f"m{months}", month_start(start, months)),
    ]
    if joined is not None:  # the intro carries the month it joins in (and its topic)
        dues = [due for due in dues
                if due.day > joined or (due.day == joined and due.kind != Kind.TOPIC)]
    return [Due(Kind.INTRO, "m1", joined or start), *dues, *_feedback(end)]


def quiet_spells(
    start: date, end: date, history: PairHistory, today: date
) -> list[tuple[date, date | None]]:
    """(anchor, next anchor) of the current quiet spell and any already known to follow.

    A spell starts at the pair's start (`start`: the day it joined, for a pair that
    joined mid-term), at each MET day up to `today`, and at the end of each known
    pause (a future pause end is known and starts a later spell).
    """
    anchors = {start}
    anchors.update(d for d in history.met_dates if start <= d <= today)
    anchors.update(p.until for p in history.known_pauses(today) if start < p.until < end)
    ordered = sorted(anchors)
    current = max(bisect_right(ordered, today) - 1, 0)
    following: list[date | None] = [*ordered[current + 1 :], None]
    return list(zip(ordered[current:], following, strict=True))


def spell_alert_day(
    anchor: date, next_anchor: date | None, after_days: int, end: date
) -> date | None:
    """The day a spell begun at `anchor` has lasted `after_days`, if it lasts that long
    and that day is before the term `end`."""
    day = anchor + timedelta(days=after_days)
    if day >= end or (next_anchor is not None and next_anchor <= day):
        return None
    return day
