"""A realistic finished program in a real store, for rendering the committee's report.

Twelve pairs over a nine-month term, generated from a fixed seed: most meet most
months, some report not meeting, go silent or pause, one match ends early, and
the escalations, goals and feedback a real program collects.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from mailflow.adapters.store import TinyDBStore
from mailflow.domain.keys import outbox_key
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
from mailflow.domain.schedule import month_start
from mailflow.repository import Repository
from mailflow.services.state import ProgramState

ZONE = "America/Chicago"
START = date(2024, 9, 3)
NOW = datetime(2025, 6, 12, 9, 0, tzinfo=ZoneInfo(ZONE))
PROGRAM = Program(name="Prairie Libraries Mentoring Program 2024–25", start=START, months=9,
                  timezone=ZONE, send_time=time(9, 0), coordinators=("committee@plm.org",))

NAMES = [
    ("Margaret Okonkwo", "Daniel Reyes"), ("José Álvarez", "Priya Natarajan"),
    ("Helen Fairweather-Lindqvist", "Zoë Müller"), ("Samuel Achterberg", "Lena Kowalski"),
    ("Grace O'Neill", "Tomás Ferreira"), ("Robert Chen", "Amara Diallo"),
    ("Ingrid Solberg", "Marcus Whitfield"), ("Patricia Nakamura", "Owen <b>Brady</b>"),
    ("Fatima Haddad", "Elliot Park"), ("Catherine Dubois", "Yusuf Karimi"),
    ("William Thornton", "Sofia Lindgren"), ("Aisha Mensah", "Jonah Eckstein"),
]
LIAISONS = [("Ruth Abernathy", "ruth@plm.org"), ("Kenji Watanabe", "kenji@plm.org"),
            ("Olivia Brandt", "olivia@plm.org")]
GOALS = [
    "Present a poster at the state library conference",
    "Lead a storytime session for toddlers on my own",
    "Learn the basics of grant writing & submit one small grant",
    "Get comfortable with the ILS cataloguing module",
    "Shadow a branch manager for a day",
    "Build a community partnership with the local school district",
    "Publish a short article in the association newsletter",
]
FEEDBACK = [
    "The monthly topic emails gave us something concrete to talk about. I would keep them.",
    "Nine months felt right. I'd like a mid-point check-in with the liaison next time.",
    "Replying with one word was easy. A reminder before the final meeting would help.",
    "My mentor helped me prepare for an interview — I got the job! Thank you.",
    "Hard to find time in December; maybe skip the holiday month.",
    "More guidance on setting goals in the first month, please.",
    "See https://example.org/ideas for the survey we ran <script>alert(1)</script>",
]


def _person(name: str, role: Role, i: int) -> Person:
    slug = "".join(c for c in name.lower() if c.isascii() and c.isalpha())[:12]
    return Person(name, f"{slug}{i}@{role}.example.org", role)


def _pairs() -> list[Pair]:
    return [
        Pair(f"P{i + 1:02d}", _person(mentor, Role.MENTOR, i), _person(mentee, Role.MENTEE, i),
             Person(*LIAISONS[i % 3], Role.LIAISON))
        for i, (mentor, mentee) in enumerate(NAMES)
    ]


def _at(day: date, hour: int = 18) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=ZoneInfo(ZONE))


def _month_events(rng: random.Random, pair: Pair, m: int, engagement: float) -> list[Event]:
    first = month_start(START, m)
    day = first + timedelta(days=rng.randrange(3, 25))
    who = rng.choice(pair.participants)
    roll = rng.random()
    if roll < engagement:
        events = [Event(_at(day), pair.pair_id, who.email, str(who.role), EventType.MET, day,
                        "Talked about career paths and my first-year review")]
        if rng.random() < 0.2:
            later = day + timedelta(days=3)
            events.append(Event(_at(later), pair.pair_id, who.email, str(who.role),
                                EventType.MET, later))
        return events
    if roll < engagement + 0.1:
        return [Event(_at(day), pair.pair_id, who.email, str(who.role), EventType.NOT_MET,
                      None, "Both of us were at the conference")]
    return []


def _outcomes(repo: Repository, pairs: list[Pair], n: int) -> int:
    """Ratings at mid-term (one low), reached goals, and a mentor reminded to make first
    contact whose liaison was told."""
    for i, pair in enumerate(pairs):
        who = pair.participants[i % 2]
        n += 1
        repo.add_event(f"e{n}", Event(_at(date(2025, 1, 8 + i % 5)), pair.pair_id, who.email,
                                      str(who.role), EventType.RATING, None, "",
                                      f"<rating-{i}@lib.example>",
                                      "2" if i == 5 else str(5 - i % 4)))
    for i in (0, 1, 4):
        pair, day = pairs[i], START + timedelta(days=10)
        n += 1
        repo.add_event(f"e{n}", Event(_at(date(2025, 4, 2)), pair.pair_id, pair.mentee.email,
                                      "mentee", EventType.GOAL_DONE, None, "", f"<done-{i}@x>",
                                      "1", f"#goal#{_at(day).isoformat()}#0"))
    p12 = next(p for p in pairs if p.pair_id == "P12")
    key = outbox_key("P12", Kind.FIRST_CONTACT, "m1", p12.mentor.email)
    repo.put_outbox(OutboxEntry(key, "P12", p12.mentor.email, "mentor", Kind.FIRST_CONTACT,
                                "m1", _at(START + timedelta(days=14), 9), "<fc@lib.example>",
                                OutboxStatus.SENT))
    repo.put_escalation(Escalation("x-nc", "P12", p12.liaison.email,
                                   EscalationReason.NO_CONTACT, "",
                                   _at(START + timedelta(days=21), 9),
                                   _at(START + timedelta(days=23))))
    return n


def realistic_state(folder: Path) -> ProgramState:
    """Fill a store under `folder` and read it back, as `mailflow report` would."""
    rng = random.Random(20250612)
    repo = Repository(TinyDBStore(folder / "mailflow.json"))
    try:
        pairs = _pairs()
        repo.import_pairs(pairs)
        n = 0
        with repo.transaction():
            for i, pair in enumerate(pairs):
                engagement = (0.95, 0.85, 0.7, 0.5)[i % 4]
                last = 5 if i == 6 else 9  # P07 ends early
                for m in range(1, last + 1):
                    if i == 3 and m in (4, 5):
                        continue  # paused below
                    for event in _month_events(rng, pair, m, engagement):
                        n += 1
                        repo.add_event(f"e{n}", event)
                for k, goal in enumerate(rng.sample(GOALS, 1 + i % 3)):
                    n += 1
                    day = START + timedelta(days=10 + 20 * k)
                    repo.add_event(f"e{n}", Event(_at(day), pair.pair_id, pair.mentee.email,
                                                  "mentee", EventType.GOAL, None, goal))
                if i != 6 and i % 5 != 4:
                    who = pair.participants[i % 2]
                    n += 1
                    repo.add_event(f"e{n}", Event(_at(date(2025, 6, 4 + i % 5)), pair.pair_id,
                                                  who.email, str(who.role), EventType.FEEDBACK,
                                                  None, FEEDBACK[i * 3 % len(FEEDBACK)]))
            p4 = pairs[3]
            n += 1
            repo.add_event(f"e{n}", Event(_at(date(2024, 11, 28)), p4.pair_id, p4.mentee.email,
                                          "mentee", EventType.PAUSE, date(2025, 2, 10),
                                          "family leave"))
            n = _outcomes(repo, pairs, n)
            ended = repo.pair("P07")
            assert ended is not None
            repo.put_pair(replace(ended, state=PairState.ENDED, state_since=_at(date(2025, 2, 20))))
            for j, (pid, reason, opened, resolved) in enumerate([
                ("P04", EscalationReason.QUIET, date(2024, 11, 1), date(2024, 11, 8)),
                ("P07", EscalationReason.HELP, date(2024, 12, 9), date(2024, 12, 11)),
                ("P07", EscalationReason.END_REQUEST, date(2025, 2, 3), date(2025, 2, 20)),
                ("P12", EscalationReason.QUIET, date(2025, 1, 28), date(2025, 2, 14)),
                ("P08", EscalationReason.BOUNCE, date(2025, 3, 17), None),
                ("P12", EscalationReason.HELP, date(2025, 5, 26), None),
            ]):
                liaison = next(p for p in pairs if p.pair_id == pid).liaison.email
                repo.put_escalation(Escalation(
                    f"x{j}", pid, liaison, reason, "private text for the liaison", _at(opened, 10),
                    _at(resolved, 15) if resolved else None))
        return ProgramState.load(repo, PROGRAM, NOW)
    finally:
        repo.close()
