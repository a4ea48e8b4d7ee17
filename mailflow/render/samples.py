"""Sample render contexts, one list per template, mirroring docs/templates.md.

``mailflow templates check`` renders every template against each of these, so
between them they take every branch: a missing topic, no goals yet, no
meeting recorded, a liaison's and a coordinator's digest, each escalation
reason, a failure alert and its recovery.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time

from mailflow.domain.ledger import GoalStatus
from mailflow.domain.model import Pair, Person, Program, Role, Topic
from mailflow.render.context import (
    Context,
    base_context,
    pair_email_context,
    person_context,
)

SENT_ON = date(2026, 12, 1)
TOPIC_BODY = """Reflect together on how the first months have gone.

- Which parts of the job already feel familiar, and which still surprise you?
- Who else in the library could you learn from?

Resource: *ACRL Framework for Information Literacy for Higher Education*
(<https://www.ala.org/acrl/standards/ilframework>)."""

PROGRAM = Program(
    name="New Librarians Mentoring Program 2026–27",
    start=date(2026, 9, 1),
    months=9,
    timezone="America/Chicago",
    send_time=time(9, 0),
    coordinators=("mentoring-committee@example.org",),
    topics=(
        Topic(1, "Getting to know each other: goals and expectations", TOPIC_BODY),
        Topic(4, "Service and committee work", TOPIC_BODY),
        Topic(9, "Planning beyond the mentorship", TOPIC_BODY),
    ),
)
MENTOR = Person("Zoë Ñúñez", "zoe.nunez@example.edu", Role.MENTOR)
MENTEE = Person("Marcus O'Brien", "marcus.obrien@example.org", Role.MENTEE)
LIAISON = Person("Dr. Priya Raman", "priya.raman@example.net", Role.LIAISON)
COORDINATOR = Person("", "mentoring-committee@example.org", Role.COORDINATOR)
PAIR = Pair("P07", MENTOR, MENTEE, LIAISON)
OTHER = Pair(
    "P12",
    Person("Helen Park", "hpark@example.edu", Role.MENTOR),
    Person("Tomás Álvarez", "talvarez@example.org", Role.MENTEE),
    LIAISON,
    start=date(2026, 10, 1),
)
GOALS = [
    GoalStatus(1, "Lead an information literacy session for first-year students"),
    GoalStatus(2, "Join a committee of the state library association", reached=True,
               reached_at=datetime(2026, 11, 20, 18, 0, tzinfo=UTC)),
]
OPENED = datetime(2026, 11, 28, 14, 5, tzinfo=UTC)


def _topic(month: int) -> Context | None:
    topic = PROGRAM.topic_for(month)
    return None if topic is None else {"month": month, "title": topic.title, "body": topic.body}


def _pair_mail(kind: str, who: Person, *, month: int = 4, goals: list[GoalStatus] | None = None,
               term_ended: bool = False) -> Context:
    return pair_email_context(PROGRAM, PAIR, who, SENT_ON, kind, month=month,
                              goals=GOALS if goals is None else goals, term_ended=term_ended)


def _intro(who: Person) -> list[Context]:
    return [
        {**_pair_mail("intro", who, month=1, goals=[]), "topic": _topic(1), "joining": False},
        {**_pair_mail("intro", who, month=1, goals=[]), "topic": None, "joining": False},
        # a pair that joins mid-term (SPEC 2): month 4 of 9, with and without a topic
        {**_pair_mail("intro", who, month=4, goals=[]), "topic": _topic(4), "joining": True},
        {**_pair_mail("intro", who, month=5, goals=[]), "topic": None, "joining": True},
    ]


def _first_contact() -> list[Context]:
    return [_pair_mail("first_contact", MENTOR, month=1, goals=[])]


def _midpoint() -> list[Context]:
    return [_pair_mail("midpoint", MENTOR, month=5),
            _pair_mail("midpoint", MENTEE, month=5, goals=[])]


def _feedback_reminder() -> list[Context]:
    return [_pair_mail("feedback", p, month=9, term_ended=True) for p in (MENTOR, MENTEE)]


def _closing(who: Person) -> list[Context]:
    return [
        {**_pair_mail("closing", who, month=9), "topic": _topic(9)},
        {**_pair_mail("closing", who, month=9, goals=[]), "topic": None},
    ]


def _topic_samples() -> list[Context]:
    return [
        {**_pair_mail("topic", MENTEE), "topic": _topic(4)},
        {**_pair_mail("topic", MENTOR, goals=[]), "topic": _topic(4)},
    ]


def _nudge() -> list[Context]:
    return [
        {**_pair_mail("nudge", MENTOR), "quiet_days": 43, "last_met": date(2026, 10, 19)},
        {**_pair_mail("nudge", MENTEE, goals=[]), "quiet_days": 42, "last_met": None},
    ]


def _feedback() -> list[Context]:
    return [_pair_mail("feedback", p, month=9, term_ended=True) for p in (MENTOR, MENTEE)]


def _letter() -> list[Context]:
    return [_pair_mail("letter", MENTOR, month=9, term_ended=True)]


def _ack() -> list[Context]:
    return [
        {**_pair_mail("ack", MENTEE), "recorded": ["Meeting on 3 December 2026",
                                                  "Goal: Join a committee"],
         "ignored": ["“MEET 12/40”: not a keyword we know"],
         "read_lines": ["MET 3 December, coffee at the branch", "GOAL Join a committee"]},
        {**_pair_mail("ack", MENTOR), "recorded": ["Note kept for your pair"], "ignored": [],
         "read_lines": []},
        {**_pair_mail("ack", LIAISON), "recorded": ["Escalation E-3 resolved"], "ignored": [],
         "read_lines": ["RESOLVED we talked on the phone"]},
        {**_pair_mail("ack", MENTOR, month=9, term_ended=True), "recorded": [], "ignored": [],
         "read_lines": []},
        # a liaison's reply outside any pair's thread: no pair, no partner
        {**base_context(PROGRAM, LIAISON, SENT_ON, "ack"), "recorded": [],
         "ignored": ["RESOLVED: this reply does not answer an escalation email"],
         "read_lines": ["RESOLVED"]},
    ]


def _escalation() -> list[Context]:
    reporter = {**person_context(MENTEE), "role": "mentee"}
    base = _pair_mail("escalation", LIAISON)
    help_text = "We keep rescheduling.\nCould you suggest how to get back on track?"
    return [
        {**base, "escalation": {"id": "E-3", "reason": "help", "text": help_text,
                                "opened_at": OPENED}, "reporter": reporter, "quiet_days": None},
        {**base, "escalation": {"id": "E-4", "reason": "end_request", "text": "",
                                "opened_at": OPENED}, "reporter": reporter, "quiet_days": None},
        {**base, "escalation": {"id": "E-5", "reason": "bounce",
                                "text": "550 5.1.1 marcus.obrien@example.org: user unknown",
                                "opened_at": OPENED}, "reporter": None, "quiet_days": None},
        {**base, "escalation": {"id": "E-6", "reason": "quiet", "text": "",
                                "opened_at": OPENED}, "reporter": None, "quiet_days": 57},
        {**base, "escalation": {"id": "E-7", "reason": "no_contact", "text": "",
                                "opened_at": OPENED}, "reporter": None, "quiet_days": None},
    ]


def _rows() -> list[Context]:
    return [
        {"pair_id": "P07", "mentor": person_context(MENTOR), "mentee": person_context(MENTEE),
         "liaison": person_context(LIAISON), "state": "active", "last_met": None,
         "quiet_days": 61,
         "open_escalations": [{"reason": "help", "text": "We keep rescheduling.",
                               "opened_at": OPENED}],
         "bounces": ["marcus.obrien@example.org"],
         "paused": [{"name": MENTEE.name, "until": date(2027, 1, 15)}],
         "goals_count": 2, "goals_reached": 1, "notes": ["Talked about the annual review"],
         "low_ratings": [{"value": 2, "name": MENTEE.name, "role": "mentee", "at": OPENED,
                          "text": "We keep missing each other."}]},
        {"pair_id": "P12", "mentor": person_context(OTHER.mentor),
         "mentee": person_context(OTHER.mentee), "liaison": person_context(LIAISON),
         "state": "active", "last_met": date(2026, 11, 20), "quiet_days": 11,
         "open_escalations": [{"reason": "no_contact", "text": "", "opened_at": OPENED}],
         "bounces": [], "paused": [], "goals_count": 0,
         "goals_reached": 0, "notes": [], "low_ratings": []},
    ]


def _digest(coordinator: bool) -> list[Context]:
    who = COORDINATOR if coordinator else LIAISON
    base = base_context(PROGRAM, who, SENT_ON, "digest")
    full = {
        **base, "is_coordinator": coordinator, "rows": _rows(),
        "failures": [], "quarantined": [], "counts": {},
    }
    if coordinator:
        full["failures"] = [{"key": "P12/topic/3/talvarez@example.org",
                             "person": "talvarez@example.org", "kind": "topic",
                             "error": "550 mailbox unavailable"}]
        full["quarantined"] = [
            {"from": "stranger@example.com", "subject": "Re: Month 3", "reason": "unknown sender",
             "received_at": OPENED, "message_id": "<abc@example.com>", "likely": None},
            {"from": "tam.alvarez@gmail.example", "subject": "Re: Welcome",
             "reason": "unknown sender", "received_at": OPENED,
             "message_id": "<def@gmail.example>",
             "likely": {"name": "Tam Alvarez", "email": "talvarez@example.org",
                        "pair_ids": ["P12"]}},
        ]
        full["counts"] = {"active": 2, "paused": 0, "ending": 0, "ended": 0, "completed": 0}
    empty = {**base, "is_coordinator": coordinator, "rows": [], "failures": [],
             "quarantined": [], "counts": {}}
    return [full, empty]


def _liaison_welcome() -> list[Context]:
    pairs = [
        {"pair_id": p.pair_id, "mentor": person_context(p.mentor),
         "mentee": person_context(p.mentee), "start": p.start_date(PROGRAM)}
        for p in (PAIR, OTHER)
    ]
    return [{**base_context(PROGRAM, LIAISON, PROGRAM.start, "liaison_welcome"), "pairs": pairs}]


def _alert() -> list[Context]:
    base = base_context(PROGRAM, COORDINATOR, SENT_ON, "alert")
    return [
        {**base, "problem": "2 emails could not be sent in the send pass", "since": OPENED,
         "recovered": False,
         "details": ["P12/topic/3/talvarez@example.org: 550 mailbox unavailable"]},
        {**base, "problem": "Polling the mailbox failed", "since": None, "recovered": False,
         "details": []},
        {**base, "problem": "Polling the mailbox failed", "since": OPENED, "recovered": True,
         "details": []},
    ]


def _login() -> list[Context]:
    return [
        {**base_context(PROGRAM, who, SENT_ON, "login"),
         "link": "https://mentoring.example.org/login/3f9a0c5e1d2b4a6f8e7d9c0b1a2f3e4d",
         "valid_minutes": 15, "expires_at": OPENED}
        for who in (LIAISON, COORDINATOR)
    ]


SAMPLES: dict[str, Callable[[], list[Context]]] = {
    "intro_mentor": lambda: _intro(MENTOR),
    "intro_mentee": lambda: _intro(MENTEE),
    "topic": _topic_samples,
    "nudge": _nudge,
    "closing_mentor": lambda: _closing(MENTOR),
    "closing_mentee": lambda: _closing(MENTEE),
    "feedback": _feedback,
    "letter": _letter,
    "ack": _ack,
    "escalation": _escalation,
    "digest": lambda: _digest(False),
    "digest_coordinator": lambda: _digest(True),
    "liaison_welcome": _liaison_welcome,
    "alert": _alert,
    "login": _login,
    "first_contact": _first_contact,
    "midpoint": _midpoint,
    "feedback_reminder": _feedback_reminder,
}


def sample_contexts(name: str) -> list[Context]:
    """Contexts that exercise every branch of template ``name`` (see docs/templates.md)."""
    return [dict(ctx) for ctx in SAMPLES[name]()]
