"""What a reply's keywords do (pure): events, escalations, acks; table-driven where it can be."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from mailflow.domain.effects import Outcome, Reply, decide
from mailflow.domain.history import build_history
from mailflow.domain.keywords import parse_keywords
from mailflow.domain.ledger import goals, in_force, low_ratings, named
from mailflow.domain.model import (
    Escalation,
    EscalationReason,
    Event,
    EventType,
    Kind,
    OutboxEntry,
    Pair,
    PairState,
    Person,
    Role,
)

T = datetime(2026, 10, 10, 9, 0, tzinfo=UTC)
MENTOR = Person("Ana Ruiz", "ana@lib.example", Role.MENTOR)
MENTEE = Person("Ben Ode", "ben@lib.example", Role.MENTEE)
LIAISON = Person("Lia Sen", "lia@lib.example", Role.LIAISON)
PAIR = Pair("P1", MENTOR, MENTEE, LIAISON)


def reply(who: Person, text: str, *, at: datetime = T, history: tuple[Event, ...] = (),
          answered: OutboxEntry | None = None, open_: tuple[Escalation, ...] = (),
          term_ended: bool = False) -> Outcome:
    commands = parse_keywords(text, reference=at.date()).commands
    message = f"<{text[:20]}-{at.isoformat()}@x>"
    return decide(Reply(PAIR, who, message, at, answered, commands, text, term_ended,
                        history=history), list(open_))


def test_resolved_on_the_only_open_escalation_says_so_and_reopens_an_ending_pair() -> None:
    request = Escalation("P1-end-1", "P1", LIAISON.email, EscalationReason.END_REQUEST, "x", T)
    out = reply(LIAISON, "RESOLVED we talked, they carry on", open_=(request,))
    assert [e.id for e in out.resolved] == ["P1-end-1"]
    assert out.recorded == ["Escalation P1-end-1 (end_request) resolved"]
    assert out.new_state == PairState.ACTIVE


# --- CONTACTED, RATING, DONE, UNDO ------------------------------------------------------

MINUTE = timedelta(minutes=1)
WEEK = timedelta(days=7)


def history_of(*replies: tuple[Person, str, datetime]) -> tuple[Event, ...]:
    """The events a series of earlier replies recorded, as the store would hand them back."""
    events: list[Event] = []
    for who, text, at in replies:
        events += reply(who, text, at=at, history=tuple(events)).events
    return tuple(events)


def test_contacted_is_the_mentors() -> None:
    out = reply(MENTOR, "CONTACTED emailed her on Monday")
    assert [(e.type, e.text) for e in out.events] == [
        (EventType.CONTACTED, "emailed her on Monday")]
    assert out.recorded == ["First contact with Ben Ode: no more reminders about it"]
    out = reply(MENTEE, "CONTACTED")
    assert out.events == []
    assert out.ignored == ["CONTACTED: first contact is recorded by the mentor"]


@pytest.mark.parametrize(("text", "value", "ignored"), [
    ("RATING 5 great", "5", ""),
    ("RATING 1", "1", ""),
    ("RATING 0", "", "RATING 0: write a number from 1 to 5 right after RATING"),
    ("RATING 6 very good", "", "RATING 6: write a number from 1 to 5 right after RATING"),
    ("RATING five", "", "RATING five: write a number from 1 to 5 right after RATING"),
    ("RATING", "", "RATING: write a number from 1 to 5 right after RATING"),
])
def test_rating_from_one_to_five(text: str, value: str, ignored: str) -> None:
    out = reply(MENTEE, text)
    if value:
        (event,) = out.events
        assert (event.type, event.value) == (EventType.RATING, value)
        assert out.ignored == []
    else:
        assert out.events == [] and out.recorded == []
        (line,) = out.ignored
        assert line.startswith(ignored + ", e.g. “RATING 4")


def test_a_low_rating_tells_the_sender_the_liaison_will_see_it() -> None:
    assert reply(MENTEE, "RATING 2 slow start").recorded == [
        "Rating: 2 of 5 (Lia Sen, your liaison, will see it)"]
    assert reply(MENTEE, "RATING 3").recorded == ["Rating: 3 of 5"]


GOALS = history_of((MENTEE, "GOAL Teach an instruction session\n\nGOAL Join a committee of the "
                    "state association\n\nGOAL Publish a paper", T - timedelta(days=20)))


@pytest.mark.parametrize(("text", "number"), [
    ("DONE 2", 2), ("done #3", 3), ("DONE 1 - taught it last week!", 1),
    ("DONE join a committee", 2), ("DONE Publish a paper", 3),
    ("DONE taught the instruction session", 1),  # most of the words
])
def test_done_by_number_or_by_words(text: str, number: int) -> None:
    out = reply(MENTOR, text, history=GOALS)
    (event,) = out.events
    assert (event.type, event.value) == (EventType.GOAL_DONE, str(number))
    (goal,) = [g for g in goals([*GOALS, event]) if g.reached]
    assert goal.number == number and out.recorded == [f"Goal {number} reached: {goal.text}"]


@pytest.mark.parametrize(("text", "why"), [
    ("DONE 4", "DONE “4”: there is no goal 4; your goals: 1. Teach an instruction session; "
     "2. Join a committee of the state association; 3. Publish a paper"),
    ("DONE learn Python", "DONE “learn Python”: no recorded goal matches; your goals: 1. "
     "Teach an instruction session; 2. Join a committee of the state association; "
     "3. Publish a paper"),
    ("DONE", "DONE without a goal: write the goal's number from the list in our emails, or "
     "its words, after DONE"),
    ("DONE a", "DONE “a”: it matches goals 2, 3: write the number of the one you reached"),
])
def test_done_of_an_unknown_goal_says_so(text: str, why: str) -> None:
    out = reply(MENTOR, text, history=GOALS)
    assert out.events == [] and out.ignored == [why]


def test_done_twice_and_done_without_goals() -> None:
    done = history_of((MENTEE, "DONE 2", T - timedelta(days=1)))
    first = reply(MENTEE, "DONE 2", history=GOALS).events
    out = reply(MENTOR, "DONE 2", history=GOALS + tuple(first))
    assert out.events == [] and out.ignored == [
        "DONE: goal 2 (“Join a committee of the state association”) is already marked reached"]
    assert done == ()  # no goals in that history: nothing recorded
    assert reply(MENTEE, "DONE 1").ignored == [
        "DONE “1”: no goals are recorded yet; reply GOAL with one first"]


@pytest.mark.parametrize(("since", "withdrawn"), [
    (WEEK - MINUTE, True), (WEEK, True), (WEEK + MINUTE, False)])
def test_undo_reaches_back_seven_days_from_the_reply(since: timedelta, withdrawn: bool) -> None:
    earlier = history_of((MENTEE, "MET 2026-10-01 coffee", T - since))
    out = reply(MENTEE, "UNDO", history=earlier)
    if withdrawn:
        (event,) = out.events
        assert (event.type, event.value, event.ref) == (
            EventType.UNDONE, "met", named(earlier)[0][0])
        assert out.recorded == ["Withdrawn: MET 2026-10-01"]
        assert in_force([*earlier, event]) == []
    else:
        assert out.events == [] and out.ignored == [
            "UNDO: there is nothing you recorded in the last 7 days to withdraw"]


def test_undo_withdraws_the_senders_latest_then_the_one_before() -> None:
    events = history_of(
        (MENTEE, "GOAL learn SQL", T - timedelta(days=3)),
        (MENTOR, "MET yesterday", T - timedelta(days=2)),  # the partner's: not the mentee's
        (MENTEE, "PAUSE until 2026-11-01\nRATING 4", T - timedelta(days=1)),
    )
    first = reply(MENTEE, "UNDO", history=events)
    assert first.recorded == ["Withdrawn: RATING 4"]
    second = reply(MENTEE, "UNDO", history=events + tuple(first.events))
    assert second.recorded == ["Withdrawn: PAUSE until 2026-11-01"]
    third = reply(MENTEE, "UNDO", history=events + tuple(first.events + second.events))
    assert third.recorded == ["Withdrawn: GOAL learn SQL"]
    left = in_force([*events, *first.events, *second.events, *third.events])
    assert [(e.person, e.type) for e in left] == [(MENTOR.email, EventType.MET)]


def test_undo_in_the_same_reply_and_of_done_and_contacted() -> None:
    assert reply(MENTEE, "MET\nUNDO").recorded == [f"Meeting on {T.date()}",
                                                   f"Withdrawn: MET {T.date()}"]
    done = reply(MENTEE, "DONE 3", history=GOALS)
    undo = reply(MENTEE, "UNDO", history=GOALS + tuple(done.events))
    assert undo.recorded == ["Withdrawn: DONE 3 (Publish a paper)"]
    assert not any(g.reached for g in goals([*GOALS, *done.events, *undo.events]))
    contacted = reply(MENTOR, "CONTACTED")
    assert reply(MENTOR, "UNDO", history=tuple(contacted.events)).recorded == [
        "Withdrawn: CONTACTED"]


@pytest.mark.parametrize(("text", "word"), [("HELP we are stuck", "HELP"), ("END", "END")])
def test_help_and_end_are_not_undone(text: str, word: str) -> None:
    events = history_of((MENTEE, "MET yesterday", T - timedelta(days=2)),
                        (MENTEE, text, T - timedelta(days=1)))
    out = reply(MENTEE, "UNDO", history=events)
    assert out.events == [] and out.ignored == [
        f"UNDO: your {word} has reached Lia Sen, your liaison, who closes it; write to them "
        "if it is no longer needed"]


def test_an_undone_met_no_longer_counts() -> None:
    events = history_of((MENTEE, "MET 2026-10-08", T - timedelta(days=2)),
                        (MENTEE, "UNDO", T - timedelta(days=1)))
    history = build_history(events, timezone="UTC")
    assert history.met_dates == ()
    assert [e.type for e in events] == [EventType.MET, EventType.UNDONE]


def test_low_ratings_since_the_last_digest_and_not_when_withdrawn() -> None:
    events = history_of((MENTEE, "RATING 2 slow", T - timedelta(days=10)),
                        (MENTOR, "RATING 1", T - timedelta(days=3)),
                        (MENTEE, "RATING 3", T - timedelta(days=2)),
                        (MENTEE, "RATING 2\nUNDO", T - timedelta(days=1)))
    assert [(e.person, e.value) for e in low_ratings(events)] == [
        (MENTEE.email, "2"), (MENTOR.email, "1")]
    assert [e.value for e in low_ratings(events, since=T - timedelta(days=3))] == []
    assert [e.value for e in low_ratings(events, since=T - timedelta(days=4))] == ["1"]


def test_what_undo_and_done_name_survives_a_purge_of_the_texts() -> None:
    events = history_of((MENTEE, "GOAL one\n\nGOAL two\n\nGOAL three", T - timedelta(days=3)),
                        (MENTEE, "DONE two", T - timedelta(days=2)),
                        (MENTEE, "GOAL four\nUNDO", T - timedelta(days=1)))
    assert [(g.text, g.reached) for g in goals(events)] == [
        ("one", False), ("two", True), ("three", False)]
    purged = [replace(e, text="(purged)") for e in events]
    assert [(g.number, g.reached) for g in goals(purged)] == [(1, False), (2, True), (3, False)]


def test_a_rating_in_answer_to_the_feedback_email_keeps_the_rest_as_feedback() -> None:
    feedback = OutboxEntry("P1/feedback/term/ben", "P1", MENTEE.email, "mentee", Kind.FEEDBACK,
                           "term", T, "<fb@x>")
    text = "RATING 5 a great year\n\nMore evening meetings next time, please."
    commands = parse_keywords(text, reference=T.date()).commands
    rest = parse_keywords(text, reference=T.date()).unrecognised
    out = decide(Reply(PAIR, MENTEE, "<r@x>", T, feedback, commands, rest, True), [])
    assert [(e.type, e.value, e.text) for e in out.events] == [
        (EventType.RATING, "5", "a great year"),
        (EventType.FEEDBACK, "", "More evening meetings next time, please.")]
    assert out.recorded == ["Rating: 5 of 5", "Your feedback, for the committee"]
    only = decide(Reply(PAIR, MENTEE, "<r2@x>", T, feedback,
                        parse_keywords("RATING 4", reference=T.date()).commands, "", True), [])
    assert [e.type for e in only.events] == [EventType.RATING]
