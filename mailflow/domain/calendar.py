"""The planner: which emails fall due, for whom, and when (SPEC section 2).

Pure: `now` is passed in; nothing is read but time-zone data. Every due date
is computed directly from the pair's start (no day-by-day loops), and every
entry carries its outbox key, so a key that already exists is never planned
again and a re-run plans nothing twice.

Where SPEC is silent, this module decides:

- A due time is the person's local `send_time` on the due date, in their own
  zone, else the program's.
- Month m starts m-1 months after the pair's start, on the same day of the
  month clamped to the month's end (Jan 31 -> Feb 28/29, Mar 31, Apr 30).
  `closing` is due at the start of month N, `feedback` at the term end, N
  months after the start; a pair whose end was confirmed early gets its
  `feedback` on the day of the end instead (period "end" either way).
- Quiet clock: a spell starts at the latest of the pair's start, its latest
  MET and the end of any pause in the pair; `nudge` and quiet `escalation`
  fall `nudge_after_days` / `escalate_after_days` after it (period
  "quiet-<anchor>"), unless another spell starts first or the term has ended.
  A MET logged late re-anchors the spell, so a nudge is never sent for a spell
  the pair has since broken. Future-dated METs are ignored until their day.
- Pauses: a `topic` or `nudge` due on a day a person is paused is `skipped`
  ("paused until <date>"); mail due on the until date goes out. A quiet
  escalation is skipped only while both participants are paused.
- An `ending` pair (END requested, not confirmed) is held: no topic, nudge,
  quiet escalation or closing is planned, so nothing is skipped yet. If the
  end is withdrawn they fall due again under the catch-up rule; once the end
  is confirmed (`ended`) only `feedback` is ever planned.
- First contact: `first_contact` goes to the mentor `first_contact_days` after
  the start (period "m1"), and escalation `no_contact` (period "no-contact") to
  the liaison 7 days later, only while neither participant has replied at all;
  no `no_contact` once a quiet escalation has been opened for the pair.
- `midpoint`: to both, 7 days after month floor(N/2)+1 starts (period "m<k>").
- Feedback reminder: kind `feedback`, period "reminder", 14 days after the
  feedback email, to each participant who has not replied since it was due.
- Joining mid-term: a pair first imported more than `catch_up_days` after its
  start gets its `intro` (context `joining`, `joined_month`) on the day it was
  imported, nothing that fell due before, no first-contact reminder, and its
  quiet spells count from that day.
- Catch-up: mail whose due time is more than `catch_up_days` before `now` is
  `skipped` ("due <date>, more than N days ago"), except `liaison_welcome`
  (a liaison first seen in a later import is still welcomed, at once) and
  quiet `escalation` (the pair is still quiet: the liaison must still hear).
- Digests are planned by `mailflow.domain.digests`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from mailflow.domain.history import EMPTY_HISTORY, PairHistory
from mailflow.domain.keys import NO_PAIR, message_id, outbox_key
from mailflow.domain.model import (
    Kind,
    OutboxEntry,
    OutboxStatus,
    Pair,
    PairState,
    Person,
    Program,
    Role,
)
from mailflow.domain.schedule import (
    FEEDBACK_REMINDER_AFTER,
    NO_CONTACT_AFTER,
    REMINDER_PERIOD,
    Due,
    joined_on,
    month_of,
    participant_schedule,
    quiet_spells,
    spell_alert_day,
    term_end,
)

PAUSABLE = frozenset({Kind.TOPIC, Kind.NUDGE, Kind.MIDPOINT, Kind.FIRST_CONTACT})
NEVER_TOO_LATE = frozenset({Kind.LIAISON_WELCOME, Kind.ESCALATION})
HELD_WHILE_ENDING = frozenset({Kind.TOPIC, Kind.NUDGE, Kind.ESCALATION, Kind.CLOSING,
                               Kind.MIDPOINT, Kind.FIRST_CONTACT})
FIRST_CONTACT_PERIOD = "m1"
NO_CONTACT_PERIOD = "no-contact"


NO_CONTEXT: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class PlannedEmail:
    """One email the planner says is due; `to_outbox_entry` makes it storable."""

    key: str
    pair_id: str
    person: str  # lower-case email
    role: Role
    kind: Kind
    period: str
    due_at: datetime
    status: OutboxStatus = OutboxStatus.PENDING
    reason: str = ""  # why it is skipped
    context: Mapping[str, Any] = field(default_factory=lambda: NO_CONTEXT, compare=False)

    def is_due(self, now: datetime) -> bool:
        """Due now (to be recorded), rather than a forecast within the horizon."""
        return self.due_at <= now

    def to_outbox_entry(self, domain: str) -> OutboxEntry:
        """The outbox row; a skip reason goes in `last_error` and `context["skip_reason"]`."""
        context = dict(self.context)
        if self.reason:
            context["skip_reason"] = self.reason
        return OutboxEntry(
            key=self.key,
            pair_id=self.pair_id,
            person=self.person,
            role=str(self.role),
            kind=self.kind,
            period=self.period,
            due_at=self.due_at,
            message_id=message_id(self.key, domain),
            status=self.status,
            last_error=self.reason,
            context=context,
        )


def to_outbox_entries(planned: Iterable[PlannedEmail], domain: str) -> list[OutboxEntry]:
    return [p.to_outbox_entry(domain) for p in planned]


def require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment.isoformat()}")


class _Planner:
    """The fixed context of one planning pass: program, known keys, now, horizon."""

    def __init__(
        self, program: Program, existing_keys: AbstractSet[str], now: datetime, until: datetime
    ) -> None:
        self.program = program
        self.keys = existing_keys
        self.now = now
        self.until = until
        self.zone = ZoneInfo(program.timezone)
        self.today = now.astimezone(self.zone).date()
        # No zone's local date of `until` is later than its UTC date + 1.
        self.last_day = until.astimezone(UTC).date() + timedelta(days=1)
        self.catch_up = timedelta(days=program.catch_up_days)
        self.zones: dict[str, ZoneInfo] = {}

    def entry(
        self,
        pair_id: str,
        person: Person,
        due: Due,
        paused_until: date | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> PlannedEmail | None:
        if due.day > self.last_day:
            return None
        key = outbox_key(pair_id, due.kind, due.period, person.email)
        if key in self.keys:
            return None
        zone = self.zone_of(person)
        due_at = datetime.combine(due.day, self.program.send_time, tzinfo=zone)
        if due_at > self.until:
            return None
        reason = self.skip_reason(due, due_at, paused_until)
        return PlannedEmail(
            key=key,
            pair_id=pair_id,
            person=person.email.lower(),
            role=person.role,
            kind=due.kind,
            period=due.period,
            due_at=due_at,
            status=OutboxStatus.SKIPPED if reason else OutboxStatus.PENDING,
            reason=reason,
            context=context or NO_CONTEXT,
        )

    def zone_of(self, person: Person) -> ZoneInfo:
        if not person.timezone:
            return self.zone
        zone = self.zones.get(person.timezone)
        if zone is None:
            zone = self.zones[person.timezone] = ZoneInfo(person.timezone)
        return zone

    def skip_reason(self, due: Due, due_at: datetime, paused_until: date | None) -> str:
        if paused_until is not None:
            return f"paused until {paused_until.isoformat()}"
        if due.kind in NEVER_TOO_LATE or self.now - due_at <= self.catch_up:
            return ""
        return f"due {due.day.isoformat()}, more than {self.program.catch_up_days} days ago"

    def liaison_welcomes(self, pairs: Iterable[Pair]) -> list[PlannedEmail | None]:
        pair_ids: dict[str, list[str]] = {}
        liaisons: dict[str, Person] = {}
        for pair in pairs:
            liaisons.setdefault(pair.liaison.email, pair.liaison)
            pair_ids.setdefault(pair.liaison.email, []).append(pair.pair_id)
        due = Due(Kind.LIAISON_WELCOME, self.program.start.isoformat(), self.program.start)
        return [
            self.entry(NO_PAIR, person, due, context={"pair_ids": tuple(pair_ids[email])})
            for email, person in liaisons.items()
        ]

    def for_pair(self, pair: Pair, history: PairHistory) -> list[PlannedEmail | None]:
        start = pair.start_date(self.program)
        if start > self.last_day:
            return []
        held = HELD_WHILE_ENDING if history.state == PairState.ENDING else frozenset()
        joined = joined_on(self.program, start, history.first_seen)
        planned: list[PlannedEmail | None] = []
        for due in participant_schedule(self.program, start, history):
            if due.kind in held or due.day > self.last_day:
                continue
            pausable = due.kind in PAUSABLE
            context = self.joining_context(start, joined) if due.kind == Kind.INTRO else None
            for person in pair.participants:
                if due.period == REMINDER_PERIOD and history.replied_since(
                        person.email, due.day - FEEDBACK_REMINDER_AFTER):
                    continue  # answered the feedback email: no reminder
                paused = history.paused_until(person.email, due.day) if pausable else None
                planned.append(self.entry(pair.pair_id, person, due, paused, context))
        if history.state not in (PairState.ENDING, PairState.ENDED):
            anchor = joined or start
            planned += self.quiet_alerts(pair, start, anchor, history)
            if joined is None:
                planned += self.first_contact(pair, start, history)
        return planned

    def joining_context(self, start: date, joined: date | None) -> Mapping[str, Any] | None:
        """The intro of a pair that joins mid-term says so, and in which month."""
        if joined is None:
            return None
        return {"joining": True, "joined_month": month_of(start, self.program.months, joined)}

    def first_contact(
        self, pair: Pair, start: date, history: PairHistory
    ) -> list[PlannedEmail | None]:
        """A reminder to the mentor, then `no_contact` to the liaison, while nobody replied.

        Any reply by either participant (CONTACTED included) cancels both; the
        escalation is also left out once a quiet escalation told the liaison.
        """
        if history.made_contact:
            return []
        day = start + timedelta(days=self.program.first_contact_days)
        if day >= term_end(start, self.program.months):
            return []
        mentor = pair.mentor
        reminder = Due(Kind.FIRST_CONTACT, FIRST_CONTACT_PERIOD, day)
        planned = [self.entry(pair.pair_id, mentor, reminder,
                              history.paused_until(mentor.email, day))]
        if not history.quiet_escalated_on:
            alert_day = day + NO_CONTACT_AFTER
            alert = Due(Kind.ESCALATION, NO_CONTACT_PERIOD, alert_day)
            context = {"escalation_reason": "no_contact",
                       "first_contact_on": day.isoformat()}
            paused = _pair_paused_until(pair, history, alert_day)
            planned.append(self.entry(pair.pair_id, pair.liaison, alert, paused, context))
        return planned

    def quiet_alerts(
        self, pair: Pair, start: date, quiet_from: date, history: PairHistory
    ) -> list[PlannedEmail | None]:
        """A nudge to each participant and an escalation to the liaison per quiet spell
        (counted from `quiet_from`: the start, or the day a pair joined mid-term)."""
        planned: list[PlannedEmail | None] = []
        end = term_end(start, self.program.months)
        for anchor, next_anchor in quiet_spells(quiet_from, end, history, self.today):
            period = f"quiet-{anchor.isoformat()}"
            nudge_day = spell_alert_day(anchor, next_anchor, self.program.nudge_after_days, end)
            if nudge_day is not None:
                nudge = Due(Kind.NUDGE, period, nudge_day)
                planned += [
                    self.entry(pair.pair_id, p, nudge, history.paused_until(p.email, nudge_day))
                    for p in pair.participants
                ]
            alert_day = spell_alert_day(anchor, next_anchor, self.program.escalate_after_days, end)
            if alert_day is not None and not history.escalated_since(anchor):
                context = {"escalation_reason": "quiet", "quiet_since": anchor.isoformat()}
                paused = _pair_paused_until(pair, history, alert_day)
                alert = Due(Kind.ESCALATION, period, alert_day)
                planned.append(self.entry(pair.pair_id, pair.liaison, alert, paused, context))
        return planned


def _pair_paused_until(pair: Pair, history: PairHistory, day: date) -> date | None:
    """The day the first participant's pause ends, if both are paused on `day`."""
    ends = [history.paused_until(p.email, day) for p in pair.participants]
    known = [end for end in ends if end is not None]
    return min(known) if len(known) == len(ends) else None


def plan(
    program: Program,
    pairs: Iterable[Pair],
    histories: Mapping[str, PairHistory],
    existing_keys: AbstractSet[str],
    now: datetime,
    until: datetime | None = None,
) -> list[PlannedEmail]:
    """Everything due by `until` (default `now`) whose key does not exist yet.

    In roster order (liaison welcomes first, then pair by pair), not sorted:
    sort by `due_at` to display. Entries with
    `due_at > now` are a forecast (for `mailflow plan --days N`);
    the service records only those that `is_due(now)`. Quiet escalations come
    back as `escalation` entries with `context["escalation_reason"] == "quiet"`:
    the service opens an Escalation(reason=quiet) for each one it records pending.
    """
    require_aware(now, "now")
    horizon = until or now
    require_aware(horizon, "until")
    pairs = list(pairs)
    planner = _Planner(program, existing_keys, now, horizon)
    found = planner.liaison_welcomes(pairs)
    for pair in pairs:
        found += planner.for_pair(pair, histories.get(pair.pair_id, EMPTY_HISTORY))
    return [p for p in found if p is not None]
