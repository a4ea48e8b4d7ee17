"""Calendar arithmetic for the planner: months of a term and quiet spells. Pure.

Everything is computed directly from a pair's start date; nothing walks day by day.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, timedelta

from mailflow.domain.history import PairHistory
from mailflow.domain.model import Kind, PairState, Program

FEEDBACK_PERIOD = "end"


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


def participant_schedule(program: Program, start: date, history: PairHistory) -> list[Due]:
    """intro, topics, closing and feedback for one pair's mentor and mentee."""
    end = term_end(start, program.months)
    if history.state == PairState.ENDED:
        return [Due(Kind.FEEDBACK, FEEDBACK_PERIOD, min(end, history.ended_at or end))]
    months = program.months
    return [
        Due(Kind.INTRO, "m1", start),
        *(Due(Kind.TOPIC, f"m{m}", month_start(start, m)) for m in range(2, months)),
        Due(Kind.CLOSING, f"m{months}", month_start(start, months)),
        Due(Kind.FEEDBACK, FEEDBACK_PERIOD, end),
    ]


def quiet_spells(
    start: date, end: date, history: PairHistory, today: date
) -> list[tuple[date, date | None]]:
    """(anchor, next anchor) of the current quiet spell and any already known to follow.

    A spell starts at the pair's start, at each MET day up to `today`, and at the
    end of each known pause (a future pause end is known and starts a later spell).
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
