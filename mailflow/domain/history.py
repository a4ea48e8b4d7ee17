"""What the planner needs to know about a pair's past, derived from stored facts.

`PairHistory` is the planner's whole view of events and coordinator actions:
the pair's state, the day its end was confirmed, the days it met, who was
paused when, and the quiet escalations already opened. `build_history` derives
it from stored `Event`s and `Escalation`s. Pure: no I/O, no clock.

Conventions for the events it reads (the effects code writes them):

- `MET`: the meeting day is `event.date`, else the event's day in the program's zone.
- `PAUSE`: the sender is paused from the event's day until `event.date`
  (exclusive: mail due on that day goes out), default `DEFAULT_PAUSE_DAYS` later.
  A pause recorded by a coordinator (role `coordinator`, or no person) pauses
  the whole pair.
- `RESUME`: ends the sender's open pauses on the event's day; a coordinator's
  RESUME ends every pause in the pair.
- `END_REQUEST`: the pair is `ending` unless the caller passes the stored state
  (confirmation of an end is not an event, so `ended` always comes from the caller).
- An event withdrawn by `UNDO` counts as never sent (`mailflow.domain.ledger.in_force`).
- A reply: any event (in force) a mentor or mentee caused by writing (every type but
  auto-replies, bounces, complaints and quarantined mail). The first one ends the
  wait for first contact; the latest per person says who answered the feedback email.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from mailflow.domain.ledger import in_force
from mailflow.domain.model import Escalation, EscalationReason, Event, EventType, PairState, Role

DEFAULT_PAUSE_DAYS = 30
WHOLE_PAIR = "*"  # Pause.person for a pause that covers both participants
NOT_A_REPLY = frozenset({EventType.AUTO_REPLY, EventType.BOUNCE, EventType.COMPLAINT,
                         EventType.QUARANTINED})
PARTICIPANT_ROLES = frozenset({str(Role.MENTOR), str(Role.MENTEE)})


@dataclass(frozen=True)
class Pause:
    """`person` gets no topic or nudge on days `since` <= day < `until`."""

    person: str  # lower-case email, or WHOLE_PAIR
    since: date
    until: date

    def covers(self, person: str, day: date) -> bool:
        return self.person in (person, WHOLE_PAIR) and self.since <= day < self.until


@dataclass(frozen=True)
class PairHistory:
    state: PairState = PairState.ACTIVE
    ended_at: date | None = None  # the day the end was confirmed (state ENDED)
    met_dates: tuple[date, ...] = ()
    pauses: tuple[Pause, ...] = ()
    quiet_escalated_on: tuple[date, ...] = ()  # days quiet escalations were opened
    first_reply_on: date | None = None  # the first day the mentor or mentee replied
    last_replies: tuple[tuple[str, date], ...] = ()  # (person, day of their latest reply)
    first_seen: datetime | None = None  # when the pair was first imported, if known

    @property
    def made_contact(self) -> bool:
        """A participant has replied, or a meeting is on record (however it was recorded)."""
        return self.first_reply_on is not None or bool(self.met_dates)

    def replied_since(self, person: str, day: date) -> bool:
        """Whether `person` replied on `day` or later."""
        person = person.lower()
        return any(who == person and last >= day for who, last in self.last_replies)

    def paused_until(self, person: str, day: date) -> date | None:
        """The day `person`'s pause covering `day` ends, or None if not paused."""
        if not self.pauses:
            return None
        ends = [p.until for p in self.pauses if p.covers(person, day)]
        return max(ends) if ends else None

    def known_pauses(self, today: date) -> tuple[Pause, ...]:
        return tuple(p for p in self.pauses if p.since <= today)

    def escalated_since(self, anchor: date) -> bool:
        return any(day >= anchor for day in self.quiet_escalated_on)


EMPTY_HISTORY = PairHistory()


def _pair_wide(event: Event) -> bool:
    return event.role == Role.COORDINATOR or not event.person


def _resume(open_pauses: list[Pause], event: Event, day: date) -> list[Pause]:
    everyone = _pair_wide(event)
    resumed = []
    for pause in open_pauses:
        ends_now = (everyone or pause.person == event.person.lower()) and pause.since <= day
        if ends_now and day < pause.until:
            pause = Pause(pause.person, pause.since, day)
        resumed.append(pause)
    return resumed


def _pause(event: Event, day: date) -> Pause:
    person = WHOLE_PAIR if _pair_wide(event) else event.person.lower()
    until = event.date or day + timedelta(days=DEFAULT_PAUSE_DAYS)
    return Pause(person, day, max(until, day))


def build_history(
    events: Iterable[Event],
    *,
    timezone: str,
    escalations: Iterable[Escalation] = (),
    state: PairState | None = None,
    ended_at: date | None = None,
    first_seen: datetime | None = None,
) -> PairHistory:
    """Fold one pair's events (any order) into the planner's view of it."""
    zone = ZoneInfo(timezone)
    met: set[date] = set()
    pauses: list[Pause] = []
    end_requested = False
    replies: dict[str, date] = {}
    first_reply: date | None = None
    for event in in_force(sorted(events, key=lambda e: e.time)):
        day = event.time.astimezone(zone).date()
        if event.role in PARTICIPANT_ROLES and event.type not in NOT_A_REPLY:
            first_reply = first_reply or day
            replies[event.person.lower()] = day
        if event.type == EventType.MET:
            met.add(event.date or day)
        elif event.type == EventType.PAUSE:
            pauses.append(_pause(event, day))
        elif event.type == EventType.RESUME:
            pauses = _resume(pauses, event, day)
        elif event.type == EventType.END_REQUEST:
            end_requested = True
    derived = PairState.ENDING if end_requested else PairState.ACTIVE
    quiet = sorted(
        e.opened_at.astimezone(zone).date()
        for e in escalations
        if e.reason == EscalationReason.QUIET
    )
    return PairHistory(
        state=state or derived,
        ended_at=ended_at,
        met_dates=tuple(sorted(met)),
        pauses=tuple(p for p in pauses if p.until > p.since),
        quiet_escalated_on=tuple(quiet),
        first_reply_on=first_reply,
        last_replies=tuple(sorted(replies.items())),
        first_seen=first_seen,
    )
