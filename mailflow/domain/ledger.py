"""What a pair's recorded events still say: UNDO's withdrawals, goals and reached goals.

An `UNDONE` event withdraws the event its ``ref`` names (`named`): `in_force`
gives the events without the withdrawn ones and without the `UNDONE` events
themselves, so every fold (the planner's history, last check-in, goals, digests)
reads a withdrawn MET as never sent. A `GOAL_DONE` names the `GOAL` it marks
reached the same way, so a goal stays reached whatever happens to the list's
numbering. Pure: events in, values out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from mailflow.domain.model import Event, EventType

RATING_MIN, RATING_MAX = 1, 5
LOW_RATING = 2  # a rating up to this one is listed in the liaison's next digest


def named(events: Iterable[Event]) -> list[tuple[str, Event]]:
    """Each event with the name a later event can refer to it by: its reply, type and time,
    and its place among the events of that reply and type (the second GOAL of a reply is
    ``...#goal#<time>#1``). Nothing a purge removes (the text) is part of the name."""
    seen: Counter[tuple[str, str, str]] = Counter()
    found: list[tuple[str, Event]] = []
    for event in events:
        key = (event.message_id, str(event.type), event.time.isoformat())
        found.append(("#".join(key) + f"#{seen[key]}", event))
        seen[key] += 1
    return found


def in_force_named(events: Iterable[Event]) -> list[tuple[str, Event]]:
    """`named` events, in order, without the withdrawn ones and the `UNDONE` events."""
    every = named(events)
    withdrawn = {(e.pair_id, e.person, e.ref) for _, e in every if e.type == EventType.UNDONE}
    return [(name, e) for name, e in every if e.type != EventType.UNDONE
            and (e.pair_id, e.person, name) not in withdrawn]


def in_force(events: Iterable[Event]) -> list[Event]:
    """The events, in order, without the withdrawn ones and the `UNDONE` events."""
    events = list(events)
    if not any(e.type == EventType.UNDONE for e in events):
        return events
    return [e for _, e in in_force_named(events)]


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


def goals(events: Iterable[Event]) -> list[GoalStatus]:
    """The pair's goals in force, numbered in the order they were recorded."""
    current = in_force_named(events)
    done = {e.ref: e.time for _, e in current if e.type == EventType.GOAL_DONE}
    found = [(name, e) for name, e in current if e.type == EventType.GOAL]
    return [GoalStatus(n, e.text, name in done, done.get(name), name)
            for n, (name, e) in enumerate(found, start=1)]


def is_low_rating(event: Event) -> bool:
    """A `RATING n` (SPEC 3) of 1 or 2."""
    value = event.value.strip()
    return event.type == EventType.RATING and value.isdigit() and int(value) <= LOW_RATING


def low_ratings(events: Iterable[Event], since: datetime | None = None) -> list[Event]:
    """The ratings of 1 or 2 in force, recorded after ``since`` (all when None)."""
    return [e for e in in_force(events) if is_low_rating(e) and (since is None or e.time > since)]
