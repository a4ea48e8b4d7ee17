"""What a pair's recorded events still say: UNDO's withdrawals, goals and reached goals.

An `UNDONE` event withdraws the event its ``ref`` names (`event_ref`): `in_force`
gives the events without the withdrawn ones and without the `UNDONE` events
themselves, so every fold (the planner's history, last check-in, goals, digests)
reads a withdrawn MET as never sent. A `GOAL_DONE` names the `GOAL` it marks
reached the same way, so a goal stays reached whatever happens to the list's
numbering. Pure: events in, values out.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from mailflow.domain.model import Event, EventType

RATING_MIN, RATING_MAX = 1, 5
LOW_RATING = 2  # a rating up to this one is listed in the liaison's next digest


def event_ref(event: Event) -> str:
    """A stable name for an event a later one can refer to: its reply, type, time and what
    it says (so the three GOALs of one reply have three names)."""
    said = hashlib.sha256(f"{event.text}\n{event.date}\n{event.value}".encode()).hexdigest()
    return f"{event.message_id}#{event.type}#{event.time.isoformat()}#{said[:12]}"


def in_force(events: Iterable[Event]) -> list[Event]:
    """The events, in order, without the withdrawn ones and the `UNDONE` events.

    Each `UNDONE` withdraws one earlier event of its pair and person that has its ``ref``
    (two identical events need two withdrawals).
    """
    events = list(events)
    withdrawn: Counter[tuple[str, str, str]] = Counter(
        (e.pair_id, e.person, e.ref) for e in events if e.type == EventType.UNDONE)
    if not withdrawn:
        return events
    kept: list[Event] = []
    for event in reversed(events):  # the latest of identical events goes first
        if event.type == EventType.UNDONE:
            continue
        key = (event.pair_id, event.person, event_ref(event))
        if withdrawn[key]:
            withdrawn[key] -= 1
            continue
        kept.append(event)
    kept.reverse()
    return kept


@dataclass(frozen=True)
class GoalStatus:
    """A recorded goal as the emails show it: its number in the list, its words, reached?

    Prints as its words, so a template written for a list of goal texts still works.
    """

    number: int
    text: str
    reached: bool = False
    reached_at: datetime | None = None
    ref: str = ""

    def __str__(self) -> str:
        return self.text


def goals(events: Sequence[Event]) -> list[GoalStatus]:
    """The pair's goals in force, numbered in the order they were recorded."""
    current = in_force(events)
    done = {e.ref: e.time for e in current if e.type == EventType.GOAL_DONE}
    found = [e for e in current if e.type == EventType.GOAL]
    return [GoalStatus(n, e.text, event_ref(e) in done, done.get(event_ref(e)), event_ref(e))
            for n, e in enumerate(found, start=1)]


def low_ratings(events: Iterable[Event], since: datetime | None = None) -> list[Event]:
    """The ratings of 1 or 2 in force, recorded after ``since`` (all when None)."""
    return [e for e in in_force(events) if e.type == EventType.RATING and e.value.isdigit()
            and int(e.value) <= LOW_RATING and (since is None or e.time > since)]
