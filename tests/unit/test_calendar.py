"""The planner over whole terms, driven day by day as the service would drive it.

Each simulated day the planner runs at 22:00 UTC with the keys it planned
before; what it returns is recorded (as the service would) and fed back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from mailflow.domain import keys, schedule
from mailflow.domain.calendar import PlannedEmail, plan
from mailflow.domain.digests import digests_due, latest_digest_at
from mailflow.domain.history import WHOLE_PAIR, PairHistory, Pause, build_history
from mailflow.domain.model import (
    Escalation,
    EscalationReason,
    Event,
    EventType,
    Kind,
    OutboxEntry,
    OutboxStatus,
    Pair,
    PairState,
    Person,
    Program,
    Role,
)
from mailflow.domain.schedule import add_months
from mailflow.repository import PairRecord
from mailflow.services.attention import decide_digests
from mailflow.services.state import ProgramState

START = date(2025, 1, 15)
LONDON = "Europe/London"
TICK = time(22, 0)
MENTOR, MENTEE, LIAISON = "mentor@x.org", "mentee@x.org", "liaison@lib.org"


def program(start: date = START, **changes: object) -> Program:
    base = Program(
        name="Library mentoring",
        start=start,
        months=9,
        timezone=LONDON,
        send_time=time(9, 0),
        coordinators=("Coord@Lib.org",),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def pair(
    pair_id: str = "p1",
    start: date | None = None,
    mentor_tz: str | None = None,
    mentee_tz: str | None = None,
    liaison: str = LIAISON,
) -> Pair:
    return Pair(
        pair_id=pair_id,
        mentor=Person("Mo Mentor", pair_id + "-" + MENTOR, Role.MENTOR, mentor_tz),
        mentee=Person("Em Mentee", pair_id + "-" + MENTEE, Role.MENTEE, mentee_tz),
        liaison=Person("Li Liaison", liaison, Role.LIAISON),
        start=start,
    )


def days(first: date, offsets: Sequence[int]) -> tuple[date, ...]:
    return tuple(first + timedelta(days=n) for n in offsets)


def monthly_meetings(first: date) -> tuple[date, ...]:
    """A pair that meets every 30 days is never quiet."""
    return days(first, range(0, 400, 30))


@dataclass
class Record:
    tick: datetime
    email: PlannedEmail


HistoryOn = Callable[[date], Mapping[str, PairHistory]]


def simulate(
    prog: Program,
    pairs_on: Callable[[date], list[Pair]],
    history_on: HistoryOn = lambda day: {},
    last: date | None = None,
    down: frozenset[date] = frozenset(),
    first: date | None = None,
) -> list[Record]:
    existing: set[str] = set()
    records: list[Record] = []
    day = first or prog.start - timedelta(days=3)
    last = last or add_months(prog.start, prog.months + 4)
    while day <= last:
        if day not in down:
            now = datetime.combine(day, TICK, UTC)
            for email in plan(prog, pairs_on(day), history_on(day), existing, now):
                assert email.key not in existing, f"planned twice: {email.key}"
                assert email.is_due(now)
                existing.add(email.key)
                records.append(Record(now, email))
        day += timedelta(days=1)
    return records


def local_days(records: list[Record], kind: Kind, person: str, period: str = "") -> list[date]:
    """The local days `kind` was due for `person` (only periods starting with `period`)."""
    return sorted(
        r.email.due_at.date() for r in records if r.email.kind == kind and r.email.person == person
        and r.email.period.startswith(period)
    )


def assert_sent_on_time(records: list[Record]) -> None:
    """Every email was planned at the first daily tick at or after its due time."""
    for r in records:
        lateness = r.tick - r.email.due_at
        assert timedelta(0) <= lateness < timedelta(days=1), r


def quiet_history(start: date, met: Sequence[int] = (), **more: object) -> HistoryOn:
    history = PairHistory(met_dates=days(start, met), **more)  # type: ignore[arg-type]
    return lambda day: {"p1": history}


# --- a whole term -------------------------------------------------------------------------------

TERMS = [
    # program start, pair start, topic days m2..m8, closing, feedback
    (START, None,
     [date(2025, m, 15) for m in range(2, 9)], date(2025, 9, 15), date(2025, 10, 15)),
    (date(2025, 1, 31), None,
     [date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 30), date(2025, 5, 31),
      date(2025, 6, 30), date(2025, 7, 31), date(2025, 8, 31)],
     date(2025, 9, 30), date(2025, 10, 31)),
    (date(2024, 1, 31), None,
     [date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30), date(2024, 5, 31),
      date(2024, 6, 30), date(2024, 7, 31), date(2024, 8, 31)],
     date(2024, 9, 30), date(2024, 10, 31)),
    # a pair starting later than its program
    (START, date(2025, 3, 10),
     [date(2025, m, 10) for m in range(4, 11)], date(2025, 11, 10), date(2025, 12, 10)),
]


@pytest.mark.parametrize(("program_start", "pair_start", "topics", "closing", "feedback"), TERMS)
def test_a_full_term_plans_each_email_once_on_its_day(
    program_start: date, pair_start: date | None, topics: list[date], closing: date,
    feedback: date,
) -> None:
    prog = program(program_start)
    the_pair = pair(start=pair_start)
    history = PairHistory(met_dates=monthly_meetings(pair_start or program_start))
    records = simulate(prog, lambda day: [the_pair], lambda day: {"p1": history})

    kinds = Counter(r.email.kind for r in records)
    # feedback: the email and its reminder (nobody in this history ever replies to it)
    assert kinds == {Kind.INTRO: 2, Kind.TOPIC: 14, Kind.MIDPOINT: 2, Kind.CLOSING: 2,
                     Kind.FEEDBACK: 4, Kind.LIAISON_WELCOME: 1}
    assert all(r.email.status is OutboxStatus.PENDING for r in records)
    assert_sent_on_time(records)
    for person in (the_pair.mentor, the_pair.mentee):
        assert local_days(records, Kind.INTRO, person.email) == [pair_start or program_start]
        assert local_days(records, Kind.TOPIC, person.email) == topics
        assert local_days(records, Kind.MIDPOINT, person.email) == [topics[3] + timedelta(days=7)]
        assert local_days(records, Kind.CLOSING, person.email) == [closing]
        assert local_days(records, Kind.FEEDBACK, person.email) == [
            feedback, feedback + timedelta(days=14)]
    assert {r.email.role for r in records if r.email.kind is Kind.INTRO} == {Role.MENTOR,
                                                                             Role.MENTEE}
    topic_periods = sorted({r.email.period for r in records if r.email.kind is Kind.TOPIC})
    assert topic_periods == sorted(f"m{m}" for m in range(2, 9))
    [welcome] = [r.email for r in records if r.email.kind is Kind.LIAISON_WELCOME]
    assert welcome.key == f"-/liaison_welcome/{program_start.isoformat()}/{LIAISON}"
    assert welcome.due_at.date() == program_start
    assert welcome.context["pair_ids"] == ("p1",)


def test_each_person_gets_mail_at_send_time_in_their_own_zone() -> None:
    the_pair = pair(mentor_tz="Pacific/Auckland", mentee_tz="America/Los_Angeles")
    history = PairHistory(met_dates=monthly_meetings(START))
    records = simulate(program(), lambda day: [the_pair], lambda day: {"p1": history})

    def utc_due(kind: Kind, period: str, person: str) -> datetime:
        [r] = [r for r in records
               if (r.email.kind, r.email.period, r.email.person) == (kind, period, person)]
        assert r.email.due_at.time() == time(9, 0)
        return r.email.due_at.astimezone(UTC)

    mentor, mentee = the_pair.mentor.email, the_pair.mentee.email
    assert utc_due(Kind.INTRO, "m1", mentor) == datetime(2025, 1, 14, 20, 0, tzinfo=UTC)  # NZDT
    assert utc_due(Kind.INTRO, "m1", mentee) == datetime(2025, 1, 15, 17, 0, tzinfo=UTC)  # PST
    assert utc_due(Kind.TOPIC, "m5", mentor) == datetime(2025, 5, 14, 21, 0, tzinfo=UTC)  # NZST
    assert utc_due(Kind.TOPIC, "m5", mentee) == datetime(2025, 5, 15, 16, 0, tzinfo=UTC)  # PDT
    assert_sent_on_time(records)


# --- quiet pairs --------------------------------------------------------------------------------

QUIET = [
    # MET day offsets from the start -> nudge day offsets, quiet escalation day offsets
    ((), [42], [56]),
    ((20,), [62], [76]),
    ((50,), [42, 92], [106]),  # a MET after the nudge breaks the spell before escalation
    ((20, 60), [102], [116]),  # a MET before the nudge breaks the spell
    ((240,), [42], [56]),  # the spell from day 240 outlasts the term (273 days): nothing
    ((231,), [42], [56]),  # its nudge would fall on the term's last day: nothing
]


@pytest.mark.parametrize(("met", "nudges", "escalations"), QUIET)
def test_a_quiet_pair_is_nudged_once_per_spell_then_escalated(
    met: tuple[int, ...], nudges: list[int], escalations: list[int]
) -> None:
    the_pair = pair()
    records = simulate(program(), lambda day: [the_pair], quiet_history(START, met))

    for person in (the_pair.mentor.email, the_pair.mentee.email):
        assert local_days(records, Kind.NUDGE, person) == list(days(START, nudges))
    assert local_days(records, Kind.ESCALATION, LIAISON, "quiet-") == list(days(START, escalations))
    alerts = [r.email for r in records if r.email.kind in (Kind.NUDGE, Kind.ESCALATION)
              and r.email.period.startswith("quiet-")]
    assert all(a.period == f"quiet-{(a.due_at.date() - timedelta(days=42 if a.kind is Kind.NUDGE else 56)).isoformat()}" for a in alerts)  # noqa: E501
    assert all(a.context["escalation_reason"] == "quiet" for a in alerts
               if a.kind is Kind.ESCALATION)
    assert_sent_on_time(records)


def test_an_escalation_already_opened_is_not_planned_again() -> None:
    history = quiet_history(START, quiet_escalated_on=(START + timedelta(days=50),))
    records = simulate(program(), lambda day: [pair()], history)
    assert local_days(records, Kind.ESCALATION, LIAISON) == []
    assert len(local_days(records, Kind.NUDGE, pair().mentor.email)) == 1


# --- pauses -------------------------------------------------------------------------------------

PAUSED_UNTIL = date(2025, 5, 15)


def pause_events(resume_on: date | None, by_coordinator: bool = False) -> list[Event]:
    who = ("coord@lib.org", "coordinator") if by_coordinator else (pair().mentee.email, "mentee")
    at = datetime(2025, 3, 1, 12, tzinfo=UTC)
    events = [Event(at, "p1", *who, EventType.PAUSE, date=PAUSED_UNTIL)]
    if resume_on:
        resumed = datetime.combine(resume_on, time(8), UTC)
        events.append(Event(resumed, "p1", *who, EventType.RESUME))
    met = [Event(datetime.combine(d, time(12), UTC), "p1", MENTOR, "mentor", EventType.MET)
           for d in monthly_meetings(START)]
    return events + met


def history_from(events: list[Event]) -> HistoryOn:
    def on(day: date) -> dict[str, PairHistory]:
        known = [e for e in events if e.time.date() <= day]
        return {"p1": build_history(known, timezone=LONDON)}
    return on


PAUSES = [
    # resume day, paused by coordinator -> mentee topic statuses by month; mentor topics
    (None, False, {"m3": "paused until 2025-05-15", "m4": "paused until 2025-05-15"}, {}),
    (date(2025, 4, 1), False, {"m3": "paused until 2025-05-15"}, {}),
    (None, True, {"m3": "paused until 2025-05-15", "m4": "paused until 2025-05-15"},
     {"m3": "paused until 2025-05-15", "m4": "paused until 2025-05-15"}),
]


@pytest.mark.parametrize(("resume_on", "by_coordinator", "mentee_skips", "mentor_skips"), PAUSES)
def test_a_pause_skips_topics_and_mail_on_the_until_day_goes_out(
    resume_on: date | None, by_coordinator: bool, mentee_skips: dict[str, str],
    mentor_skips: dict[str, str],
) -> None:
    the_pair = pair()
    records = simulate(program(), lambda day: [the_pair],
                       history_from(pause_events(resume_on, by_coordinator)))

    def skips(person: str) -> dict[str, str]:
        return {r.email.period: r.email.reason for r in records
                if r.email.kind is Kind.TOPIC and r.email.person == person
                and r.email.status is OutboxStatus.SKIPPED}

    assert skips(the_pair.mentee.email) == mentee_skips
    assert skips(the_pair.mentor.email) == mentor_skips
    assert len(local_days(records, Kind.TOPIC, the_pair.mentee.email)) == 7
    [may] = [r.email for r in records if r.email.kind is Kind.TOPIC and r.email.period == "m5"
             and r.email.person == the_pair.mentee.email]
    assert may.due_at.date() == PAUSED_UNTIL and may.status is OutboxStatus.PENDING


PAUSE_NUDGES = [
    # who is paused 2025-02-20 .. 2025-04-20 in a pair that never meets
    # -> (mentee's first nudge status, mentor's, first escalation status)
    (MENTEE, OutboxStatus.SKIPPED, OutboxStatus.PENDING, OutboxStatus.PENDING),
    (WHOLE_PAIR, OutboxStatus.SKIPPED, OutboxStatus.SKIPPED, OutboxStatus.SKIPPED),
]


@pytest.mark.parametrize(("paused", "mentee_first", "mentor_first", "escalation_first"),
                         PAUSE_NUDGES)
def test_a_pause_skips_nudges_and_its_end_restarts_the_quiet_clock(
    paused: str, mentee_first: OutboxStatus, mentor_first: OutboxStatus,
    escalation_first: OutboxStatus,
) -> None:
    the_pair = pair()
    person = "p1-" + paused if paused != WHOLE_PAIR else WHOLE_PAIR
    pause = Pause(person, date(2025, 2, 20), date(2025, 4, 20))
    records = simulate(program(), lambda day: [the_pair], quiet_history(START, pauses=(pause,)))

    def statuses(kind: Kind, who: str) -> list[tuple[date, OutboxStatus]]:
        return sorted((r.email.due_at.date(), r.email.status) for r in records
                      if r.email.kind is kind and r.email.person == who
                      and r.email.period.startswith("quiet-"))

    restarted = date(2025, 4, 20)
    expected_nudges = [START + timedelta(days=42), restarted + timedelta(days=42)]
    expected_escalations = [START + timedelta(days=56), restarted + timedelta(days=56)]
    for who, first_status in ((the_pair.mentee.email, mentee_first),
                              (the_pair.mentor.email, mentor_first)):
        assert statuses(Kind.NUDGE, who) == [(expected_nudges[0], first_status),
                                             (expected_nudges[1], OutboxStatus.PENDING)]
    assert statuses(Kind.ESCALATION, LIAISON) == [
        (expected_escalations[0], escalation_first),
        (expected_escalations[1], OutboxStatus.PENDING),
    ]
    skipped = [r.email for r in records if r.email.status is OutboxStatus.SKIPPED]
    assert {s.reason for s in skipped} == {"paused until 2025-04-20"}


# --- ending and ended pairs ---------------------------------------------------------------------

END_REQUESTED, ENDED_ON = date(2025, 4, 10), date(2025, 4, 20)


def ending_history(state_after: PairState, from_day: date) -> HistoryOn:
    met = monthly_meetings(START)

    def on(day: date) -> dict[str, PairHistory]:
        if day < END_REQUESTED:
            return {"p1": PairHistory(met_dates=met)}
        if day < from_day:
            return {"p1": PairHistory(state=PairState.ENDING, met_dates=met)}
        ended_at = from_day if state_after is PairState.ENDED else None
        return {"p1": PairHistory(state=state_after, ended_at=ended_at, met_dates=met)}
    return on


def test_an_ended_pair_gets_only_its_feedback_on_the_day_it_ended() -> None:
    the_pair = pair()
    records = simulate(program(), lambda day: [the_pair],
                       ending_history(PairState.ENDED, ENDED_ON))
    kinds = Counter(r.email.kind for r in records)
    assert kinds == {Kind.INTRO: 2, Kind.TOPIC: 4, Kind.FEEDBACK: 4, Kind.LIAISON_WELCOME: 1}
    assert local_days(records, Kind.TOPIC, the_pair.mentee.email) == [date(2025, 2, 15),
                                                                      date(2025, 3, 15)]
    assert local_days(records, Kind.FEEDBACK, the_pair.mentee.email) == [
        ENDED_ON, ENDED_ON + timedelta(days=14)]  # the feedback email and its reminder
    assert_sent_on_time(records)


def test_an_ending_pair_is_held_and_gets_held_mail_if_the_end_is_withdrawn() -> None:
    the_pair = pair()
    withdrawn = date(2025, 4, 18)
    records = simulate(program(), lambda day: [the_pair],
                       ending_history(PairState.ACTIVE, withdrawn))
    held = [r for r in records if r.email.kind is Kind.TOPIC and r.email.period == "m4"]
    assert len(held) == 2
    assert all(r.tick.date() == withdrawn and r.email.status is OutboxStatus.PENDING
               for r in held)
    assert Counter(r.email.kind for r in records)[Kind.TOPIC] == 14


# --- catch-up -----------------------------------------------------------------------------------

def outage(first: date, length: int) -> frozenset[date]:
    return frozenset(days(first, range(length)))


CATCH_UP = [
    # outage start, length -> status, reason of the March topic, day it is recorded
    (date(2025, 3, 14), 3, OutboxStatus.PENDING, "", date(2025, 3, 17)),
    (date(2025, 3, 12), 11, OutboxStatus.SKIPPED, "due 2025-03-15, more than 7 days ago",
     date(2025, 3, 23)),
]


@pytest.mark.parametrize(("down_from", "length", "status", "reason", "recorded"), CATCH_UP)
def test_after_an_outage_mail_is_caught_up_once_or_skipped_when_too_old(
    down_from: date, length: int, status: OutboxStatus, reason: str, recorded: date
) -> None:
    history = PairHistory(met_dates=monthly_meetings(START))
    records = simulate(program(), lambda day: [pair()], lambda day: {"p1": history},
                       down=outage(down_from, length))
    march = [r for r in records if r.email.kind is Kind.TOPIC and r.email.period == "m3"]
    assert len(march) == 2
    for r in march:
        assert (r.email.status, r.email.reason, r.tick.date()) == (status, reason, recorded)
        assert r.email.due_at.date() == date(2025, 3, 15)
    assert Counter(r.email.kind for r in records)[Kind.TOPIC] == 14


def test_liaisons_are_welcomed_late_rather_than_never() -> None:
    first, late = pair("p1"), pair("p2", start=date(2025, 5, 1), liaison="new@lib.org")
    records = simulate(program(), lambda day: [first] if day < date(2025, 4, 1) else [first, late],
                       down=outage(START - timedelta(days=3), 20))
    intros = [r.email for r in records if r.email.kind is Kind.INTRO and r.email.pair_id == "p1"]
    assert {i.status for i in intros} == {OutboxStatus.SKIPPED}
    welcomes = {r.email.person: r for r in records if r.email.kind is Kind.LIAISON_WELCOME}
    assert set(welcomes) == {LIAISON, "new@lib.org"}
    assert welcomes["new@lib.org"].tick.date() == date(2025, 4, 1)
    assert all(w.email.status is OutboxStatus.PENDING for w in welcomes.values())
    assert all(w.email.key.startswith("-/liaison_welcome/2025-01-15/") for w in welcomes.values())


# --- the plan horizon ---------------------------------------------------------------------------

def test_a_horizon_forecasts_what_will_fall_due() -> None:
    now = datetime(2025, 1, 10, 12, tzinfo=UTC)
    forecast = plan(program(), [pair()], {}, set(), now, until=now + timedelta(days=40))
    assert sorted((e.due_at.date(), e.kind) for e in forecast) == [
        (START, Kind.INTRO), (START, Kind.INTRO), (START, Kind.LIAISON_WELCOME),
        (date(2025, 1, 29), Kind.FIRST_CONTACT), (date(2025, 2, 5), Kind.ESCALATION),
        (date(2025, 2, 15), Kind.TOPIC), (date(2025, 2, 15), Kind.TOPIC),
    ]
    assert not any(e.is_due(now) for e in forecast)
    assert plan(program(), [pair()], {}, set(), now) == []


def test_a_planned_email_becomes_an_outbox_entry_with_a_stable_message_id() -> None:
    now = datetime(2025, 3, 30, 12, tzinfo=UTC)
    [entry] = [e for e in plan(program(), [pair()], {}, set(), now)
               if e.kind is Kind.TOPIC and e.period == "m2" and e.role is Role.MENTEE]
    row = entry.to_outbox_entry("lib.org")
    assert row.message_id == keys.message_id(entry.key, "lib.org")
    assert (row.key, row.kind, row.status) == ("p1/topic/m2/p1-mentee@x.org", Kind.TOPIC,
                                               OutboxStatus.SKIPPED)
    assert row.last_error == "due 2025-02-15, more than 7 days ago" == row.context["skip_reason"]


# --- digests ------------------------------------------------------------------------------------

DIGESTS = [
    # weekday, ticks from .. to, outage -> occurrence days sent
    (0, date(2025, 1, 13), date(2025, 2, 9), 0,
     [date(2025, 1, 20), date(2025, 1, 27), date(2025, 2, 3)]),
    (0, date(2025, 1, 13), date(2025, 2, 13), 22,  # down 1-21 .. 2-11: no backlog
     [date(2025, 1, 20), date(2025, 2, 10)]),
    (-1, date(2025, 1, 14), date(2025, 1, 18), 0,
     [date(2025, 1, 15), date(2025, 1, 16), date(2025, 1, 17), date(2025, 1, 18)]),
]


@pytest.mark.parametrize(("weekday", "first", "last", "down_days", "sent"), DIGESTS)
def test_digests_follow_their_schedule_without_a_backlog(
    weekday: int, first: date, last: date, down_days: int, sent: list[date]
) -> None:
    prog = program(digest_weekday=weekday)
    liaisons = [pair().liaison, pair("p2").liaison]
    down = outage(date(2025, 1, 21), down_days)
    existing: set[str] = set()
    got: list[PlannedEmail] = []
    day = first
    while day <= last:
        if day not in down:
            due = digests_due(prog, liaisons, datetime.combine(day, TICK, UTC), existing)
            existing.update(d.key for d in due)
            got += due
        day += timedelta(days=1)
    assert sorted({d.due_at.date() for d in got}) == sent
    assert Counter((d.person, d.role) for d in got) == {
        (LIAISON, Role.LIAISON): len(sent), ("coord@lib.org", Role.COORDINATOR): len(sent)}
    assert all(d.due_at.timetz() == time(8, 0, tzinfo=ZoneInfo(LONDON)) for d in got)
    assert all(d.key == f"-/digest/{d.period}/{d.person}" for d in got)


def test_the_latest_digest_is_last_week_until_this_weeks_time_has_passed() -> None:
    monday_7am = datetime(2025, 3, 3, 7, tzinfo=ZoneInfo(LONDON))
    assert latest_digest_at(program(), monday_7am).date() == date(2025, 2, 24)
    assert latest_digest_at(program(), monday_7am + timedelta(hours=1)).date() == date(2025, 3, 3)


# --- history ------------------------------------------------------------------------------------

def test_history_is_built_from_events_and_escalations() -> None:
    def at(day: int, hour: int = 12) -> datetime:
        return datetime(2025, 3, day, hour, tzinfo=UTC)

    mentee = pair().mentee.email
    events = [
        Event(at(20), "p1", mentee, "mentee", EventType.RESUME),
        Event(at(2), "p1", mentee, "mentee", EventType.PAUSE),  # default 30 days
        Event(at(5), "p1", MENTOR, "mentor", EventType.MET, date=date(2025, 3, 4)),
        Event(at(6), "p1", "", "coordinator", EventType.PAUSE, date=date(2025, 3, 10)),
        Event(at(7), "p1", MENTOR, "mentor", EventType.MET),
        Event(at(8), "p1", mentee, "mentee", EventType.END_REQUEST),
    ]
    quiet = Escalation("e1", "p1", LIAISON, EscalationReason.QUIET, "", at(9))
    helped = Escalation("e2", "p1", LIAISON, EscalationReason.HELP, "", at(10))
    history = build_history(events, timezone=LONDON, escalations=[quiet, helped])
    assert history.state is PairState.ENDING
    assert history.met_dates == (date(2025, 3, 4), date(2025, 3, 7))
    assert history.pauses == (Pause(mentee, date(2025, 3, 2), date(2025, 3, 20)),
                              Pause(WHOLE_PAIR, date(2025, 3, 6), date(2025, 3, 10)))
    assert history.paused_until(MENTOR, date(2025, 3, 9)) == date(2025, 3, 10)
    assert history.paused_until(mentee, date(2025, 3, 9)) == date(2025, 3, 20)
    assert history.paused_until(mentee, date(2025, 3, 20)) is None
    assert history.quiet_escalated_on == (date(2025, 3, 9),)
    ended = build_history(events, timezone=LONDON, state=PairState.ENDED, ended_at=date(2025, 4, 1))
    assert (ended.state, ended.ended_at) == (PairState.ENDED, date(2025, 4, 1))


# --- scale --------------------------------------------------------------------------------------

ZONES = (None, "Pacific/Auckland", "America/Los_Angeles", "Asia/Kolkata")


def test_ten_thousand_pairs_plan_everything_once() -> None:
    """Correctness at scale; the speed is measured by `python -m bench`, not here."""
    pairs = [pair(f"p{i}", start=START + timedelta(days=i % 60), mentor_tz=ZONES[i % 4],
                  liaison=f"liaison{i % 50}@lib.org") for i in range(10_000)]
    histories = {p.pair_id: PairHistory(met_dates=days(START, (10 * (i % 9), 80)))
                 for i, p in enumerate(pairs)}
    now = datetime(2025, 6, 1, 12, tzinfo=UTC)
    first = plan(program(), pairs, histories, set(), now)
    existing = {e.key for e in first}
    assert len(existing) == len(first) > 100_000
    again = plan(program(), pairs, histories, existing, now + timedelta(hours=1))
    assert again == []


# --- first contact ------------------------------------------------------------------------------

def reply(day_offset: int, person: str, role: str, kind: EventType) -> Event:
    return Event(datetime.combine(START + timedelta(days=day_offset), time(12), UTC), "p1",
                 person, role, kind)


FIRST_CONTACT = [
    # replies (day offset, who, type) -> first_contact day offsets, no_contact day offsets
    ([], [14], [21]),
    ([(13, "mentee", EventType.NOTE)], [], []),
    ([(14, "mentor", EventType.CONTACTED)], [], []),  # known by the day-14 pass
    ([(15, "mentor", EventType.CONTACTED)], [14], []),
    ([(20, "mentee", EventType.HELP)], [14], []),
    ([(21, "mentee", EventType.MET)], [14], []),
    ([(22, "mentor", EventType.NOTE)], [14], [21]),
    # not replies: an auto-reply, a bounce, a coordinator's action
    ([(3, "mentee", EventType.AUTO_REPLY), (4, "mentor", EventType.BOUNCE),
      (5, "coordinator", EventType.RESUME)], [14], [21]),
]


@pytest.mark.parametrize(("replies", "reminders", "escalations"), FIRST_CONTACT)
def test_a_pair_nobody_replied_in_reminds_the_mentor_at_day_14_then_tells_the_liaison_at_21(
    replies: list[tuple[int, str, EventType]], reminders: list[int], escalations: list[int],
) -> None:
    the_pair = pair()
    who = {"mentor": the_pair.mentor.email, "mentee": the_pair.mentee.email,
           "coordinator": "coord@lib.org"}
    events = [reply(day, who[role], role, kind) for day, role, kind in replies]
    records = simulate(program(), lambda day: [the_pair], history_from(events),
                       last=START + timedelta(days=40))
    assert local_days(records, Kind.FIRST_CONTACT, the_pair.mentor.email) == list(
        days(START, reminders))
    assert local_days(records, Kind.FIRST_CONTACT, the_pair.mentee.email) == []
    assert local_days(records, Kind.ESCALATION, LIAISON, "no-contact") == list(
        days(START, escalations))
    for r in records:
        if r.email.kind is Kind.ESCALATION:
            assert r.email.context["escalation_reason"] == "no_contact"
            assert r.email.key == f"p1/escalation/no-contact/{LIAISON}"
        if r.email.kind is Kind.FIRST_CONTACT:
            assert r.email.key == f"p1/first_contact/m1/{the_pair.mentor.email}"
    assert_sent_on_time(records)


def test_first_contact_follows_the_configured_days_and_not_after_a_quiet_escalation() -> None:
    records = simulate(program(first_contact_days=10), lambda day: [pair()],
                       last=START + timedelta(days=30))
    assert local_days(records, Kind.FIRST_CONTACT, pair().mentor.email) == [
        START + timedelta(days=10)]
    assert local_days(records, Kind.ESCALATION, LIAISON) == [START + timedelta(days=17)]
    told = quiet_history(START, quiet_escalated_on=(START + timedelta(days=5),))
    records = simulate(program(), lambda day: [pair()], told, last=START + timedelta(days=30))
    assert local_days(records, Kind.FIRST_CONTACT, pair().mentor.email) == [
        START + timedelta(days=14)]
    assert local_days(records, Kind.ESCALATION, LIAISON) == []


def test_an_ending_pair_gets_no_first_contact_reminder() -> None:
    ending = PairHistory(state=PairState.ENDING)
    records = simulate(program(), lambda day: [pair()], lambda day: {"p1": ending},
                       last=START + timedelta(days=30))
    assert {r.email.kind for r in records} == {Kind.INTRO, Kind.LIAISON_WELCOME}


# --- the midpoint check-in ----------------------------------------------------------------------

@pytest.mark.parametrize(("months", "month", "day"), [
    (6, 4, date(2025, 4, 22)), (9, 5, date(2025, 5, 22)), (12, 7, date(2025, 7, 22))])
def test_the_midpoint_check_in_is_7_days_into_month_half_plus_one(
    months: int, month: int, day: date,
) -> None:
    the_pair = pair()
    history = PairHistory(met_dates=monthly_meetings(START))
    records = simulate(program(months=months), lambda d: [the_pair], lambda d: {"p1": history})
    for person in (the_pair.mentor.email, the_pair.mentee.email):
        assert local_days(records, Kind.MIDPOINT, person) == [day]
    midpoints = [r.email for r in records if r.email.kind is Kind.MIDPOINT]
    assert {m.period for m in midpoints} == {f"m{month}"}
    assert {m.role for m in midpoints} == {Role.MENTOR, Role.MENTEE}
    assert_sent_on_time(records)


def test_a_paused_person_has_the_midpoint_skipped() -> None:
    pause = Pause(pair().mentee.email, date(2025, 5, 1), date(2025, 6, 1))
    history = PairHistory(met_dates=monthly_meetings(START), pauses=(pause,))
    records = simulate(program(), lambda d: [pair()], lambda d: {"p1": history})
    [skipped] = [r.email for r in records if r.email.kind is Kind.MIDPOINT
                 and r.email.status is OutboxStatus.SKIPPED]
    assert (skipped.person, skipped.reason) == (pair().mentee.email, "paused until 2025-06-01")


# --- the feedback reminder ----------------------------------------------------------------------

FEEDBACK_DAY = date(2025, 10, 15)


@pytest.mark.parametrize(("mentor_replied", "mentee_replied", "reminded"), [
    (None, None, {"mentor", "mentee"}),
    (0, None, {"mentee"}),  # the mentor answered on the day of the feedback email
    (13, 14, set()),  # both answered before the reminder's pass
    (13, 15, {"mentee"}),  # the mentee's answer came after the reminder
    (-1, -30, {"mentor", "mentee"}),  # replies before the feedback email are no answer
])
def test_the_feedback_reminder_goes_14_days_later_to_those_who_did_not_answer(
    mentor_replied: int | None, mentee_replied: int | None, reminded: set[str],
) -> None:
    the_pair = pair()
    events = [Event(datetime.combine(START + timedelta(days=d), time(12), UTC), "p1",
                    MENTOR, "mentor", EventType.MET) for d in range(0, 260, 30)]
    for offset, person in ((mentor_replied, the_pair.mentor), (mentee_replied, the_pair.mentee)):
        if offset is not None:
            at = datetime.combine(FEEDBACK_DAY + timedelta(days=offset), time(12), UTC)
            events.append(Event(at, "p1", person.email, str(person.role), EventType.FEEDBACK))
    records = simulate(program(), lambda d: [the_pair], history_from(events))
    reminders = [r.email for r in records
                 if r.email.kind is Kind.FEEDBACK and r.email.period == "reminder"]
    assert {str(r.role) for r in reminders} == reminded
    assert all(r.due_at.date() == FEEDBACK_DAY + timedelta(days=14) for r in reminders)
    assert all(r.key == f"p1/feedback/reminder/{r.person}" for r in reminders)


# --- joining mid-term ---------------------------------------------------------------------------

JOINED = date(2025, 4, 25)  # month 4 of the term that began on 15 January
INTRO_DUE = datetime(2025, 1, 15, 9, tzinfo=ZoneInfo(LONDON))


@pytest.mark.parametrize(("first_seen", "joins"), [
    (INTRO_DUE + timedelta(days=7), False),  # its intro is still sent (catch-up)
    (INTRO_DUE + timedelta(days=7, seconds=1), True),  # its intro would be skipped
    (datetime(2025, 4, 25, 10, tzinfo=UTC), True)])
def test_a_pair_first_imported_more_than_catch_up_days_late_joins_mid_term(
    first_seen: datetime, joins: bool,
) -> None:
    history = PairHistory(met_dates=(START,), first_seen=first_seen)
    planned = plan(program(), [pair()], {"p1": history}, set(), first_seen)
    intros = [p for p in planned if p.kind is Kind.INTRO]
    assert len(intros) == 2 and all(p.status is OutboxStatus.PENDING for p in intros)
    assert all(p.context.get("joining", False) is joins for p in intros)
    assert (schedule.joined_on(program(), START, first_seen) is not None) is joins


def test_a_pair_joining_in_month_4_gets_one_intro_the_later_topics_and_a_fresh_quiet_clock(
) -> None:
    the_pair = pair()
    seen = datetime.combine(JOINED, time(8), UTC)
    history = PairHistory(first_seen=seen)  # never meets, never replies
    records = simulate(program(), lambda day: [the_pair] if day >= JOINED else [],
                       lambda day: {"p1": history}, first=JOINED)
    intros = [r.email for r in records if r.email.kind is Kind.INTRO]
    assert {i.due_at.date() for i in intros} == {JOINED}
    assert {i.status for i in intros} == {OutboxStatus.PENDING}
    assert all(i.context == {"joining": True, "joined_month": 4} for i in intros)
    mentee = the_pair.mentee.email
    assert local_days(records, Kind.TOPIC, mentee) == [date(2025, m, 15) for m in range(5, 9)]
    assert local_days(records, Kind.MIDPOINT, mentee) == [date(2025, 5, 22)]
    assert local_days(records, Kind.FIRST_CONTACT, the_pair.mentor.email) == []
    assert local_days(records, Kind.NUDGE, mentee) == [JOINED + timedelta(days=42)]
    assert local_days(records, Kind.ESCALATION, LIAISON) == [JOINED + timedelta(days=56)]
    assert not [r for r in records if r.email.status is OutboxStatus.SKIPPED]


@pytest.mark.parametrize(("day", "month"), [
    (START, 1), (date(2025, 2, 14), 1), (date(2025, 2, 15), 2), (JOINED, 4),
    (date(2025, 10, 14), 9), (date(2026, 3, 1), 9)])
def test_the_month_of_a_day(day: date, month: int) -> None:
    assert schedule.month_of(START, 9, day) == month


# --- digest_when --------------------------------------------------------------------------------

WELCOMED = datetime.combine(START, time(9), ZoneInfo(LONDON))


def digest_state(prog: Program, events: Sequence[Event] = (),
                 escalations: Sequence[Escalation] = (), welcomed: bool = True,
                 ) -> ProgramState:
    outbox = []
    if welcomed:
        key = keys.outbox_key("-", Kind.LIAISON_WELCOME, START.isoformat(), LIAISON)
        outbox.append(OutboxEntry(key, "-", LIAISON, "liaison", Kind.LIAISON_WELCOME,
                                  START.isoformat(), WELCOMED, "<w@x>", OutboxStatus.SENT))
    return ProgramState(prog, WELCOMED, {"p1": PairRecord(pair())}, {"p1": list(events)},
                        list(escalations), outbox, [])


def weekly_digests(state: ProgramState, last: date) -> dict[tuple[str, date], str]:
    """Each Monday's digest for the liaison and the coordinator: "sent" or the skip reason.
    Each day's pass knows the events and escalations (and resolutions) up to then."""
    got: dict[tuple[str, date], str] = {}
    events, escalations = state.events_by_pair["p1"], list(state.escalations)
    outbox = list(state.outbox)
    day = START
    while day <= last:
        now = datetime.combine(day, TICK, UTC)
        known = [replace(e, resolved_at=e.resolved_at if e.resolved_at and
                         e.resolved_at <= now else None)
                 for e in escalations if e.opened_at <= now]
        today = ProgramState(state.program, now, state.pairs,
                             {"p1": [e for e in events if e.time <= now]}, known, outbox,
                             list(state.quarantined))
        due = digests_due(state.program, [pair().liaison], now, {e.key for e in outbox})
        for d in decide_digests(today, due):
            entry = d.to_outbox_entry("lib.org")
            if d.status is OutboxStatus.PENDING:
                entry = replace(entry, status=OutboxStatus.SENT)
            outbox.append(entry)
            got[(d.person, d.due_at.date())] = d.reason or "sent"
        day += timedelta(days=1)
    return got


def sent_on(got: dict[tuple[str, date], str], person: str) -> list[date]:
    return sorted(day for (who, day), reason in got.items() if who == person and reason == "sent")


MONDAYS = [date(2025, 1, 20) + timedelta(weeks=n) for n in range(8)]  # to 10 March


def test_digest_when_always_sends_every_week_once_the_first_month_has_ended() -> None:
    got = weekly_digests(digest_state(program(digest_always=True)), MONDAYS[-1])
    assert sent_on(got, LIAISON) == [d for d in MONDAYS if d >= date(2025, 2, 15)]
    assert sent_on(got, "coord@lib.org") == MONDAYS
    assert got[(LIAISON, MONDAYS[0])] == (
        "nothing needs attention before the first month of the liaison's pairs ends")


def test_digest_when_attention_sends_nothing_to_a_program_where_nothing_happens() -> None:
    got = weekly_digests(digest_state(program()), MONDAYS[-1])
    assert sent_on(got, LIAISON) == sent_on(got, "coord@lib.org") == []
    assert set(got) == {(who, day) for who in (LIAISON, "coord@lib.org") for day in MONDAYS}
    assert got[(LIAISON, MONDAYS[-1])] == got[("coord@lib.org", MONDAYS[-1])] == (
        "nothing new since the last digest and nothing open (digest_when = attention)")


def test_digest_when_attention_sends_once_per_news_and_while_an_escalation_is_open() -> None:
    bounce = Event(datetime(2025, 2, 19, 12, tzinfo=UTC), "p1", pair().mentee.email, "mentee",
                   EventType.BOUNCE)
    ending = Event(datetime(2025, 3, 5, 12, tzinfo=UTC), "p1", pair().mentee.email, "mentee",
                   EventType.END_REQUEST)
    helped = Escalation("e1", "p1", LIAISON, EscalationReason.HELP, "",
                        datetime(2025, 1, 22, 12, tzinfo=UTC),
                        resolved_at=datetime(2025, 2, 5, 12, tzinfo=UTC))
    got = weekly_digests(digest_state(program(), [bounce, ending], [helped]), MONDAYS[-1])
    # open on 27 Jan and 3 Feb (even in the liaison's first month, which runs to 15 Feb);
    # resolved on 5 Feb: news on 10 Feb for the coordinator, on 17 Feb for the liaison;
    # the bounce on 24 Feb; the end request on 10 March; nothing new on 3 March
    assert sent_on(got, LIAISON) == [date(2025, 1, 27), date(2025, 2, 3), date(2025, 2, 17),
                                     date(2025, 2, 24), date(2025, 3, 10)]
    assert sent_on(got, "coord@lib.org") == [date(2025, 1, 27), date(2025, 2, 3),
                                             date(2025, 2, 10), date(2025, 2, 24),
                                             date(2025, 3, 10)]


def test_no_digest_reaches_a_liaison_before_their_welcome() -> None:
    helped = Escalation("e1", "p1", LIAISON, EscalationReason.HELP, "",
                        datetime(2025, 1, 16, 12, tzinfo=UTC))
    got = weekly_digests(digest_state(program(), [], [helped], welcomed=False), MONDAYS[1])
    assert got[(LIAISON, MONDAYS[0])] == "the liaison's welcome has not gone out yet"
    assert sent_on(got, "coord@lib.org") == MONDAYS[:2]


def test_a_quarantined_reply_is_news_for_the_coordinators_once() -> None:
    state = digest_state(program())
    state = ProgramState(state.program, state.now, state.pairs, state.events_by_pair, [],
                         list(state.outbox),
                         [{"id": "<q@x>", "outcome": "quarantined",
                           "at": datetime(2025, 1, 22, 12, tzinfo=UTC).isoformat()}])
    got = weekly_digests(state, MONDAYS[2])
    assert sent_on(got, "coord@lib.org") == [date(2025, 1, 27)]
    assert sent_on(got, LIAISON) == []


def test_a_pair_gone_quiet_is_news_for_the_next_digest_only() -> None:
    """A nudge (the pair went quiet) is news for the next digest only."""
    state = digest_state(program())
    nudge = OutboxEntry("p1/nudge/q/x", "p1", pair().mentor.email, "mentor", Kind.NUDGE, "q",
                        datetime(2025, 2, 26, 9, tzinfo=ZoneInfo(LONDON)), "<n@x>",
                        OutboxStatus.SENT)
    state = ProgramState(state.program, state.now, state.pairs, state.events_by_pair, [],
                         [*state.outbox, nudge], [])
    got = weekly_digests(state, MONDAYS[-1])
    assert sent_on(got, LIAISON) == sent_on(got, "coord@lib.org") == [date(2025, 3, 3)]


def test_a_low_rating_reaches_the_liaison_even_in_the_first_month() -> None:
    low = Event(datetime(2025, 1, 22, 12, tzinfo=UTC), "p1", pair().mentee.email, "mentee",
                EventType.RATING, value="2")
    fine = Event(datetime(2025, 1, 29, 12, tzinfo=UTC), "p1", pair().mentor.email, "mentor",
                 EventType.RATING, value="4")
    got = weekly_digests(digest_state(program(), [low, fine]), MONDAYS[3])
    assert sent_on(got, LIAISON) == [date(2025, 1, 27)]  # not for the 4, nor again
